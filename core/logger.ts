import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Paths that must never reach a log line. Airtable tokens arrive in request bodies and headers;
 * the API's own tokens in Authorization headers and auth bodies.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-goog-api-key"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.apiKey',
  'airtable.token',
  '*.airtable.token',
];

/** One JSON logger per process; components take children of it so lines carry their origin. */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino({
    name: options.name ?? 'airtable-ops',
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  });
}

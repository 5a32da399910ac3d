import pino, { type DestinationStream, type Logger } from 'pino';
import { currentLogContext } from './log-context';

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
  // Secrets by name, at the top of a line's object and one or two levels down.
  ...['password', 'token', 'accessToken', 'refreshToken', 'apiKey', 'secret', 'codecToken'].flatMap((key) => [
    key,
    `*.${key}`,
    `*.*.${key}`,
  ]),
  '*.headers.authorization',
  '*.headers.cookie',
];

/** One JSON logger per process; components take children of it so lines carry their origin. */
export function createLogger(
  options: { level?: string; name?: string; destination?: DestinationStream } = {},
): Logger {
  const settings = {
    name: options.name ?? 'airtable-ops',
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    // The request id, workflow and activity ids of the work under way (core/log-context.ts).
    mixin: () => currentLogContext(),
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}

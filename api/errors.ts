import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';
import { ServiceError } from '../core/errors';

export { notFound, ServiceError, unauthorized } from '../core/errors';

/** Parses `value` with `schema`, or answers 400 naming every offending field. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what = 'request body',
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ServiceError(
    400,
    'validation_failed',
    `Invalid ${what}`,
    result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
  );
}

/** Unknown routes get JSON too, never Express's HTML page. */
export const unknownRoute: RequestHandler = (req, _res, next) => {
  next(new ServiceError(404, 'route_not_found', `No route for ${req.method} ${req.path}`));
};

/**
 * The last middleware: every error becomes the JSON error shape. Body-parser errors (malformed
 * JSON, oversized or wrongly typed bodies) and Express's own 4xx errors (a path parameter that does
 * not decode) keep their 4xx status; anything unexpected is a 500 whose details stay in the log,
 * never in the answer.
 */
export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  if (res.headersSent) return;
  let status = 500;
  let body: { code: string; message: string; details?: unknown };
  if (err instanceof ServiceError) {
    status = err.status;
    body = {
      code: err.code,
      message: err.message,
      ...(err.details === undefined ? {} : { details: err.details }),
    };
  } else if (typeof err?.type === 'string' && typeof err?.status === 'number' && err.status < 500) {
    status = err.status;
    const codes: Record<string, [string, string]> = {
      'entity.parse.failed': ['invalid_json', 'The request body is not valid JSON'],
      'entity.too.large': ['payload_too_large', 'The request body is too large'],
      'encoding.unsupported': ['unsupported_encoding', 'The request body encoding is not supported'],
      'charset.unsupported': ['unsupported_charset', 'The request body charset is not supported'],
    };
    const [code, message] = codes[err.type] ?? ['bad_request', 'The request body could not be read'];
    body = { code, message };
  } else if (isClientError(err)) {
    // Express's own refusals, e.g. a route parameter that is not valid percent-encoded UTF-8.
    status = err.status;
    body =
      err instanceof URIError
        ? { code: 'invalid_path', message: 'The request path is not valid percent-encoded UTF-8' }
        : { code: 'bad_request', message: 'The request could not be processed' };
  } else {
    req.log?.error({ err }, 'unhandled error');
    body = { code: 'internal_error', message: 'Something went wrong on our side' };
  }
  res.status(status).json({ error: body });
};

/** An http-errors style error that blames the request (`status` 4xx), like the router's URIError. */
function isClientError(err: unknown): err is Error & { status: number } {
  const status = (err as { status?: unknown } | null)?.status;
  return err instanceof Error && typeof status === 'number' && status >= 400 && status < 500;
}

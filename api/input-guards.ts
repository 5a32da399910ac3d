import express, { type RequestHandler } from 'express';
import { ServiceError } from '../core/errors';

/**
 * Guards that refuse malformed input before any route sees it, so it can never reach Postgres,
 * Temporal or Airtable and come back as a 500:
 *
 * - a path that is not valid percent-encoded UTF-8 (`/jobs/%E0%A4%A`, `/workspaces/%ZZ/changes`):
 *   400 `invalid_path`;
 * - U+0000 anywhere in the decoded path, the query or the JSON body (any string at any depth, keys
 *   included): 400 `validation_failed`, because Postgres refuses NUL in `text` and `jsonb`;
 * - an unpaired UTF-16 surrogate (`"\ud800"`, which JSON allows) in the query or the JSON body: 400
 *   `validation_failed`, because it is no Unicode text: `jsonb` refuses it, UTF-8 cannot hold it;
 * - a body whose Content-Encoding (gzip, deflate, br) does not match its bytes: 400
 *   `invalid_body_encoding`.
 */

const NUL = '\u0000';
const NUL_MESSAGE = 'NUL characters (U+0000) are not allowed';
const SURROGATE_MESSAGE = 'Unpaired UTF-16 surrogates (U+D800 to U+DFFF) are not allowed';

type Location = 'path' | 'query' | 'body';

/** `String.prototype.isWellFormed` (Node 20; the ES2022 lib does not declare it): no unpaired surrogate. */
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/** Why Postgres could not store `s` as text, or undefined when it can. */
function badText(s: string): string | undefined {
  if (s.includes(NUL)) return NUL_MESSAGE;
  if (!isWellFormed(s)) return SURROGATE_MESSAGE;
  return undefined;
}

function refusal(where: Location, found: { path: Array<string | number>; message: string }): ServiceError {
  return new ServiceError(400, 'validation_failed', `Invalid request ${where}: ${found.message}`, [
    { in: where, path: found.path.join('.'), message: found.message },
  ]);
}

/**
 * Refuses a path that does not decode, or that decodes to a NUL (a decoded path never holds an
 * unpaired surrogate: decodeURIComponent refuses those). Mount before the routes and body parsers.
 */
export const guardPath: RequestHandler = (req, _res, next) => {
  const path = req.path;
  if (!path.includes('%')) return next();
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return next(new ServiceError(400, 'invalid_path', 'The request path is not valid percent-encoded UTF-8'));
  }
  if (decoded.includes(NUL)) return next(refusal('path', { path: [], message: NUL_MESSAGE }));
  next();
};

/**
 * Refuses a query or a parsed body holding text Postgres cannot store (a NUL, an unpaired
 * surrogate). Mount after the body parsers, before the routes.
 */
export const refuseUnstorableText: RequestHandler = (req, _res, next) => {
  if (req.url.includes('?')) {
    const found = findBadText(req.query);
    if (found) return next(refusal('query', found));
  }
  if (req.body !== undefined) {
    const found = findBadText(req.body);
    if (found) return next(refusal('body', found));
  }
  next();
};

/**
 * The first string or key in `value` that Postgres could not store, with the keys leading to it, or
 * undefined. One iterative pass over whatever JSON.parse built, so deep nesting cannot overflow the
 * stack and a 16 MB change set costs one walk of its strings; the path is only worked out (in a
 * second walk) when something was found.
 */
export function findBadText(value: unknown): { path: Array<string | number>; message: string } | undefined {
  if (!hasBadText(value)) return undefined;
  const stack: Array<{ value: unknown; path: Array<string | number> }> = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: v, path } = stack.pop()!;
    if (typeof v === 'string') {
      const message = badText(v);
      if (message) return { path, message };
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], path: [...path, i] });
    } else if (v !== null && typeof v === 'object') {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i]!;
        const message = badText(key);
        if (message) return { path: [...path, key], message };
        stack.push({ value: (v as Record<string, unknown>)[key], path: [...path, key] });
      }
    }
  }
  return undefined;
}

/** Whether any string or key in `value` is text Postgres cannot store: the cheap walk every request gets. */
function hasBadText(value: unknown): boolean {
  if (typeof value === 'string') return badText(value) !== undefined;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      for (const item of v) {
        if (typeof item === 'string') {
          if (badText(item)) return true;
        } else if (item !== null && typeof item === 'object') stack.push(item);
      }
    } else if (v !== null && typeof v === 'object') {
      for (const key of Object.keys(v)) {
        if (badText(key)) return true;
        const item = (v as Record<string, unknown>)[key];
        if (typeof item === 'string') {
          if (badText(item)) return true;
        } else if (item !== null && typeof item === 'object') stack.push(item);
      }
    }
  }
  return false;
}

/**
 * `express.json`, whose failures to decompress a body (Content-Encoding gzip, deflate or br over
 * bytes that are not) become a 400 instead of an error without a type. Its other errors (malformed
 * JSON, too large, unsupported encoding or charset) carry a type the error handler names.
 */
export function jsonBody(limit: string): RequestHandler {
  const parse = express.json({ limit });
  return (req, res, next) =>
    parse(req, res, (err?: unknown) => {
      const e = err as { type?: unknown; status?: unknown } | undefined;
      if (e && e.type === undefined && typeof e.status === 'number' && e.status < 500)
        return next(
          new ServiceError(
            400,
            'invalid_body_encoding',
            'The request body could not be decoded as its Content-Encoding says',
          ),
        );
      next(err);
    });
}

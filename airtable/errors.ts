import { ApplicationFailure } from '@temporalio/common';
import { FailureType, platformFailure, type AirtableFailureDetails } from '../core/failures';

/** An answer from Airtable that was not a success, with its status and Airtable's error type. */
export class AirtableApiError extends Error {
  override name = 'AirtableApiError';
  constructor(
    readonly status: number,
    /** Airtable's `error.type` (or the bare `error` string of record 404s); `undefined` for network errors. */
    readonly type: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** Airtable asks callers to wait this long after a 429 before anything succeeds again. */
export const RATE_LIMIT_PENALTY = '30s';

/**
 * Turns an Airtable error into a Temporal failure with the right retry behaviour:
 * - 401/403/404/413/422 and other 4xx: the request itself is wrong, so retrying cannot help;
 * - 429: retryable, but never sooner than Airtable's 30 s penalty;
 * - 5xx, timeouts, resets: retryable with the activity's backoff.
 * The message carries Airtable's own type and text, never the token.
 */
export function toAirtableFailure(err: unknown, context: string): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof AirtableApiError) {
    const details: AirtableFailureDetails = { status: err.status, airtableType: err.type ?? null };
    const message = `${context}: Airtable answered ${err.status}${err.type ? ` ${err.type}` : ''}${err.message ? `: ${err.message}` : ''}`;
    if (err.status === 429)
      return platformFailure(FailureType.airtableRateLimited, message, {
        retryable: true,
        details,
        nextRetryDelay: RATE_LIMIT_PENALTY,
      });
    if (err.status >= 500 || err.status === 0)
      return platformFailure(FailureType.airtableUnavailable, message, { retryable: true, details });
    const type =
      err.status === 401
        ? FailureType.airtableAuthentication
        : err.status === 403
          ? FailureType.airtablePermission
          : err.status === 404
            ? FailureType.airtableNotFound
            : FailureType.airtableInvalidRequest;
    return platformFailure(type, message, { details });
  }
  const message = `${context}: ${err instanceof Error ? err.message : String(err)}`;
  return platformFailure(FailureType.airtableUnavailable, message, { retryable: true });
}

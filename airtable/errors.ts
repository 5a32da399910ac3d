import { ApplicationFailure } from '@temporalio/common';
import { FailureType, platformFailure, type AirtableFailureDetails } from '../core/failures';

/** An answer from Airtable that was not a success, with its status and Airtable's error type. */
export class AirtableApiError extends Error {
  override name = 'AirtableApiError';
  /** When the answer was taken (epoch ms): a 429's penalty runs from about then. */
  readonly at = Date.now();
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
export const RATE_LIMIT_PENALTY_MS = 30_000;

/** The soonest retry after a 429 whose penalty is already over (the retry still waits for its pacing). */
const MIN_RATE_LIMIT_RETRY_MS = 1_000;

/** How long until a penalty that ends at `endsAtMs` has run out, and at least the soonest retry. */
function penaltyLeftMs(endsAtMs: number): number {
  return Math.max(endsAtMs - Date.now(), MIN_RATE_LIMIT_RETRY_MS);
}

/**
 * Turns an Airtable error into a Temporal failure with the right retry behaviour:
 * - 401/403/404/413/422 and other 4xx: the request itself is wrong, so retrying cannot help;
 * - 429: retryable once Airtable's 30 s penalty has run out, counted from the 429 (see
 *   {@link withPenaltyLeft});
 * - 5xx, timeouts, resets: retryable with the activity's backoff.
 * The message carries Airtable's own type and text, never the token.
 */
export function toAirtableFailure(err: unknown, context: string): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof AirtableApiError) {
    const details: AirtableFailureDetails = { status: err.status, airtableType: err.type ?? null };
    const message = `${context}: Airtable answered ${err.status}${err.type ? ` ${err.type}` : ''}${err.message ? `: ${err.message}` : ''}`;
    if (err.status === 429) {
      const endsAt = err.at + RATE_LIMIT_PENALTY_MS;
      return platformFailure(FailureType.airtableRateLimited, message, {
        retryable: true,
        details: { ...details, penaltyEndsAt: new Date(endsAt).toISOString() },
        nextRetryDelay: penaltyLeftMs(endsAt),
      });
    }
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

/**
 * A rate-limit failure with its retry delay counted again, now: an activity reports the failure only
 * once its other requests in flight are done, and those wait out the same penalty, so the delay set
 * when the 429 came would make it wait the penalty twice. Any other failure is returned as it is.
 */
export function withPenaltyLeft(failure: ApplicationFailure): ApplicationFailure {
  const endsAt = (failure.details?.[0] as AirtableFailureDetails | undefined)?.penaltyEndsAt;
  if (failure.type !== FailureType.airtableRateLimited || !endsAt) return failure;
  const again = ApplicationFailure.create({
    message: failure.message,
    type: failure.type,
    nonRetryable: failure.nonRetryable ?? false,
    details: failure.details ?? undefined,
    nextRetryDelay: penaltyLeftMs(Date.parse(endsAt)),
    cause: failure.cause,
    category: failure.category ?? undefined,
  });
  // Where the 429 was met, not where it was passed on.
  again.stack = failure.stack;
  return again;
}

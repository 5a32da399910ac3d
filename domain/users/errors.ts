import { ServiceError } from '../../core/errors';

/**
 * 429 `too_many_requests`, with when to try again: the API answers it with `Retry-After`.
 * Thrown when password hashing is saturated and when an email is locked out after failed logins
 * (the same answer whether or not the account exists).
 */
export class TooManyRequestsError extends ServiceError {
  override name = 'TooManyRequestsError';
  /** Whole seconds, at least 1. */
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterMs: number) {
    super(429, 'too_many_requests', message);
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  }
}

/**
 * A refusal a service makes to its caller, with the HTTP status and code the API answers:
 * `{"error":{"code","message","details"?}}`. Services throw it; the API's error handler renders it.
 */
export class ServiceError extends Error {
  override name = 'ServiceError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const notFound = (what = 'Resource') => new ServiceError(404, 'not_found', `${what} not found`);
export const unauthorized = (message = 'Authentication required') =>
  new ServiceError(401, 'unauthorized', message);

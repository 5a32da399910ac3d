import { EXPIRED_NOTICE, endSession, refreshSession, session, type Session } from './session';

/** An error answer of the API (`{"error":{"code","message","details"?}}`), or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Array<{ path?: string; message: string }>,
  ) {
    super(message);
  }
}

/** A route the server does not have (yet): the JSON 404 of an unknown route, not of a missing thing. */
export const isMissingRoute = (err: unknown): boolean =>
  err instanceof ApiError && err.status === 404 && err.code === 'route_not_found';

/**
 * Refresh a little before the access token expires (30 s, or a quarter of a short token's life),
 * so a request rarely meets a 401.
 */
const refreshMargin = (s: Session) => Math.min(30_000, (s.accessExpiresAt - (s.accessIssuedAt ?? 0)) / 4);

async function errorOf(res: Response): Promise<ApiError> {
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string; details?: unknown } };
    if (body.error?.code)
      return new ApiError(
        res.status,
        body.error.code,
        body.error.message ?? res.statusText,
        Array.isArray(body.error.details) ? body.error.details : undefined,
      );
  } catch {
    // not JSON
  }
  return new ApiError(res.status, 'http_error', `The server answered ${res.status} ${res.statusText}`);
}

function withToken(init: RequestInit, s: Session): RequestInit {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${s.accessToken}`);
  return { ...init, headers };
}

async function network(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'network_error', 'The server could not be reached. Check that the API is running.');
  }
}

/**
 * `fetch` with the session's access token, refreshed before it expires and once more on a 401; a
 * login that has ended sends the user to sign in. Answers the response whatever its status.
 */
export async function authorizedFetch(url: string, init: RequestInit = {}): Promise<Response> {
  let current = session.value;
  if (!current) throw new ApiError(401, 'signed_out', 'You are signed out.');
  if (current.accessExpiresAt - Date.now() < refreshMargin(current))
    current = (await refreshSession(current).catch(() => current)) ?? null;
  if (!current) throw new ApiError(401, 'session_expired', EXPIRED_NOTICE);
  const res = await network(url, withToken(init, current));
  if (res.status !== 401) return res;
  const renewed = await refreshSession(current).catch(() => undefined);
  if (renewed === undefined) return res;
  if (renewed === null) throw new ApiError(401, 'session_expired', EXPIRED_NOTICE);
  const retried = await network(url, withToken(init, renewed));
  if (retried.status === 401) {
    endSession(EXPIRED_NOTICE);
    throw new ApiError(401, 'session_expired', EXPIRED_NOTICE);
  }
  return retried;
}

/** A JSON call to the API with the session's token; throws {@link ApiError} on an error answer. */
export async function api<T>(
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
  signal?: AbortSignal,
): Promise<T> {
  const res = await authorizedFetch(`/api/v1${path}`, {
    method,
    signal,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** A call made before signing in (register, login). */
export async function publicApi<T>(path: string, body: unknown): Promise<T> {
  const res = await network(`/api/v1${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw await errorOf(res);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

export { errorOf };

/** A readable message for an error, with the fields a 400 names. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    const fields = err.details
      ?.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message))
      .filter(Boolean)
      .join('; ');
    return fields ? `${err.message} (${fields})` : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

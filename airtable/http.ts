import { AirtableApiError } from './errors';

/** What every direct call to the Airtable Web API needs. */
export interface AirtableHttpOptions {
  /** API root, e.g. `https://api.airtable.com` or an emulator. */
  endpointUrl: string;
  token: string;
  /** @default 30000 */
  timeoutMs?: number;
  /** Aborts the request, e.g. when the activity is cancelled. */
  signal?: AbortSignal;
}

/**
 * One direct HTTP call to Airtable (for what the official client cannot do: the meta API and
 * upserts that report created/updated ids). Non-2xx answers become {@link AirtableApiError}
 * carrying Airtable's error type; network failures and timeouts become status 0.
 */
export async function airtableFetch<T>(
  options: AirtableHttpOptions,
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<T> {
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 30_000);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let response: Response;
  try {
    response = await fetch(`${options.endpointUrl.replace(/\/+$/, '')}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${options.token}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (err) {
    const reason = timeout.aborted
      ? `timed out after ${options.timeoutMs ?? 30_000} ms`
      : (err as Error).message;
    throw new AirtableApiError(0, undefined, `request failed: ${reason}`);
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const { type, message } = describeError(parsed);
    throw new AirtableApiError(response.status, type, message ?? response.statusText);
  }
  return parsed as T;
}

/** Airtable answers `{"error":{"type","message"}}` in general but a bare `{"error":"NOT_FOUND"}` on record 404s. */
function describeError(body: unknown): { type?: string; message?: string } {
  const error = (body as { error?: unknown } | undefined)?.error;
  if (typeof error === 'string') return { type: error };
  if (error && typeof error === 'object') {
    const { type, message } = error as { type?: unknown; message?: unknown };
    return {
      type: typeof type === 'string' ? type : undefined,
      message: typeof message === 'string' ? message : undefined,
    };
  }
  return {};
}

import { signal } from '@preact/signals';

/**
 * The signed-in session. Kept in localStorage so a reload (or another tab) stays signed in; a
 * refresh token is spent by each refresh (rotation), so tabs refresh one at a time under a Web Lock
 * and a tab that waited takes the pair another tab stored instead of spending a spent token (which
 * the API would take for theft and answer by ending the whole login).
 */
export interface Session {
  accessToken: string;
  refreshToken: string;
  /** When the access token was issued and when it expires (ms since the epoch): its `iat` and `exp`. */
  accessIssuedAt: number;
  accessExpiresAt: number;
  email: string;
}

const STORAGE_KEY = 'airtable-ops.session';
const LOCK_NAME = 'airtable-ops.refresh';

/** Null when signed out. */
export const session = signal<Session | null>(readStored());
/** A word for the sign-in page: why the user is there (expired session, signed out). */
export const signInNotice = signal<string | null>(null);

function readStored(): Session | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const parsed = JSON.parse(raw) as Partial<Session>;
    return typeof parsed.accessToken === 'string' && typeof parsed.refreshToken === 'string'
      ? (parsed as Session)
      : null;
  } catch {
    return null;
  }
}

function store(next: Session | null): void {
  try {
    if (next) localStorage.setItem(STORAGE_KEY, JSON.stringify(next));
    else localStorage.removeItem(STORAGE_KEY);
  } catch {
    // storage full or disabled: the session lives in this tab only
  }
  session.value = next;
}

// Signing out (or in) in another tab does the same here.
addEventListener('storage', (event) => {
  if (event.key === STORAGE_KEY || event.key === null) session.value = readStored();
});

/**
 * When a JWT was issued and when it expires (`iat`, `exp`), in ms; a token that cannot be read
 * counts as issued now and expiring in a minute.
 */
export function lifetimeOf(token: string): { issuedAt: number; expiresAt: number } {
  const now = Date.now();
  try {
    const payload = token.split('.')[1] ?? '';
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const { iat, exp } = JSON.parse(json) as { iat?: unknown; exp?: unknown };
    if (typeof exp === 'number')
      return { issuedAt: typeof iat === 'number' ? iat * 1000 : now, expiresAt: exp * 1000 };
  } catch {
    // fall through
  }
  return { issuedAt: now, expiresAt: now + 60_000 };
}

const withTokens = (tokens: { accessToken: string; refreshToken: string }) => {
  const { issuedAt, expiresAt } = lifetimeOf(tokens.accessToken);
  return {
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    accessIssuedAt: issuedAt,
    accessExpiresAt: expiresAt,
  };
};

export function startSession(tokens: { accessToken: string; refreshToken: string }, email: string): void {
  signInNotice.value = null;
  store({ ...withTokens(tokens), email });
}

/** Ends the session here; `notice` tells the sign-in page why. */
export function endSession(notice: string | null): void {
  signInNotice.value = notice;
  store(null);
}

export const EXPIRED_NOTICE = 'Your session has expired. Sign in again.';

let refreshing: Promise<Session | null> | null = null;

/**
 * A fresh access token for the session that holds `stale`: one refresh at a time in this tab, and
 * across tabs. Resolves null when the login has ended (the user is then sent to sign in); throws when
 * the API could not be reached (the session is kept, the next call tries again).
 */
export function refreshSession(stale: Session): Promise<Session | null> {
  refreshing ??= withRefreshLock(() => refreshOnce(stale)).finally(() => (refreshing = null));
  return refreshing;
}

function withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
  // Web Locks exist in secure contexts (https, or http on localhost); elsewhere one tab at a time is
  // the best we can do.
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  // (lib.dom types the callback's result, not its promise: the lock is held until `fn` settles.)
  return locks ? (locks.request(LOCK_NAME, fn) as unknown as Promise<T>) : fn();
}

async function refreshOnce(stale: Session): Promise<Session | null> {
  const current = readStored() ?? session.value;
  if (!current) return null;
  if (current.refreshToken !== stale.refreshToken) {
    // Another tab refreshed while this one waited for the lock: use its pair.
    session.value = current;
    return current;
  }
  const res = await fetch('/api/v1/auth/refresh', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refreshToken: current.refreshToken }),
  });
  if (res.status === 401 || res.status === 400) {
    endSession(EXPIRED_NOTICE);
    return null;
  }
  if (!res.ok) throw new Error(`refresh answered ${res.status}`);
  const body = (await res.json()) as { accessToken: string; refreshToken: string };
  const next: Session = { ...current, ...withTokens(body) };
  store(next);
  return next;
}

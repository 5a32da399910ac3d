import type { Pool, PoolClient } from 'pg';

type Queryable = Pool | PoolClient;

/** A user as the API shows it. */
export interface User {
  id: string;
  email: string;
  name: string | null;
}

/** A user's preferences, used by the agent when it writes dates and numbers. */
export interface UserPreferences {
  /** An IANA time zone, e.g. `Europe/Paris`. */
  timeZone?: string;
  /** A BCP 47 locale, e.g. `fr-FR`. */
  locale?: string;
}

/** Changes a user's name and preferences (merged into those kept); returns the user with them. */
export async function updateProfile(
  db: Queryable,
  id: string,
  change: { name?: string | null; preferences?: UserPreferences },
): Promise<(User & { preferences: UserPreferences }) | undefined> {
  const { rows } = await db.query<User & { preferences: UserPreferences }>(
    `UPDATE users SET name = CASE WHEN $2::boolean THEN $3 ELSE name END,
       preferences = preferences || $4::jsonb
     WHERE id = $1 RETURNING id, email, name, preferences`,
    [id, change.name !== undefined, change.name ?? null, JSON.stringify(change.preferences ?? {})],
  );
  return rows[0];
}

export async function insertUser(
  db: Queryable,
  user: { id: string; email: string; name: string | null; passwordHash: string },
): Promise<User | undefined> {
  const { rows } = await db.query<User>(
    `INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4)
     ON CONFLICT DO NOTHING RETURNING id, email, name`,
    [user.id, user.email, user.name, user.passwordHash],
  );
  return rows[0]; // undefined: the email is taken (case-insensitively)
}

export async function findUserByEmail(
  db: Queryable,
  email: string,
): Promise<(User & { passwordHash: string }) | undefined> {
  const { rows } = await db.query<User & { passwordHash: string }>(
    `SELECT id, email, name, password_hash AS "passwordHash" FROM users WHERE lower(email) = lower($1)`,
    [email],
  );
  return rows[0];
}

export async function getUser(db: Queryable, id: string): Promise<User | undefined> {
  const { rows } = await db.query<User>(`SELECT id, email, name FROM users WHERE id = $1`, [id]);
  return rows[0];
}

/** A refresh token row, looked up by the digest of the presented token. */
export interface RefreshTokenRecord {
  id: string;
  userId: string;
  familyId: string;
  expiresAt: Date;
  spentAt: Date | null;
  revokedAt: Date | null;
}

/**
 * Stores a refresh token, and its login session (the family) if that does not exist yet, in one
 * statement, so an access token naming the session can never exist without it. (A revoked session
 * stays revoked: its tokens can no longer be spent, so none of its family is stored again.)
 */
export async function insertRefreshToken(
  db: Queryable,
  token: { id: string; userId: string; familyId: string; tokenHash: string; expiresAt: Date },
): Promise<void> {
  await db.query(
    `WITH session AS (
       INSERT INTO login_sessions (id, user_id) VALUES ($3, $2) ON CONFLICT (id) DO NOTHING
     )
     INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5)`,
    [token.id, token.userId, token.familyId, token.tokenHash, token.expiresAt],
  );
}

/** Marks the token spent if (and only if) it is still usable, atomically: two concurrent refreshes cannot both win. */
export async function spendRefreshToken(
  db: Queryable,
  tokenHash: string,
): Promise<RefreshTokenRecord | undefined> {
  const { rows } = await db.query<RefreshTokenRecord>(
    `UPDATE refresh_tokens SET spent_at = now()
     WHERE token_hash = $1 AND spent_at IS NULL AND revoked_at IS NULL AND expires_at > now()
     RETURNING id, user_id AS "userId", family_id AS "familyId", expires_at AS "expiresAt", spent_at AS "spentAt", revoked_at AS "revokedAt"`,
    [tokenHash],
  );
  return rows[0];
}

export async function findRefreshToken(
  db: Queryable,
  tokenHash: string,
): Promise<RefreshTokenRecord | undefined> {
  const { rows } = await db.query<RefreshTokenRecord>(
    `SELECT id, user_id AS "userId", family_id AS "familyId", expires_at AS "expiresAt", spent_at AS "spentAt", revoked_at AS "revokedAt"
     FROM refresh_tokens WHERE token_hash = $1`,
    [tokenHash],
  );
  return rows[0];
}

/**
 * Ends a login: its session (so its access tokens stop working at once) and every refresh token
 * of its family, in one statement. On logout, and when a spent token is presented again (likely theft).
 */
export async function revokeRefreshTokenFamily(db: Queryable, familyId: string): Promise<void> {
  await db.query(
    `WITH session AS (UPDATE login_sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL)
     UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL`,
    [familyId],
  );
}

/** Whether the login session exists, belongs to the user and is not revoked (a primary-key lookup). */
export async function isSessionLive(db: Queryable, sessionId: string, userId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `SELECT 1 FROM login_sessions WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL`,
    [sessionId, userId],
  );
  return rowCount === 1;
}

/** The lockout policy of {@link beginLoginAttempt}. */
export interface LockoutPolicy {
  threshold: number;
  baseSeconds: number;
  maxSeconds: number;
  /** Attempts older than this are forgotten. */
  memorySeconds: number;
}

/** Milliseconds until the email's lockout ends, or undefined when it is not locked (a read only). */
export async function loginLockoutRemaining(db: Queryable, emailDigest: string): Promise<number | undefined> {
  const { rows } = await db.query<{ ms: number }>(
    `SELECT ceil(extract(epoch FROM locked_until - clock_timestamp()) * 1000)::float8 AS ms
       FROM login_throttle WHERE email_digest = $1 AND locked_until > clock_timestamp()`,
    [emailDigest],
  );
  return rows[0]?.ms;
}

/**
 * Counts a login attempt for the email, atomically across processes, unless it is locked: then
 * answers the milliseconds until the lockout ends (and the attempt is not counted).
 */
export async function beginLoginAttempt(
  db: Queryable,
  emailDigest: string,
  policy: LockoutPolicy,
): Promise<number | undefined> {
  const { rows } = await db.query<{ ms: number | null }>(
    `SELECT ceil(extract(epoch FROM locked_until - clock_timestamp()) * 1000)::float8 AS ms
       FROM login_attempt_begin($1, $2, $3, $4, $5) AS locked_until`,
    [emailDigest, policy.threshold, policy.baseSeconds, policy.maxSeconds, policy.memorySeconds],
  );
  const ms = rows[0]?.ms;
  return ms === null || ms === undefined ? undefined : Math.max(1, ms);
}

/** A successful login forgets the email's attempts and lifts its lockout. */
export async function clearLoginAttempts(db: Queryable, emailDigest: string): Promise<void> {
  await db.query(`DELETE FROM login_throttle WHERE email_digest = $1`, [emailDigest]);
}

/** Forgets attempts idle for longer than `memorySeconds` (and no longer locked). */
export async function sweepLoginAttempts(db: Queryable, memorySeconds: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM login_throttle
      WHERE last_attempt_at < now() - make_interval(secs => $1)
        AND (locked_until IS NULL OR locked_until < now())`,
    [memorySeconds],
  );
  return rowCount ?? 0;
}

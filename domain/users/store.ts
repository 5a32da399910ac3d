import type { Pool, PoolClient } from 'pg';

type Queryable = Pool | PoolClient;

/** A user as the API shows it. */
export interface User {
  id: string;
  email: string;
  name: string | null;
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

export async function insertRefreshToken(
  db: Queryable,
  token: { id: string; userId: string; familyId: string; tokenHash: string; expiresAt: Date },
): Promise<void> {
  await db.query(
    `INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5)`,
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

/** Revokes every token of a login: on logout, and when a spent token is presented again (likely theft). */
export async function revokeRefreshTokenFamily(db: Queryable, familyId: string): Promise<void> {
  await db.query(`UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL`, [
    familyId,
  ]);
}

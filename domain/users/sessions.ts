import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { randomToken, sha256 } from '../../core/crypto';
import { ServiceError, unauthorized } from '../../core/errors';
import { hashPassword, verifyPassword } from '../../core/passwords';
import { signAccessToken, verifyAccessToken } from './access-tokens';
import * as store from './store';

/** What sessions need. */
export interface SessionDeps {
  pool: Pool;
  /** Signs access tokens (HS256). */
  jwtSecret: string;
  /** @default 900 */
  accessTokenTtlSeconds: number;
  /** @default 2592000 */
  refreshTokenTtlSeconds: number;
}

/** A signed-in session's tokens. */
export interface SessionTokens {
  accessToken: string;
  refreshToken: string;
  /** Seconds the access token lives. */
  expiresIn: number;
}

/**
 * Accounts and sessions: registration, login, rotating refresh tokens (a reused one ends the whole
 * login, the thief's copy included), logout, and the check of an access token.
 */
export function createSessions(deps: SessionDeps) {
  const { pool } = deps;
  // A hash computed once, so a login for an unknown email costs as much as one for a known email.
  let dummyHash: Promise<string> | undefined;

  async function issueTokens(userId: string, familyId: string = randomUUID()): Promise<SessionTokens> {
    const refreshToken = randomToken();
    await store.insertRefreshToken(pool, {
      id: randomUUID(),
      userId,
      familyId,
      tokenHash: sha256(refreshToken),
      expiresAt: new Date(Date.now() + deps.refreshTokenTtlSeconds * 1000),
    });
    return {
      accessToken: signAccessToken(userId, deps.jwtSecret, deps.accessTokenTtlSeconds),
      refreshToken,
      expiresIn: deps.accessTokenTtlSeconds,
    };
  }

  return {
    /** Creates an account and signs it in; 409 when the email is taken (case-insensitively). */
    async register(input: { email: string; password: string; name?: string }) {
      const passwordHash = await hashPassword(input.password);
      const user = await store.insertUser(pool, {
        id: randomUUID(),
        email: input.email,
        name: input.name ?? null,
        passwordHash,
      });
      if (!user) throw new ServiceError(409, 'email_taken', 'An account with this email already exists');
      return { user, ...(await issueTokens(user.id)) };
    },

    /** Signs in; one answer (401) for an unknown email and a wrong password, in the same time. */
    async login(input: { email: string; password: string }): Promise<SessionTokens> {
      const user = await store.findUserByEmail(pool, input.email.trim());
      dummyHash ??= hashPassword(randomToken());
      const valid = await verifyPassword(input.password, user?.passwordHash ?? (await dummyHash));
      if (!user || !valid) throw unauthorized('Email or password is wrong');
      return issueTokens(user.id);
    },

    /** Spends a refresh token for a new pair; a spent token presented again revokes its whole login. */
    async refresh(refreshToken: string): Promise<SessionTokens> {
      const hash = sha256(refreshToken);
      const spent = await store.spendRefreshToken(pool, hash);
      if (!spent) {
        // A spent token presented again means it leaked: end the whole login, the thief's copy included.
        const known = await store.findRefreshToken(pool, hash);
        if (known?.spentAt) await store.revokeRefreshTokenFamily(pool, known.familyId);
        throw unauthorized('Invalid, expired or already used refresh token');
      }
      return issueTokens(spent.userId, spent.familyId);
    },

    /** Ends the login the refresh token belongs to. */
    async logout(refreshToken: string): Promise<void> {
      const known = await store.findRefreshToken(pool, sha256(refreshToken));
      if (known) await store.revokeRefreshTokenFamily(pool, known.familyId);
    },

    /** The user id of a valid access token, or undefined. */
    authenticate(accessToken: string): string | undefined {
      return verifyAccessToken(accessToken, deps.jwtSecret);
    },

    /** The account behind a user id; 401 when it no longer exists. */
    async me(userId: string): Promise<store.User> {
      const user = await store.getUser(pool, userId);
      if (!user) throw unauthorized('The account no longer exists');
      return user;
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;

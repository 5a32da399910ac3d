import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { AUTH_DEFAULTS } from '../../core/config';
import { randomToken, sha256 } from '../../core/crypto';
import { ServiceError, unauthorized } from '../../core/errors';
import {
  createHashGate,
  HashGateBusyError,
  hashPassword,
  unmatchableHash,
  verifyPassword,
  type HashGateLimits,
} from '../../core/passwords';
import { signAccessToken, verifyAccessToken } from './access-tokens';
import { TooManyRequestsError } from './errors';
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
  /** How much password hashing this process admits. @default from AUTH_DEFAULTS */
  hashing?: HashGateLimits;
  /** Failed logins per email before a lockout, and its first and longest length. @default from AUTH_DEFAULTS */
  lockout?: { threshold: number; baseSeconds: number; maxSeconds: number };
}

/** How often a process sweeps forgotten login attempts. */
const SWEEP_INTERVAL_MS = 10 * 60_000;

/** A signed-in session's tokens. */
export interface SessionTokens {
  accessToken: string;
  refreshToken: string;
  /** Seconds the access token lives. */
  expiresIn: number;
}

/**
 * Accounts and sessions: registration, login, rotating refresh tokens (a reused one ends the whole
 * login, the thief's copy included), logout, and the check of an access token against its login.
 *
 * Password hashing goes through a gate (bounded concurrency, bounded and time-limited queue), so
 * a flood of sign-ins is answered 429 instead of queueing without end; failed logins lock the
 * email out for an exponentially growing time, in Postgres, so all API processes share it.
 */
export function createSessions(deps: SessionDeps) {
  const { pool } = deps;
  const gate = createHashGate(
    deps.hashing ?? {
      maxConcurrent: AUTH_DEFAULTS.maxConcurrentHashes,
      maxQueued: AUTH_DEFAULTS.maxQueuedHashes,
      maxWaitMs: AUTH_DEFAULTS.maxHashWaitMs,
    },
  );
  const lockout = deps.lockout ?? {
    threshold: AUTH_DEFAULTS.loginLockoutThreshold,
    baseSeconds: AUTH_DEFAULTS.loginLockoutBaseSeconds,
    maxSeconds: AUTH_DEFAULTS.loginLockoutMaxSeconds,
  };
  // Attempts are remembered an hour, and always longer than the longest lockout, so a lockout at
  // its maximum is followed by another, not by a fresh count.
  const policy: store.LockoutPolicy = { ...lockout, memorySeconds: Math.max(3600, 2 * lockout.maxSeconds) };
  // A login for an unknown email verifies against this, so it costs one hash, like a known email's.
  const dummyHash = unmatchableHash();
  let lastSweep = 0;

  /** Runs `fn` (which hashes) in a hashing slot, or answers 429 when none is to be had in time. */
  async function hashing<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await gate.run(fn);
    } catch (err) {
      if (err instanceof HashGateBusyError)
        throw new TooManyRequestsError('Too many sign-ins at once; try again shortly', err.retryAfterMs);
      throw err;
    }
  }

  const lockedOut = (ms: number) =>
    new TooManyRequestsError('Too many failed sign-ins for this email; try again later', ms);

  /** Forgotten login attempts are deleted now and then, by whichever process logs someone in. */
  function sweepNowAndThen(): void {
    if (Date.now() - lastSweep < SWEEP_INTERVAL_MS) return;
    lastSweep = Date.now();
    // Best effort: a failed sweep is simply retried at the next interval.
    store.sweepLoginAttempts(pool, policy.memorySeconds).catch(() => undefined);
  }

  /** A new pair for the login `familyId` (a refresh), or for a new login. */
  async function issueTokens(userId: string, familyId?: string): Promise<SessionTokens> {
    const refreshToken = randomToken();
    const sessionId = familyId ?? randomUUID();
    await store.insertRefreshToken(pool, {
      id: randomUUID(),
      userId,
      familyId: sessionId,
      tokenHash: sha256(refreshToken),
      expiresAt: new Date(Date.now() + deps.refreshTokenTtlSeconds * 1000),
    });
    return {
      accessToken: signAccessToken(userId, deps.jwtSecret, deps.accessTokenTtlSeconds, sessionId),
      refreshToken,
      expiresIn: deps.accessTokenTtlSeconds,
    };
  }

  return {
    /** Creates an account and signs it in; 409 when the email is taken (case-insensitively). */
    async register(input: { email: string; password: string; name?: string }) {
      const passwordHash = await hashing(() => hashPassword(input.password));
      const user = await store.insertUser(pool, {
        id: randomUUID(),
        email: input.email,
        name: input.name ?? null,
        passwordHash,
      });
      if (!user) throw new ServiceError(409, 'email_taken', 'An account with this email already exists');
      return { user, ...(await issueTokens(user.id)) };
    },

    /**
     * Signs in; one answer (401) for an unknown email and a wrong password, in the same time, and
     * one answer (429) for a locked-out email, known or not. Every attempt counts towards the
     * email's lockout until a success clears it; a locked email costs no hash.
     */
    async login(input: { email: string; password: string }): Promise<SessionTokens> {
      const email = input.email.trim();
      const digest = sha256(email.toLowerCase());
      const lockedMs = await store.loginLockoutRemaining(pool, digest);
      if (lockedMs !== undefined) throw lockedOut(lockedMs);
      sweepNowAndThen();
      const user = await store.findUserByEmail(pool, email);
      const valid = await hashing(async () => {
        // Counted once a hashing slot is held, so an attempt refused for load is not counted.
        const refusedMs = await store.beginLoginAttempt(pool, digest, policy);
        if (refusedMs !== undefined) throw lockedOut(refusedMs);
        return verifyPassword(input.password, user?.passwordHash ?? dummyHash);
      });
      if (!user || !valid) throw unauthorized('Email or password is wrong');
      await store.clearLoginAttempts(pool, digest);
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

    /**
     * The user id of a valid access token whose login is still live, or undefined. One primary-key
     * lookup per call and no cache, so a logout or a revoked family takes effect at once everywhere.
     */
    async authenticate(accessToken: string): Promise<string | undefined> {
      const claims = verifyAccessToken(accessToken, deps.jwtSecret);
      if (!claims) return undefined;
      return (await store.isSessionLive(pool, claims.sessionId, claims.userId)) ? claims.userId : undefined;
    },

    /** What the hashing gate has seen (for benchmarks and metrics). */
    hashingStats() {
      return gate.stats();
    },

    /** The account behind a user id; 401 when it no longer exists. */
    async me(userId: string): Promise<store.User> {
      const user = await store.getUser(pool, userId);
      if (!user) throw unauthorized('The account no longer exists');
      return user;
    },

    /** Changes the caller's name and preferences (time zone, locale), which the agent uses for dates. */
    async updateMe(userId: string, change: { name?: string | null; preferences?: store.UserPreferences }) {
      const user = await store.updateProfile(pool, userId, change);
      if (!user) throw unauthorized('The account no longer exists');
      return user;
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;

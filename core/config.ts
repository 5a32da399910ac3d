import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_GEMINI_MODEL, DEFAULT_MODEL_PRICES, parsePrices, type ModelPrice } from './agent-config';

/** The project's root folder; `.data/` under it holds local state (dev secrets, Temporal's db file). */
export const PROJECT_ROOT = path.resolve(__dirname, '..');
export const DEFAULT_DATA_DIR = path.join(PROJECT_ROOT, '.data');
export const DEFAULT_DATABASE_NAME = 'airtable_ops';

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/**
 * Defaults of the sign-in protections (password hashing admission, per-IP limits, per-account
 * lockout). Exported so composition roots that build a partial config (tests, benchmarks) fall
 * back to the same values as `loadConfig`.
 */
export const AUTH_DEFAULTS: AuthSettings = {
  /** scrypt runs on libuv's pool (4 threads): half the cores, so requests keep the other half. */
  maxConcurrentHashes: Math.min(4, Math.max(1, Math.floor(os.availableParallelism() / 2))),
  maxQueuedHashes: 20,
  maxHashWaitMs: 2_000,
  registerRateLimitPerMinute: 20,
  refreshRateLimitPerMinute: 60,
  loginLockoutThreshold: 5,
  loginLockoutBaseSeconds: 30,
  loginLockoutMaxSeconds: 900,
  trustProxy: false,
};

/** Express's `trust proxy` value: false (trust nothing), true (everything), a hop count, or addresses/subnets. */
export type TrustProxy = boolean | number | string;

const TRUST_PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);
const trustProxy = z
  .string()
  .optional()
  .transform((value, ctx): TrustProxy => {
    const v = value?.trim() ?? '';
    if (v === '' || v === 'false') return false;
    if (v === 'true') return true;
    if (/^\d+$/.test(v)) return Number(v);
    const entries = v.split(',').map((e) => e.trim());
    const bad = entries.filter((e) => !TRUST_PROXY_NAMES.has(e) && !isIP(e.replace(/\/\d+$/, '')));
    if (bad.length) {
      ctx.addIssue({
        code: 'custom',
        message: `expected false, true, a hop count, or addresses/subnets/loopback/linklocal/uniquelocal; not ${bad.join(', ')}`,
      });
      return z.NEVER;
    }
    return entries.join(',');
  });

const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: port(3000),
  HOST: z.string().default('127.0.0.1'),
  DATABASE_URL: optionalString,
  DATA_DIR: optionalString,
  TEMPORAL_ADDRESS: optionalString,
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_UI_PORT: port(8233),
  TEMPORAL_PORT: port(7233),
  TEMPORAL_API_KEY: optionalString,
  TEMPORAL_TLS: optionalString,
  TEMPORAL_TLS_CERT_PATH: optionalString,
  TEMPORAL_TLS_KEY_PATH: optionalString,
  TEMPORAL_TLS_CA_PATH: optionalString,
  TEMPORAL_TLS_SERVER_NAME: optionalString,
  TEMPORAL_TASK_QUEUE_PREFIX: optionalString,
  AIRTABLE_ENDPOINT_URL: z.string().url().default('https://api.airtable.com'),
  AIRTABLE_REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  GEMINI_API_KEY: optionalString,
  GEMINI_BASE_URL: optionalString,
  GEMINI_MODEL: z.string().default(DEFAULT_GEMINI_MODEL),
  GEMINI_PRICES: optionalString,
  AGENT_MAX_STEPS_PER_TURN: z.coerce.number().int().min(1).max(100).default(10),
  AGENT_APPROVAL_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .default(24 * 3600),
  AGENT_CONTEXT_TOKEN_BUDGET: z.coerce.number().int().min(1_000).default(100_000),
  JWT_SECRET: optionalString,
  APP_ENCRYPTION_KEY: optionalString,
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().positive().default(900),
  REFRESH_TOKEN_TTL_SECONDS: z.coerce
    .number()
    .int()
    .positive()
    .default(30 * 24 * 3600),
  CORS_ORIGINS: optionalString,
  LOGIN_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(10),
  REGISTER_RATE_LIMIT_PER_MINUTE: positiveInt(AUTH_DEFAULTS.registerRateLimitPerMinute),
  REFRESH_RATE_LIMIT_PER_MINUTE: positiveInt(AUTH_DEFAULTS.refreshRateLimitPerMinute),
  AUTH_MAX_CONCURRENT_HASHES: positiveInt(AUTH_DEFAULTS.maxConcurrentHashes),
  AUTH_MAX_QUEUED_HASHES: z.coerce.number().int().min(0).default(AUTH_DEFAULTS.maxQueuedHashes),
  AUTH_MAX_HASH_WAIT_MS: positiveInt(AUTH_DEFAULTS.maxHashWaitMs),
  LOGIN_LOCKOUT_THRESHOLD: positiveInt(AUTH_DEFAULTS.loginLockoutThreshold),
  LOGIN_LOCKOUT_BASE_SECONDS: positiveInt(AUTH_DEFAULTS.loginLockoutBaseSeconds),
  LOGIN_LOCKOUT_MAX_SECONDS: positiveInt(AUTH_DEFAULTS.loginLockoutMaxSeconds),
  TRUST_PROXY: trustProxy,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Where a Temporal client and worker connect. */
export interface TemporalConnectionConfig {
  /** `host:port` of the frontend; undefined means "start the embedded dev server". */
  address?: string;
  namespace: string;
  apiKey?: string;
  tls?: { certPath?: string; keyPath?: string; caPath?: string; serverName?: string };
}

/** Everything the processes read from the environment, validated once. */
export interface AppConfig {
  env: 'development' | 'test' | 'production';
  port: number;
  host: string;
  databaseUrl: string;
  dataDir: string;
  temporal: TemporalConnectionConfig & { devServerPort: number; uiPort: number };
  /** Prefix for task queue names, so parallel test files never steal each other's tasks. */
  taskQueuePrefix: string;
  airtable: { endpointUrl: string; requestTimeoutMs: number };
  gemini: { apiKey?: string; baseUrl?: string; model: string; prices: Record<string, ModelPrice> };
  agent: { maxStepsPerTurn: number; approvalTtlSeconds: number; contextTokenBudget: number };
  jwtSecret: string;
  /** 32-byte key for AES-256-GCM encryption of secrets at rest. */
  encryptionKey: Buffer;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  corsOrigins: string[];
  /** Failed login attempts per client IP per minute. */
  loginRateLimitPerMinute: number;
  /** Registrations per client IP per minute. */
  registerRateLimitPerMinute: number;
  /** Refreshes per client IP per minute. */
  refreshRateLimitPerMinute: number;
  /** Password hashes (scrypt) computed at once by this process. */
  maxConcurrentHashes: number;
  /** Requests waiting for a hash slot; beyond that they are answered 429 at once. */
  maxQueuedHashes: number;
  /** The longest a request waits for a hash slot before it is answered 429. */
  maxHashWaitMs: number;
  /** Failed logins for one email (across all processes) before it is locked out. */
  loginLockoutThreshold: number;
  /** The first lockout; each further failure doubles it, up to `loginLockoutMaxSeconds`. */
  loginLockoutBaseSeconds: number;
  loginLockoutMaxSeconds: number;
  /** Which proxies' `X-Forwarded-For` decides the client IP; false: the socket address. */
  trustProxy: TrustProxy;
  logLevel: string;
}

/** The sign-in protection settings (see {@link AUTH_DEFAULTS}). */
export type AuthSettings = Pick<
  AppConfig,
  | 'maxConcurrentHashes'
  | 'maxQueuedHashes'
  | 'maxHashWaitMs'
  | 'registerRateLimitPerMinute'
  | 'refreshRateLimitPerMinute'
  | 'loginLockoutThreshold'
  | 'loginLockoutBaseSeconds'
  | 'loginLockoutMaxSeconds'
  | 'trustProxy'
>;

/** Thrown when the environment is unusable; the message names every offending variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Reads and validates configuration. Local runs need no variables at all: missing secrets are
 * generated once and kept under `.data/` so restarts can still decrypt what they stored. In
 * production the secrets are required, because a generated key would silently orphan stored data.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`Invalid environment: ${problems}`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  if (production) {
    const missing = (['JWT_SECRET', 'APP_ENCRYPTION_KEY', 'DATABASE_URL'] as const).filter((k) => !e[k]);
    if (missing.length) throw new ConfigError(`Required in production: ${missing.join(', ')}`);
  }
  const dataDir = e.DATA_DIR ?? DEFAULT_DATA_DIR;
  const jwtSecret = e.JWT_SECRET ?? devSecret(dataDir, 'jwt-secret', 48);
  if (jwtSecret.length < 32) throw new ConfigError('JWT_SECRET must be at least 32 characters');
  const encryptionKey = parseEncryptionKey(e.APP_ENCRYPTION_KEY ?? devSecret(dataDir, 'encryption-key', 32));
  const useTls = e.TEMPORAL_TLS === 'true' || !!e.TEMPORAL_TLS_CERT_PATH || !!e.TEMPORAL_API_KEY;

  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL ?? `postgres://postgres@127.0.0.1:5432/${DEFAULT_DATABASE_NAME}`,
    dataDir,
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      apiKey: e.TEMPORAL_API_KEY,
      tls: useTls
        ? {
            certPath: e.TEMPORAL_TLS_CERT_PATH,
            keyPath: e.TEMPORAL_TLS_KEY_PATH,
            caPath: e.TEMPORAL_TLS_CA_PATH,
            serverName: e.TEMPORAL_TLS_SERVER_NAME,
          }
        : undefined,
      devServerPort: e.TEMPORAL_PORT,
      uiPort: e.TEMPORAL_UI_PORT,
    },
    taskQueuePrefix: e.TEMPORAL_TASK_QUEUE_PREFIX ?? '',
    airtable: {
      endpointUrl: e.AIRTABLE_ENDPOINT_URL.replace(/\/+$/, ''),
      requestTimeoutMs: e.AIRTABLE_REQUEST_TIMEOUT_MS,
    },
    gemini: {
      apiKey: e.GEMINI_API_KEY,
      baseUrl: e.GEMINI_BASE_URL,
      model: e.GEMINI_MODEL,
      prices: { ...DEFAULT_MODEL_PRICES, ...parsePrices(e.GEMINI_PRICES) },
    },
    agent: {
      maxStepsPerTurn: e.AGENT_MAX_STEPS_PER_TURN,
      approvalTtlSeconds: e.AGENT_APPROVAL_TTL_SECONDS,
      contextTokenBudget: e.AGENT_CONTEXT_TOKEN_BUDGET,
    },
    jwtSecret,
    encryptionKey,
    accessTokenTtlSeconds: e.ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenTtlSeconds: e.REFRESH_TOKEN_TTL_SECONDS,
    corsOrigins: e.CORS_ORIGINS
      ? e.CORS_ORIGINS.split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : [],
    loginRateLimitPerMinute: e.LOGIN_RATE_LIMIT_PER_MINUTE,
    registerRateLimitPerMinute: e.REGISTER_RATE_LIMIT_PER_MINUTE,
    refreshRateLimitPerMinute: e.REFRESH_RATE_LIMIT_PER_MINUTE,
    maxConcurrentHashes: e.AUTH_MAX_CONCURRENT_HASHES,
    maxQueuedHashes: e.AUTH_MAX_QUEUED_HASHES,
    maxHashWaitMs: e.AUTH_MAX_HASH_WAIT_MS,
    loginLockoutThreshold: e.LOGIN_LOCKOUT_THRESHOLD,
    loginLockoutBaseSeconds: e.LOGIN_LOCKOUT_BASE_SECONDS,
    loginLockoutMaxSeconds: e.LOGIN_LOCKOUT_MAX_SECONDS,
    trustProxy: e.TRUST_PROXY,
    logLevel: e.LOG_LEVEL,
  };
}

/** Accepts 32 bytes as base64 or hex. */
export function parseEncryptionKey(value: string): Buffer {
  const candidates = [
    /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, 'hex') : undefined,
    Buffer.from(value, 'base64'),
  ];
  const key = candidates.find((b) => b?.length === 32);
  if (!key) throw new ConfigError('APP_ENCRYPTION_KEY must be 32 bytes, base64 or hex encoded');
  return key;
}

/** A secret generated on first use and kept in `<dataDir>/<name>` (mode 0600). */
export function devSecret(dataDir: string, name: string, bytes: number): string {
  const file = path.join(dataDir, name);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const value = randomBytes(bytes).toString('base64');
  try {
    // 'wx' so two processes starting together agree on one secret instead of overwriting each other.
    writeFileSync(file, value, { mode: 0o600, flag: 'wx' });
    return value;
  } catch {
    return readFileSync(file, 'utf8').trim();
  }
}

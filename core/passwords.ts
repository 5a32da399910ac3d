import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashing with scrypt, a memory-hard KDF built into Node (no native add-on to compile or
 * to crash). Parameters follow OWASP's scrypt guidance (N=2^15, r=8, p=3: 32 MiB, ~100 ms) and are
 * stored with each hash, so they can be raised later without invalidating existing passwords.
 */
const DEFAULTS = { N: 2 ** 15, r: 8, p: 3 };
const KEY_LENGTH = 32;

function derive(
  password: string,
  salt: Buffer,
  params: { N: number; r: number; p: number },
): Promise<Buffer> {
  const options: ScryptOptions = { ...params, maxmem: 256 * params.N * params.r };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, options, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** `scrypt$N$r$p$<salt b64>$<hash b64>` */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, DEFAULTS);
  return ['scrypt', DEFAULTS.N, DEFAULTS.r, DEFAULTS.p, salt.toString('base64'), key.toString('base64')].join(
    '$',
  );
}

/**
 * A stored-hash look-alike that no password matches (its key is random), with the parameters of
 * {@link hashPassword}: verifying against it costs exactly one hash. A login for an unknown email
 * verifies against it, so it takes as long as one for a known email.
 */
export function unmatchableHash(): string {
  return [
    'scrypt',
    DEFAULTS.N,
    DEFAULTS.r,
    DEFAULTS.p,
    randomBytes(16).toString('base64'),
    randomBytes(KEY_LENGTH).toString('base64'),
  ].join('$');
}

/** Constant-time comparison against a stored hash; a malformed hash never verifies. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const key = await derive(password, Buffer.from(salt, 'base64'), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** How much hashing a process admits: how many at once, how many waiting, and for how long. */
export interface HashGateLimits {
  /** Hashes computed at once. */
  maxConcurrent: number;
  /** Callers waiting for a slot; one more is refused at once. */
  maxQueued: number;
  /** The longest a caller waits for a slot; one expected to wait longer is refused at once. */
  maxWaitMs: number;
}

/** Refused admission to the hash gate: the queue is full, or the wait would be (or was) too long. */
export class HashGateBusyError extends Error {
  override name = 'HashGateBusyError';
  constructor(
    readonly reason: 'queue_full' | 'wait_too_long',
    /** When a slot is likely free again. */
    readonly retryAfterMs: number,
  ) {
    super(`Password hashing is busy (${reason.replace(/_/g, ' ')})`);
  }
}

/** What the gate has seen since it was created (for benchmarks and metrics). */
export interface HashGateStats {
  active: number;
  queued: number;
  completed: number;
  /** Refused at once: the queue was full. */
  refusedQueueFull: number;
  /** Refused at once: the expected wait was longer than `maxWaitMs`. */
  refusedWaitTooLong: number;
  /** Queued, then refused when `maxWaitMs` had passed without a free slot. */
  refusedAtDeadline: number;
  /** The longest any caller waited in the queue, admitted or refused at the deadline. */
  maxWaitMs: number;
  /** Most slots in use at one time. */
  maxActive: number;
  /** Moving average of one run's duration. */
  averageRunMs: number;
}

interface Waiter {
  admit: () => void;
  timer: NodeJS.Timeout;
}

/**
 * Admission control for password hashing, the one CPU-bound step of a request: at most
 * `maxConcurrent` runs at once, and a bounded, time-limited queue in front of them. A caller the
 * gate cannot serve within `maxWaitMs` is refused at once ({@link HashGateBusyError}, with a
 * retry hint) rather than queued without end, so a flood of logins costs the flood its own
 * latency, not everybody else's. Waiters are served first come, first served.
 *
 * Some sixty lines of bookkeeping instead of a library: p-limit and p-queue bound concurrency but not
 * the wait (and are ESM-only), async-mutex's timeouts leave expired waiters queued and do not tell
 * the queue's length; none estimates the wait to refuse early or to fill `Retry-After`.
 */
export function createHashGate(limits: HashGateLimits) {
  const maxConcurrent = Math.max(1, limits.maxConcurrent);
  const queue: Waiter[] = [];
  let active = 0;
  // Seeded with scrypt's nominal cost (N=2^15, r=8); replaced by measurements after the first runs.
  let averageRunMs = 150;
  const stats = {
    completed: 0,
    refusedQueueFull: 0,
    refusedWaitTooLong: 0,
    refusedAtDeadline: 0,
    maxWaitMs: 0,
    maxActive: 0,
  };

  /** The expected wait of a caller behind `ahead` waiters, all slots busy. */
  const expectedWaitMs = (ahead: number) => Math.ceil(((ahead + 1) * averageRunMs) / maxConcurrent);

  function refuse(reason: 'queue_full' | 'wait_too_long', atDeadline = false): HashGateBusyError {
    if (reason === 'queue_full') stats.refusedQueueFull++;
    else if (atDeadline) stats.refusedAtDeadline++;
    else stats.refusedWaitTooLong++;
    return new HashGateBusyError(reason, expectedWaitMs(queue.length));
  }

  function acquire(): Promise<void> {
    if (active < maxConcurrent && queue.length === 0) {
      active++;
      stats.maxActive = Math.max(stats.maxActive, active);
      return Promise.resolve();
    }
    if (queue.length >= limits.maxQueued) return Promise.reject(refuse('queue_full'));
    if (expectedWaitMs(queue.length) > limits.maxWaitMs) return Promise.reject(refuse('wait_too_long'));
    const enqueuedAt = performance.now();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        admit: () => {
          clearTimeout(waiter.timer);
          stats.maxWaitMs = Math.max(stats.maxWaitMs, performance.now() - enqueuedAt);
          resolve();
        },
        timer: setTimeout(() => {
          const at = queue.indexOf(waiter);
          if (at >= 0) queue.splice(at, 1);
          stats.maxWaitMs = Math.max(stats.maxWaitMs, performance.now() - enqueuedAt);
          reject(refuse('wait_too_long', true));
        }, limits.maxWaitMs),
      };
      queue.push(waiter);
    });
  }

  function release(): void {
    const next = queue.shift();
    // The slot passes straight on to the next waiter, if any: `active` is then unchanged.
    if (next) next.admit();
    else active--;
  }

  return {
    /** Runs `fn` in a slot; rejects with {@link HashGateBusyError} when none can be had in time. */
    async run<T>(fn: () => Promise<T>): Promise<T> {
      await acquire();
      const started = performance.now();
      try {
        return await fn();
      } finally {
        averageRunMs = 0.8 * averageRunMs + 0.2 * (performance.now() - started);
        stats.completed++;
        release();
      }
    },
    stats(): HashGateStats {
      return { ...stats, active, queued: queue.length, averageRunMs: Math.round(averageRunMs) };
    },
  };
}

export type HashGate = ReturnType<typeof createHashGate>;

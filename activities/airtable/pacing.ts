import type { Pool } from 'pg';
import { sha256 } from '../../core/crypto';

/** Airtable's documented limits. */
export const AIRTABLE_LIMITS = {
  /** @default 5 requests per second per base */
  perBasePerSecond: 5,
  /** @default 50 requests per second per token */
  perTokenPerSecond: 50,
} as const;

/** Options of {@link PostgresPacer}. */
export interface PacerOptions {
  /** @default 5 */
  perBasePerSecond?: number;
  /** @default 50 */
  perTokenPerSecond?: number;
  /**
   * Added to the one-second window, so that jitter between reserving a start time and the request
   * reaching Airtable cannot squeeze a sixth request into a second. @default 75
   */
  marginMs?: number;
  /** A request that would leave later than this after its slot gives the slot up and takes a new one. @default 20 */
  lateToleranceMs?: number;
}

/** Decides when the next request to a base may start. */
export interface AirtablePacer {
  /** Resolves when a request to `baseId` with `token` may be sent; rejects if `signal` aborts first. */
  acquire(baseId: string, token: string, signal?: AbortSignal): Promise<void>;
  /** After a 429 nothing succeeds for 30 s: hold every request of the base (and token) until then. */
  penalize(baseId: string, token: string, untilMs: number): Promise<void>;
}

/** The key a token is paced under: a digest, so the pacing table holds nothing secret. */
export function tokenKey(token: string): string {
  return `token:${sha256(token).slice(0, 32)}`;
}

/**
 * Pacing held in Postgres, so every worker process together stays within Airtable's limits
 * (a per-process limiter lets N workers send N times the limit). One round trip per request.
 */
export class PostgresPacer implements AirtablePacer {
  private readonly perBase: number;
  private readonly perToken: number;
  private readonly windowMs: number;
  private readonly lateToleranceMs: number;

  constructor(
    private readonly pool: Pool,
    options: PacerOptions = {},
  ) {
    this.perBase = options.perBasePerSecond ?? AIRTABLE_LIMITS.perBasePerSecond;
    this.perToken = options.perTokenPerSecond ?? AIRTABLE_LIMITS.perTokenPerSecond;
    this.windowMs = 1000 + (options.marginMs ?? 75);
    this.lateToleranceMs = options.lateToleranceMs ?? 20;
  }

  async acquire(baseId: string, token: string, signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const { rows } = await this.pool.query<{ slot: Date; now: Date }>(
        `SELECT airtable_reserve_slot($1::text[], $2::int[], make_interval(secs => $3)) AS slot, clock_timestamp() AS now`,
        [[`base:${baseId}`, tokenKey(token)], [this.perBase, this.perToken], this.windowMs / 1000],
      );
      const answered = Date.now();
      const { slot, now } = rows[0]!;
      // The database's clock decides. Its \`now\` was read at the end of the call, so mapping it onto the
      // moment the answer arrived can only make us late, never early.
      const target = slot.getTime() - now.getTime() + answered;
      await sleep(target - Date.now(), signal);
      // A slot is a promise about when the request leaves. One that leaves late (a stalled event
      // loop, a slow answer from Postgres) would crowd the requests after it, so it takes a new slot.
      if (Date.now() - target <= this.lateToleranceMs) return;
    }
  }

  async penalize(baseId: string, token: string, untilMs: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO airtable_pacing (key, penalty_until) SELECT k, clock_timestamp() + make_interval(secs => $2)
         FROM unnest($1::text[]) AS k
       ON CONFLICT (key) DO UPDATE SET penalty_until = greatest(airtable_pacing.penalty_until, EXCLUDED.penalty_until)`,
      [[`base:${baseId}`, tokenKey(token)], Math.max(0, untilMs - Date.now()) / 1000],
    );
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

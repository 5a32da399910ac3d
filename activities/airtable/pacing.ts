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
  private readonly clock = new ClockMapping(10_000);

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
    // After a quiet spell, one more reading of the database's clock before relying on the mapping.
    if (!this.clock.fresh(performance.now())) await this.readClock();
    for (;;) {
      signal?.throwIfAborted();
      const { rows } = await this.pool.query<{ slot_ms: number; now_ms: number }>(
        `SELECT extract(epoch FROM slot)::float8 * 1000 AS slot_ms, ${NOW_MS} AS now_ms
           FROM (SELECT airtable_reserve_slot($1::text[], $2::int[], make_interval(secs => $3)) AS slot) r`,
        [[`base:${baseId}`, tokenKey(token)], [this.perBase, this.perToken], this.windowMs / 1000],
      );
      const { slot_ms: slotMs, now_ms: nowMs } = rows[0]!;
      this.clock.add(nowMs, performance.now());
      // The database's start time on this process's clock, refined by the readings that arrive meanwhile.
      const target = () => slotMs + this.clock.offset(performance.now());
      await sleepUntil(target, signal);
      // A slot is a promise about when the request leaves. One that leaves late (a stalled event
      // loop, a slow answer from Postgres) would crowd the requests after it, so it takes a new slot.
      if (performance.now() - target() <= this.lateToleranceMs) return;
    }
  }

  private async readClock(): Promise<void> {
    const { rows } = await this.pool.query<{ now_ms: number }>(`SELECT ${NOW_MS} AS now_ms`);
    this.clock.add(rows[0]!.now_ms, performance.now());
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

/** The database's clock in epoch milliseconds, with its microseconds. */
const NOW_MS = 'extract(epoch FROM clock_timestamp())::float8 * 1000';

/**
 * Maps the database's clock onto this process's monotonic clock. The database reads its clock
 * before its answer arrives, so each answer bounds the offset (local time minus database time)
 * from above. Mapping a database time with the smallest bound of the last `horizonMs` can never make
 * a request early, and a slow answer (a stalled event loop, a queue on the token's row) no longer
 * pushes the request later than its slot. The horizon keeps clock drift out (50 ppm is 0.5 ms per 10 s).
 */
class ClockMapping {
  /** Sliding-window minimum: bounds increase from front to back, as do their times. */
  private readonly bounds: Array<{ at: number; bound: number }> = [];

  constructor(private readonly horizonMs: number) {}

  /** Records that the database's clock read `dbMs` no later than this process's `answeredAt`. */
  add(dbMs: number, answeredAt: number): void {
    const bound = answeredAt - dbMs;
    while (this.bounds.length > 0 && this.bounds[this.bounds.length - 1]!.bound >= bound) this.bounds.pop();
    this.bounds.push({ at: answeredAt, bound });
  }

  /** Whether a reading from the last `horizonMs` exists. */
  fresh(at: number): boolean {
    return this.bounds.length > 0 && this.bounds[this.bounds.length - 1]!.at >= at - this.horizonMs;
  }

  /** The offset that maps a database time to a local time no earlier than it. */
  offset(at: number): number {
    while (this.bounds.length > 1 && this.bounds[0]!.at < at - this.horizonMs) this.bounds.shift();
    return this.bounds[0]!.bound;
  }
}

/** Resolves once `performance.now()` reaches `target()` (a timer alone may fire up to a millisecond early). */
async function sleepUntil(target: () => number, signal?: AbortSignal): Promise<void> {
  for (let ms = target() - performance.now(); ms > 0; ms = target() - performance.now()) {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.ceil(ms));
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason ?? new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

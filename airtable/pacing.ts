import type { Pool } from 'pg';
import { sha256 } from '../core/crypto';
import { sharedWhileInFlight } from '../core/in-flight';
import {
  airtablePacingWait,
  airtableRateLimited,
  airtableRequestDuration,
  airtableRequests,
} from '../core/metrics';
import { AirtableApiError, RATE_LIMIT_PENALTY_MS } from './errors';

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
   * Added to the one-second window while a key has a start whose request is not known to have left:
   * it may leave up to `lateToleranceMs` late, and stall on its way out (a connection accepted late
   * by a busy receiver: 78 ms from its slot seen on an oversubscribed 2-core machine). @default 100
   */
  marginMs?: number;
  /**
   * Added to the one-second window once every start of a key is known to have left, and when: only
   * the way to Airtable (network, Airtable's own queue) remains uncertain. @default 15
   */
  sentMarginMs?: number;
  /** A request that would leave later than this after its slot gives the slot up and takes a new one. @default 20 */
  lateToleranceMs?: number;
  /**
   * After a 429, this process paces the base with `marginMs` for every start (sent or not) this long:
   * the way to that Airtable is less even than `sentMarginMs` assumed. @default 600000 (10 minutes)
   */
  wideningMs?: number;
}

/** A reserved start. */
export interface PacedStart {
  /**
   * Tells the pacer the request has just been handed to an open connection (so it leaves now): the
   * start is then recorded as sent, at that time, and the requests after it need only the smaller margin.
   */
  left(): void;
}

/** What a request needs so that it leaves the moment its start comes. */
export interface Readiness {
  /** Whether the request would leave at once (an open connection is idle, say). */
  ready(): boolean;
  /** Gets it ready (opens a connection): before booking a start, and after giving one back. */
  prepare(): Promise<void>;
}

/** Decides when the next request to a base may start. */
export interface AirtablePacer {
  /**
   * Resolves when a request to `baseId` with `token` may be sent; rejects if `signal` aborts first.
   * With `readiness`, a start that comes while the request is not ready is given back once.
   */
  acquire(baseId: string, token: string, signal?: AbortSignal, readiness?: Readiness): Promise<PacedStart>;
  /** After a 429 nothing succeeds for 30 s: hold every request of the base (and token) until then. */
  penalize(baseId: string, token: string, untilMs: number): Promise<void>;
}

/**
 * One paced request: waits for its start, sends it, and after a 429 holds the base and token for
 * Airtable's 30 s penalty, for every process.
 */
export async function paced<T>(
  pacer: AirtablePacer,
  baseId: string,
  token: string,
  signal: AbortSignal | undefined,
  request: (start: PacedStart) => Promise<T>,
  readiness?: Readiness,
  /** What the request does, for the metrics (a fixed name such as `list_records`). @default 'other' */
  operation = 'other',
): Promise<T> {
  const waiting = airtablePacingWait.startTimer({ operation });
  const start = await pacer.acquire(baseId, token, signal, readiness);
  waiting();
  const sending = airtableRequestDuration.startTimer({ operation });
  try {
    const result = await request(start);
    airtableRequests.inc({ operation, status: '2xx' });
    return result;
  } catch (err) {
    const status =
      err instanceof AirtableApiError ? (err.status === 0 ? 'network' : String(err.status)) : 'error';
    airtableRequests.inc({ operation, status });
    if (err instanceof AirtableApiError && err.status === 429) {
      airtableRateLimited.inc({ operation });
      await pacer.penalize(baseId, token, err.at + RATE_LIMIT_PENALTY_MS);
    }
    throw err;
  } finally {
    sending();
  }
}

/** The key a token is paced under: a digest, so the pacing table holds nothing secret. */
export function tokenKey(token: string): string {
  return `token:${sha256(token).slice(0, 32)}`;
}

/** The rows a request to `baseId` with `token` is paced under: its base's and its token's. */
function pacingKeys(baseId: string, token: string): string[] {
  return [`base:${baseId}`, tokenKey(token)];
}

/** The database's clock in epoch milliseconds, with its microseconds. */
const NOW_MS = 'extract(epoch FROM clock_timestamp())::float8 * 1000';

/** Books a start; answers it as text (to give it back exactly) and in milliseconds, with the clock. */
const RESERVE_SLOT = `SELECT slot::text AS slot, extract(epoch FROM slot)::float8 * 1000 AS slot_ms, ${NOW_MS} AS now_ms
  FROM (SELECT airtable_reserve_slot($1::text[], $2::int[], $3::interval[], make_interval(secs => $4),
          make_interval(secs => $5), $6::timestamptz[], $7::timestamptz[]) AS slot) r`;

/**
 * Pacing held in Postgres, so every worker process together stays within Airtable's limits
 * (a per-process limiter lets N workers send N times the limit). One round trip per request.
 */
export class PostgresPacer implements AirtablePacer {
  private readonly limits: number[];
  private readonly gaps: string[];
  private readonly windowSecs: number;
  private readonly sentWindowSecs: number;
  private readonly lateToleranceMs: number;
  private readonly wideningMs: number;
  private readonly clock = new ClockMapping(10_000);
  /**
   * Keys (base and token) that drew a 429 in this process, and until when Airtable refuses them;
   * `wideningMs` after that, their sent starts still get the wide margin.
   */
  private readonly penalties = new Map<string, number>();
  /** Starts that have left since the last reservation for the same keys: reported with the next one. */
  private readonly left = new Map<string, Array<{ slot: string; atMs: number }>>();
  /**
   * Turns to book, per base and token: at most one window's worth of this process's starts are
   * booked and not yet known to have left. A burst of 100 requests used to book all 100 at once,
   * before any had left, so every window of it was spaced with the wide margin (one second and
   * `marginMs` from the start five places before); booked as the ones before them leave, all but
   * the first window get the small one, and the database holds 5 bookings instead of 100.
   */
  private readonly turns: Turns;
  /** This process's booked starts per base and token, in slot order: their turns end in that order. */
  private readonly order = new SlotOrder();
  /** The reading of the database's clock, shared by the callers that ask while it is in flight. */
  private readonly clockReading = sharedWhileInFlight<'clock', void>();

  constructor(
    private readonly pool: Pool,
    options: PacerOptions = {},
  ) {
    const perToken = options.perTokenPerSecond ?? AIRTABLE_LIMITS.perTokenPerSecond;
    const windowMs = 1000 + (options.marginMs ?? 100);
    this.limits = [options.perBasePerSecond ?? AIRTABLE_LIMITS.perBasePerSecond, perToken];
    // A token's starts are spread over its window: all of them leaving together at each window
    // boundary would make the workers and Airtable take them in one burst, and the last ones late.
    this.gaps = ['0', `${windowMs / perToken} milliseconds`];
    this.windowSecs = windowMs / 1000;
    this.sentWindowSecs = (1000 + (options.sentMarginMs ?? 15)) / 1000;
    this.lateToleranceMs = options.lateToleranceMs ?? 20;
    this.wideningMs = options.wideningMs ?? 600_000;
    this.turns = new Turns(this.limits[0]!);
  }

  async acquire(
    baseId: string,
    token: string,
    signal?: AbortSignal,
    readiness?: Readiness,
  ): Promise<PacedStart> {
    const keys = pacingKeys(baseId, token);
    const pair = keys.join(' ');
    const turn = await this.turns.take(pair, signal);
    let booked: { slot: string; place: Place };
    try {
      booked = await this.book(keys, pair, signal, readiness);
    } catch (err) {
      turn.end();
      throw err;
    }
    const { slot, place } = booked;
    // Turns pass in slot order: two starts due in one turn of the event loop can report out of
    // order (a timer fires before an earlier start's last spin), and a booking made between the two
    // reports would see the earlier start unsent and space from its slot with the wide margin.
    const end = () => place.done(() => turn.end());
    let reported = false;
    // A caller that does not say its request left (it had no open connection to leave on) ends its
    // turn once it has had the chance to: the next start is booked without its report.
    setImmediate(() => {
      if (!reported) end();
    });
    return {
      left: () => {
        reported = true;
        // Queued after the tick in which Node writes the request to its socket (a reused
        // connection is handed over on the next tick), then after the I/O that follows: the
        // start is recorded when this process is next responsive. A stall right after the write
        // (a busy or oversubscribed machine) may hold the request's arrival as long where the
        // receiver shares the machine or the event loop, so it counts as leaving that late.
        process.nextTick(() =>
          setImmediate(() => {
            const atMs = this.clock.latestDatabaseTime(performance.now());
            // Reports older than the database keeps starts for are of no use: drop them.
            const reports = (this.left.get(pair) ?? []).filter((l) => l.atMs > atMs - 2_000);
            this.left.delete(pair);
            this.left.set(pair, [...reports, { slot, atMs }]);
            if (this.left.size > 1_000) this.left.delete(this.left.keys().next().value!);
            end();
          }),
        );
      },
    };
  }

  /** Books a start and waits for it; answers the slot, and its place in line, when the request may leave. */
  private async book(
    keys: string[],
    pair: string,
    signal: AbortSignal | undefined,
    readiness: Readiness | undefined,
  ): Promise<{ slot: string; place: Place }> {
    // After a quiet spell, one more reading of the database's clock: not waited for, since the
    // booking's own answer maps its slot no earlier than it is (a start due at once leaves at once),
    // and a tighter reading that lands while a later start waits refines when it leaves.
    if (!this.clock.fresh(performance.now())) void this.readClock().catch(() => undefined);
    if (readiness && !readiness.ready()) await readiness.prepare();
    let waitedForReadiness = false;
    for (;;) {
      signal?.throwIfAborted();
      const left = this.left.get(pair) ?? [];
      this.left.delete(pair);
      const sentAt = performance.now();
      const { rows } = await this.pool.query<{ slot: string; slot_ms: number; now_ms: number }>({
        // Named: each connection parses and plans it once.
        name: 'airtable-reserve-slot',
        text: RESERVE_SLOT,
        values: [
          keys,
          this.limits,
          this.gaps,
          this.windowSecs,
          (this.penalties.get(pair) ?? -Infinity) + this.wideningMs > Date.now()
            ? this.windowSecs
            : this.sentWindowSecs,
          left.map((l) => l.slot),
          left.map((l) => isoMicros(l.atMs)),
        ],
      });
      const { slot, slot_ms: slotMs, now_ms: nowMs } = rows[0]!;
      this.clock.add(sentAt, nowMs, performance.now());
      const place = this.order.take(pair, slotMs);
      // The database's start time on this process's clock, refined by the readings that arrive meanwhile.
      const target = () => slotMs + this.clock.offset(performance.now());
      try {
        await sleepUntil(target, signal);
      } catch (err) {
        place.leave();
        await this.release(keys, slot).catch(() => undefined);
        throw err;
      }
      // A 429 that came back while this start waited: leaving now would only be refused, and
      // Airtable counts its 30 s again from each refused request. Booked anew, after the penalty.
      const penaltyLeftMs = (this.penalties.get(pair) ?? 0) - Date.now();
      if (penaltyLeftMs > 0) {
        place.leave();
        await this.release(keys, slot);
        const until = performance.now() + penaltyLeftMs;
        await sleepUntil(() => until, signal);
        continue;
      }
      // A slot is a promise about when the request leaves. One that would leave late (a stalled
      // event loop, a slow answer from Postgres, a connection still to be opened) would crowd the
      // requests after it: it is handed back and a new one taken. Readiness waits once only: an
      // endpoint that cannot be reached fails on the request itself.
      const onTime = performance.now() - target() <= this.lateToleranceMs;
      const notReady = onTime && !waitedForReadiness && readiness !== undefined && !readiness.ready();
      if (onTime && !notReady) return { slot, place };
      place.leave();
      await this.release(keys, slot);
      if (notReady) {
        waitedForReadiness = true;
        await readiness.prepare();
      }
    }
  }

  /**
   * Reads the database's clock once for every caller waiting on it: after a quiet spell a burst of
   * requests would otherwise send one reading each, and the first booking would queue behind them all.
   */
  private readClock(): Promise<void> {
    return this.clockReading('clock', async () => {
      const sentAt = performance.now();
      const { rows } = await this.pool.query<{ now_ms: number }>(`SELECT ${NOW_MS} AS now_ms`);
      this.clock.add(sentAt, rows[0]!.now_ms, performance.now());
    });
  }

  private async release(keys: string[], slot: string): Promise<void> {
    await this.pool.query(`SELECT airtable_release_slot($1::text[], $2::timestamptz)`, [keys, slot]);
  }

  async penalize(baseId: string, token: string, untilMs: number): Promise<void> {
    const keys = pacingKeys(baseId, token);
    const pair = keys.join(' ');
    this.penalties.set(pair, Math.max(untilMs, this.penalties.get(pair) ?? 0));
    if (this.penalties.size > 1_000) this.penalties.delete(this.penalties.keys().next().value!);
    await this.pool.query(
      `INSERT INTO airtable_pacing (key, penalty_until) SELECT k, clock_timestamp() + make_interval(secs => $2)
         FROM unnest($1::text[]) AS k
       ON CONFLICT (key) DO UPDATE SET penalty_until = greatest(airtable_pacing.penalty_until, EXCLUDED.penalty_until)`,
      [keys, Math.max(0, untilMs - Date.now()) / 1000],
    );
  }
}

/** Up to `limit` holders per key at once; the others wait in arrival order. */
class Turns {
  private readonly keys = new Map<string, { held: number; waiting: Array<() => void> }>();

  constructor(private readonly limit: number) {}

  /** Waits for a turn at `key` (rejects if `signal` aborts first); `end()` passes it on, once. */
  async take(key: string, signal?: AbortSignal): Promise<{ end(): void }> {
    signal?.throwIfAborted();
    let entry = this.keys.get(key);
    if (!entry) this.keys.set(key, (entry = { held: 0, waiting: [] }));
    if (entry.held < this.limit) entry.held++;
    else {
      const queue = entry.waiting;
      await new Promise<void>((resolve, reject) => {
        const go = () => {
          signal?.removeEventListener('abort', abort);
          resolve();
        };
        const abort = () => {
          queue.splice(queue.indexOf(go), 1);
          reject(signal!.reason);
        };
        queue.push(go);
        signal?.addEventListener('abort', abort, { once: true });
      });
    }
    let ended = false;
    return {
      end: () => {
        if (ended) return;
        ended = true;
        const entry = this.keys.get(key)!;
        const next = entry.waiting.shift();
        // The turn goes to the next in line as it is; with nobody waiting, it is returned.
        if (next) next();
        else if (--entry.held === 0) this.keys.delete(key);
      },
    };
  }
}

/** A booked start's place in its key's line (see {@link SlotOrder}). */
interface Place {
  /** The start is done with (it left, or had its chance to): `then` runs once every earlier start is done too. */
  done(then: () => void): void;
  /** The slot was given back: the starts after it no longer wait for it. */
  leave(): void;
}

/**
 * Booked starts per key in slot order, so that what follows each one (its turn passing on) happens
 * in that order even when a later start finishes first.
 */
class SlotOrder {
  private readonly lines = new Map<string, Array<{ slotMs: number; then?: () => void }>>();

  take(key: string, slotMs: number): Place {
    let line = this.lines.get(key);
    if (!line) this.lines.set(key, (line = []));
    const entry: { slotMs: number; then?: () => void } = { slotMs };
    let at = line.length;
    while (at > 0 && line[at - 1]!.slotMs > slotMs) at--;
    line.splice(at, 0, entry);
    let settled = false;
    const settle = (then?: () => void) => {
      if (settled) return;
      settled = true;
      if (then) entry.then = then;
      else line.splice(line.indexOf(entry), 1);
      this.flush(key, line);
    };
    return { done: (then) => settle(then), leave: () => settle() };
  }

  /** Runs the `then` of the done starts at the front of the line, in order. */
  private flush(key: string, line: Array<{ slotMs: number; then?: () => void }>): void {
    while (line[0]?.then) line.shift()!.then!();
    if (line.length === 0 && this.lines.get(key) === line) this.lines.delete(key);
  }
}

/**
 * Maps the database's clock onto this process's monotonic clock. The database reads its clock
 * between a query's sending and its answer, so each query bounds the offset (local time minus
 * database time) from both sides. Mapping a database time with the smallest upper bound of the last
 * `horizonMs` can never make a request early, and a slow answer (a stalled event loop, a queue on
 * the token's row) no longer pushes the request later than its slot; the largest lower bound maps
 * a local time to the latest database time it can be. The horizon keeps clock drift out (50 ppm is
 * 0.5 ms per 10 s).
 */
class ClockMapping {
  /** Sliding-window minimum of the upper bounds: they increase from front to back, as do their times. */
  private readonly upper: Array<{ at: number; bound: number }> = [];
  /** Sliding-window maximum of the lower bounds: they decrease from front to back. */
  private readonly lower: Array<{ at: number; bound: number }> = [];

  constructor(private readonly horizonMs: number) {}

  /** Records that the database's clock read `dbMs` between this process's `sentAt` and `answeredAt`. */
  add(sentAt: number, dbMs: number, answeredAt: number): void {
    push(this.upper, { at: answeredAt, bound: answeredAt - dbMs }, (newer, older) => newer <= older);
    push(this.lower, { at: answeredAt, bound: sentAt - dbMs }, (newer, older) => newer >= older);
  }

  /** Whether a reading from the last `horizonMs` exists. */
  fresh(at: number): boolean {
    return this.upper.length > 0 && this.upper[this.upper.length - 1]!.at >= at - this.horizonMs;
  }

  /** The offset that maps a database time to a local time no earlier than it. */
  offset(at: number): number {
    return this.front(this.upper, at);
  }

  /** The latest database time the local time `at` can be. */
  latestDatabaseTime(at: number): number {
    return at - this.front(this.lower, at);
  }

  /** The best bound of the last `horizonMs` (the newest one if all are older). */
  private front(bounds: Array<{ at: number; bound: number }>, at: number): number {
    while (bounds.length > 1 && bounds[0]!.at < at - this.horizonMs) bounds.shift();
    return bounds[0]!.bound;
  }
}

/** Appends to a monotonic queue, first dropping the entries the new one makes useless. */
function push(
  bounds: Array<{ at: number; bound: number }>,
  entry: { at: number; bound: number },
  better: (newer: number, older: number) => boolean,
): void {
  while (bounds.length > 0 && better(entry.bound, bounds[bounds.length - 1]!.bound)) bounds.pop();
  bounds.push(entry);
}

/** `ms` (epoch milliseconds) as an ISO time with microseconds, rounded up. */
function isoMicros(ms: number): string {
  const micros = Math.ceil(ms * 1000);
  const iso = new Date(Math.floor(micros / 1000)).toISOString();
  return `${iso.slice(0, -1)}${String(micros % 1000).padStart(3, '0')}Z`;
}

/**
 * A timer wakes this long before a start, and the last stretch is waited out turn by turn of the
 * event loop: Node's timers fire 1–3 ms late, and every late start delays the fifth one after it.
 */
const SPIN_MS = 2;

/** Resolves once `performance.now()` reaches `target()`, within a fraction of a millisecond. */
async function sleepUntil(target: () => number, signal?: AbortSignal): Promise<void> {
  for (let ms = target() - performance.now(); ms > 0; ms = target() - performance.now()) {
    signal?.throwIfAborted();
    if (ms <= SPIN_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      continue;
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms - SPIN_MS);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason ?? new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

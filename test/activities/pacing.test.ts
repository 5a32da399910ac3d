import { randomUUID } from 'node:crypto';
import type { QueryResult } from 'pg';
import { AIRTABLE_LIMITS, PostgresPacer, tokenKey } from '../../airtable/pacing';
import { createPool, type Pool } from '../../db/pool';
import { busiestSecond, tightestSpan } from '@airtable-ops/airtable-emulator';
import { TEST_ENV } from '../support/env';

const newBaseId = () => `app${randomUUID().replace(/-/g, '').slice(0, 14)}`;

// No assertion here bounds how long anything takes: the rate is measured by bench/pacing.ts. These
// tests assert properties that hold at any machine speed:
//  * spacing of the recorded starts. The pacer books a base's sixth start 1000 + marginMs after its
//    first, and a token's starts (1000 + marginMs) / limit apart; a start then leaves up to
//    `lateToleranceMs` late or is booked again. The margin is the budget for that lateness, the clock
//    mapping and the recording of a start, so the recorded starts keep the booked spacing less the
//    margin (for a base: Airtable's own one-second window). A slow machine only wakes the pacer later
//    and a late start is booked again: slowness can spread starts out, never crowd them;
//  * how long the database made a request wait: `slotMs - nowMs`, the slot it booked and its clock,
//    answered by the booking statement. A later booking only finds more of a window gone, so a slow
//    machine cannot stretch that wait;
//  * lower bounds on waits, which a slow machine can only make longer.

/** The pacer's default `marginMs` (airtable/pacing.ts). */
const MARGIN_MS = 100;
/** How far apart the pacer books a token's starts with the default margin and limit. */
const TOKEN_GAP_MS = (1000 + MARGIN_MS) / AIRTABLE_LIMITS.perTokenPerSecond;

/** A start the database booked: for which keys, for when, and its clock when it booked it. */
interface Booking {
  keys: string[];
  slotMs: number;
  nowMs: number;
}

/** `pool`, with every start booked through it recorded (a booking answers its slot and the clock). */
function recordingBookings(pool: Pool): { pool: Pool; bookings: Booking[] } {
  const bookings: Booking[] = [];
  const query = async (...args: unknown[]): Promise<QueryResult> => {
    const result = await (pool.query as (...a: unknown[]) => Promise<QueryResult>).apply(pool, args);
    const row = result.rows[0] as { slot_ms?: number; now_ms?: number } | undefined;
    if (row?.slot_ms !== undefined && row.now_ms !== undefined)
      bookings.push({
        keys: (args[0] as { values: [string[]] }).values[0],
        slotMs: row.slot_ms,
        nowMs: row.now_ms,
      });
    return result;
  };
  return { pool: Object.assign(Object.create(pool) as Pool, { query }), bookings };
}

/** When the base's starts known to have left left (epoch ms, in order), as the database keeps them. */
async function leftAt(pool: Pool, baseId: string): Promise<number[]> {
  const { rows } = await pool.query<{ sent: number[] }>(
    `SELECT ARRAY(SELECT extract(epoch FROM x)::float8 * 1000 FROM unnest(sent) AS x ORDER BY x) AS sent
       FROM airtable_pacing WHERE key = $1`,
    [`base:${baseId}`],
  );
  return rows[0]!.sent;
}

/** The latest booking for `baseId`. */
function lastBooking(bookings: Booking[], baseId: string): Booking {
  const booking = bookings.filter((b) => b.keys.includes(`base:${baseId}`)).at(-1);
  if (!booking) throw new Error(`nothing booked for ${baseId}`);
  return booking;
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 5));
}

describe('PostgresPacer', () => {
  // Two pools stand for two worker processes: the pacing must hold across them.
  let pools: Pool[];
  beforeAll(() => {
    pools = [createPool(process.env[TEST_ENV.databaseUrl]!), createPool(process.env[TEST_ENV.databaseUrl]!)];
  });
  afterAll(() => Promise.all(pools.map((p) => p.end())));

  /** Concurrent callers take starts; answers each base's start times (ms, monotonic clock). */
  async function hammer(
    pacers: PostgresPacer[],
    baseIds: string[],
    token: string,
    perCaller: number,
  ): Promise<Map<string, number[]>> {
    const times = new Map<string, number[]>(baseIds.map((b) => [b, []]));
    await Promise.all(
      pacers.flatMap((pacer) =>
        baseIds.flatMap((baseId) =>
          [0, 1, 2].map(async () => {
            for (let i = 0; i < perCaller; i++) {
              await pacer.acquire(baseId, token);
              times.get(baseId)!.push(performance.now());
            }
          }),
        ),
      ),
    );
    return times;
  }

  it('keeps one base within 5 starts in any second, across processes', async () => {
    const baseId = newBaseId();
    const times = (
      await hammer(
        pools.map((p) => new PostgresPacer(p)),
        [baseId],
        `tok-${randomUUID()}`,
        4,
      )
    ).get(baseId)!;
    expect(times).toHaveLength(24);
    // Six starts are booked at least 1000 + MARGIN_MS apart, so recorded at least Airtable's 1000
    // apart. Without pacing all 24 would start within a few milliseconds.
    expect(busiestSecond(times)).toBeLessThanOrEqual(5);
  });

  it('keeps a token within its limit in any second across its bases, spread over the window', async () => {
    const perToken = 8;
    const pacers = pools.map(
      (p) => new PostgresPacer(p, { perTokenPerSecond: perToken, marginMs: MARGIN_MS }),
    );
    const token = `tok-${randomUUID()}`;
    const bases = [1, 2, 3].map((i) => `app${i}${randomUUID().replace(/-/g, '').slice(0, 13)}`);
    const times = await hammer(pacers, bases, token, 2);
    const all = [...times.values()].flat();
    expect(all).toHaveLength(36);
    expect(busiestSecond(all)).toBeLessThanOrEqual(perToken);
    for (const baseTimes of times.values()) expect(busiestSecond(baseTimes)).toBeLessThanOrEqual(5);
    // Spread over the window, not eight at once: booked (1000 + MARGIN_MS) / 8 ≈ 134 ms apart, so
    // recorded at least that less the margin (≈ 59 ms) apart; eight at once would be ~0 ms apart.
    expect(tightestSpan(all, 2)).toBeGreaterThanOrEqual((1000 + MARGIN_MS) / perToken - MARGIN_MS);
  });

  it('does not hold a base back behind another base of its token that waits for its window', async () => {
    const { pool, bookings } = recordingBookings(pools[0]!);
    const pacer = new PostgresPacer(pool);
    const token = `tok-${randomUUID()}`;
    const [busy, idle] = [newBaseId(), newBaseId()];
    const first = performance.now();
    await pacer.acquire(busy, token);
    const firstSlot = lastBooking(bookings, busy).slotMs;
    for (let i = 1; i < 5; i++) await pacer.acquire(busy, token);
    const booked = bookings.length;
    const sixth = pacer.acquire(busy, token).then(() => performance.now());
    await until(() => bookings.length > booked); // the sixth has its start, a window after the first
    expect(lastBooking(bookings, busy).slotMs - firstSlot).toBeGreaterThanOrEqual(1000 + MARGIN_MS - 0.01);
    await pacer.acquire(idle, token);
    // Booked for when it asked, give or take the token's spacing around the busy base's starts (at
    // most three gaps); held behind the sixth, it would wait for most of the busy base's window.
    const idleBooking = lastBooking(bookings, idle);
    expect(idleBooking.slotMs - idleBooking.nowMs).toBeLessThanOrEqual(3 * TOKEN_GAP_MS);
    // The sixth itself waits out the window.
    expect((await sixth) - first).toBeGreaterThanOrEqual(1_000);
  });

  it('needs the small margin only once the requests are known to have left', async () => {
    const token = `tok-${randomUUID()}`;
    const { pool, bookings } = recordingBookings(pools[0]!);
    const margins = { marginMs: 200, sentMarginMs: 20 };
    const pacer = new PostgresPacer(pool, margins);
    const sixthAfter = async (baseId: string, report: boolean) => {
      const first = performance.now();
      for (let i = 0; i < 5; i++) {
        const start = await pacer.acquire(baseId, token);
        if (report) start.left();
        await new Promise((r) => setImmediate(r));
      }
      await pacer.acquire(baseId, token);
      return performance.now() - first;
    };
    const reported = newBaseId();
    expect(await sixthAfter(reported, true)).toBeGreaterThanOrEqual(1_000);
    // Once all five have left, the sixth is booked for the later of when it asked and one second and
    // the small margin after the first left (or the token's spacing after the last), never the large
    // margin after the first was booked: the database made it wait no longer than that.
    const sixth = lastBooking(bookings, reported);
    const left = await leftAt(pools[0]!, reported);
    const tokenGap = (1000 + margins.marginMs) / AIRTABLE_LIMITS.perTokenPerSecond;
    const allowed =
      Math.max((left[0] ?? -Infinity) + 1000 + margins.sentMarginMs, ...left.map((at) => at + tokenGap)) -
      sixth.nowMs;
    expect(sixth.slotMs - sixth.nowMs).toBeLessThanOrEqual(Math.max(0, allowed) + 0.01);
    expect(await sixthAfter(newBaseId(), false)).toBeGreaterThanOrEqual(1000 + margins.marginMs);
  });

  it('gives the large margin only to the starts not known to have left, not to the whole base', async () => {
    // Two listings of one base: each books while the other's request still waits for its start.
    const token = `tok-${randomUUID()}`;
    const { pool, bookings } = recordingBookings(pools[0]!);
    const margins = { marginMs: 200, sentMarginMs: 20 };
    const pacer = new PostgresPacer(pool, margins);
    const baseId = newBaseId();
    for (let i = 0; i < 4; i++) {
      const start = await pacer.acquire(baseId, token);
      start.left();
      await new Promise((r) => setImmediate(r));
    }
    await pacer.acquire(baseId, token); // booked, never reported as left
    await pacer.acquire(baseId, token);
    const sixth = lastBooking(bookings, baseId);
    const left = await leftAt(pools[0]!, baseId);
    expect(left).toHaveLength(4);
    // The first start has left: the sixth keeps one second and the small margin from it, not the
    // large one (the fifth, still waiting, bounds starts after it, not the whole window).
    expect(sixth.slotMs).toBeLessThanOrEqual(left[0]! + 1000 + margins.sentMarginMs + 0.01);
    expect(sixth.slotMs).toBeGreaterThanOrEqual(left[0]! + 1000 + margins.sentMarginMs - 0.01);
  });

  it('books a burst as the starts before it leave, so its later windows get the small margin', async () => {
    const token = `tok-${randomUUID()}`;
    const { pool, bookings } = recordingBookings(pools[0]!);
    const margins = { marginMs: 200, sentMarginMs: 20 };
    const pacer = new PostgresPacer(pool, margins);
    const baseId = newBaseId();
    // Ten requests at once, each handed to its connection as soon as its start comes.
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        const start = await pacer.acquire(baseId, token);
        start.left();
      }),
    );
    await new Promise((r) => setTimeout(r, 10)); // the last reports are recorded, not booked
    await pacer.acquire(newBaseId(), token); // a booking on the token carries nothing for this base
    const mine = bookings
      .filter((b) => b.keys.includes(`base:${baseId}`))
      .sort((x, y) => x.slotMs - y.slotMs);
    expect(mine).toHaveLength(10);
    const left = await leftAt(pools[0]!, baseId);
    expect(left.length).toBeGreaterThanOrEqual(5);
    // The second window was booked once the starts five places before had left, and so spaced by
    // one second and the small margin from them (the first window's last departure bounds them all;
    // or the token's spacing after the start before, or the booking's own time): booked all at once,
    // before any had left, it would have been spaced by the large margin.
    const firstWindowLeft = left[4]!;
    const tokenGap = (1000 + margins.marginMs) / AIRTABLE_LIMITS.perTokenPerSecond;
    const narrow = [5, 6, 7, 8, 9].filter(
      (i) =>
        mine[i]!.slotMs <=
        Math.max(
          firstWindowLeft + 1000 + margins.sentMarginMs,
          mine[i - 1]!.slotMs + tokenGap,
          mine[i]!.nowMs,
        ) +
          0.01,
    );
    expect(narrow).toEqual([5, 6, 7, 8, 9]);
  });

  it('passes turns in slot order, so the next booking carries every earlier start that left', async () => {
    // A stand-in database that books every start as due at once and records what each booking
    // reported as left: the order of events below is then exact, with no timing involved.
    const reported: string[][] = [];
    let booked = 0;
    const database = {
      query: async (config: string | { values: unknown[] }) => {
        const nowMs = Date.now();
        if (typeof config === 'string') return { rows: [{ now_ms: nowMs }] };
        reported.push(config.values[5] as string[]);
        return { rows: [{ slot: `slot-${booked++}`, slot_ms: nowMs - 1, now_ms: nowMs }] };
      },
    } as unknown as Pool;
    const pacer = new PostgresPacer(database);
    const baseId = newBaseId();
    const first = await Promise.all(Array.from({ length: 5 }, () => pacer.acquire(baseId, 'tok')));
    const sixth = pacer.acquire(baseId, 'tok');
    // The later starts report first (as when two come due in one turn and the later one's timer fires
    // before the earlier one's last spin): the sixth is booked once the first has reported too.
    for (const start of [...first].reverse()) start.left();
    await sixth;
    expect(reported).toHaveLength(6);
    expect([...reported[5]!].sort()).toEqual(['slot-0', 'slot-1', 'slot-2', 'slot-3', 'slot-4']);
  });

  it('paces a base that drew a 429 with the large margin for every start', async () => {
    const token = `tok-${randomUUID()}`;
    const margins = { marginMs: 200, sentMarginMs: 20 };
    const pacer = new PostgresPacer(pools[0]!, margins);
    const baseId = newBaseId();
    await pacer.penalize(baseId, token, Date.now());
    const first = performance.now();
    for (let i = 0; i < 5; i++) {
      const start = await pacer.acquire(baseId, token);
      start.left();
      await new Promise((r) => setImmediate(r));
    }
    await pacer.acquire(baseId, token);
    expect(performance.now() - first).toBeGreaterThanOrEqual(1000 + margins.marginMs);
  });

  it('gets a request ready before booking, and once more if its start finds it not ready', async () => {
    const pacer = new PostgresPacer(pools[0]!);
    let prepared = 0;
    // Never ready (an endpoint that cannot be reached): prepared twice, then sent anyway.
    await pacer.acquire(newBaseId(), `tok-${randomUUID()}`, undefined, {
      ready: () => false,
      prepare: async () => void prepared++,
    });
    expect(prepared).toBe(2);
  });

  it('gives a start given back to the next request', async () => {
    const { pool, bookings } = recordingBookings(pools[0]!);
    const pacer = new PostgresPacer(pool);
    const token = `tok-${randomUUID()}`;
    const baseId = newBaseId();
    for (let i = 0; i < 5; i++) await pacer.acquire(baseId, token);
    const { rows } = await pools[0]!.query(
      `SELECT slots[5]::text AS last FROM airtable_pacing WHERE key = $1`,
      [`base:${baseId}`],
    );
    await pools[0]!.query(`SELECT airtable_release_slot($1, $2)`, [
      [`base:${baseId}`, tokenKey(token)],
      rows[0].last,
    ]);
    await pacer.acquire(baseId, token);
    // Booked for when it asked (give or take the token's spacing), not a window after the first start.
    const next = lastBooking(bookings, baseId);
    expect(next.slotMs - next.nowMs).toBeLessThanOrEqual(TOKEN_GAP_MS);
  });

  it('holds every request of a base after a 429 until the penalty ends', async () => {
    const pacer = new PostgresPacer(pools[0]!);
    const baseId = newBaseId();
    const token = `tok-${randomUUID()}`;
    // Timed from before the penalty is recorded: it ends at the time asked for, however long that took.
    const before = Date.now();
    await pacer.penalize(baseId, token, before + 1_500);
    await pacer.acquire(baseId, token);
    expect(Date.now() - before).toBeGreaterThanOrEqual(1_400);
  });

  it('keeps a start booked before a 429 from leaving during the penalty', async () => {
    const pacer = new PostgresPacer(pools[0]!, { perBasePerSecond: 1 });
    const baseId = newBaseId();
    const token = `tok-${randomUUID()}`;
    await pacer.acquire(baseId, token);
    // Booked a second on; the first request draws a 429 meanwhile.
    const second = pacer.acquire(baseId, token).then(() => Date.now());
    await new Promise((resolve) => setTimeout(resolve, 200));
    const penaltyEnds = Date.now() + 2_000;
    await pacer.penalize(baseId, token, penaltyEnds);
    expect(await second).toBeGreaterThanOrEqual(penaltyEnds);
  });

  it('gives up waiting when its signal aborts', async () => {
    const pacer = new PostgresPacer(pools[0]!);
    const baseId = newBaseId();
    const token = `tok-${randomUUID()}`;
    await pacer.penalize(baseId, token, Date.now() + 30_000);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('activity cancelled')), 100);
    await expect(pacer.acquire(baseId, token, controller.signal)).rejects.toThrow('activity cancelled');
  });

  it('gives up waiting for its turn to book when its signal aborts, and passes no turn on', async () => {
    const token = `tok-${randomUUID()}`;
    const { pool, bookings } = recordingBookings(pools[0]!);
    // No start is given back for leaving late (a loaded machine), so each of the ten books once.
    const pacer = new PostgresPacer(pool, { lateToleranceMs: 60_000 });
    const baseId = newBaseId();
    // Ten at once: the first five leave, the next five hold the base's turns while they wait for
    // the next window.
    const ten = Promise.all(Array.from({ length: 10 }, () => pacer.acquire(baseId, token)));
    await until(() => bookings.filter((b) => b.keys.includes(`base:${baseId}`)).length === 10);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('activity cancelled')), 50);
    await expect(pacer.acquire(baseId, token, controller.signal)).rejects.toThrow('activity cancelled');
    expect(bookings.filter((b) => b.keys.includes(`base:${baseId}`))).toHaveLength(10);
    await ten;
    // Every turn came back: the next request books and gets its start.
    await pacer.acquire(baseId, token);
    expect(bookings.filter((b) => b.keys.includes(`base:${baseId}`))).toHaveLength(11);
  });
});

import { randomUUID } from 'node:crypto';
import { PostgresPacer, tokenKey } from '../../airtable/pacing';
import { createPool, type Pool } from '../../db/pool';
import { busiestSecond, tightestSpan } from '@airtable-ops/airtable-emulator';
import { TEST_ENV } from '../support/env';

const newBaseId = () => `app${randomUUID().replace(/-/g, '').slice(0, 14)}`;

describe('PostgresPacer', () => {
  // Two pools stand for two worker processes: the pacing must hold across them.
  let pools: Pool[];
  beforeAll(() => {
    pools = [createPool(process.env[TEST_ENV.databaseUrl]!), createPool(process.env[TEST_ENV.databaseUrl]!)];
  });
  afterAll(() => Promise.all(pools.map((p) => p.end())));

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
              times.get(baseId)!.push(Date.now());
            }
          }),
        ),
      ),
    );
    return times;
  }

  it('keeps one base within 5 starts in any second, across processes, and near that rate', async () => {
    const baseId = newBaseId();
    const started = Date.now();
    const times = (
      await hammer(
        pools.map((p) => new PostgresPacer(p)),
        [baseId],
        `tok-${randomUUID()}`,
        4,
      )
    ).get(baseId)!;
    const elapsed = (Math.max(...times) - started) / 1000;
    expect(times).toHaveLength(24);
    expect(busiestSecond(times)).toBeLessThanOrEqual(5);
    // 24 starts: 5 at once, then 5 per 1.075 s → about 4.1 s; under 5 s means no needless waiting.
    expect(elapsed).toBeLessThan(5);
  });

  it('keeps a token within 50 starts in any second across its bases', async () => {
    const pacers = pools.map((p) => new PostgresPacer(p, { perTokenPerSecond: 8 }));
    const token = `tok-${randomUUID()}`;
    const bases = [1, 2, 3].map((i) => `app${i}${randomUUID().replace(/-/g, '').slice(0, 13)}`);
    const times = await hammer(pacers, bases, token, 2);
    const all = [...times.values()].flat();
    expect(all).toHaveLength(36);
    expect(busiestSecond(all)).toBeLessThanOrEqual(8);
    for (const baseTimes of times.values()) expect(busiestSecond(baseTimes)).toBeLessThanOrEqual(5);
    // Spread over the window, not eight at once: 1.075 s / 8 ≈ 134 ms apart (less a start left
    // up to the 20 ms tolerance late).
    expect(tightestSpan(all, 2)).toBeGreaterThanOrEqual(110);
  });

  it('does not hold a base back behind another base of its token that waits for its window', async () => {
    const pacer = new PostgresPacer(pools[0]!);
    const token = `tok-${randomUUID()}`;
    const [busy, idle] = [newBaseId(), newBaseId()];
    for (let i = 0; i < 5; i++) await pacer.acquire(busy, token);
    const sixth = pacer.acquire(busy, token).then(() => Date.now());
    await new Promise((r) => setTimeout(r, 200)); // the sixth has its start, a window after the first
    const before = Date.now();
    await pacer.acquire(idle, token);
    expect(Date.now() - before).toBeLessThan(300);
    expect((await sixth) - before).toBeGreaterThan(500);
  });

  it('needs the small margin only once the requests are known to have left', async () => {
    const token = `tok-${randomUUID()}`;
    const pacer = new PostgresPacer(pools[0]!, { marginMs: 200, sentMarginMs: 20 });
    const sixthAfter = async (baseId: string, report: boolean) => {
      const first = Date.now();
      for (let i = 0; i < 5; i++) {
        const start = await pacer.acquire(baseId, token);
        if (report) start.left();
        await new Promise((r) => setImmediate(r));
      }
      await pacer.acquire(baseId, token);
      return Date.now() - first;
    };
    const sent = await sixthAfter(newBaseId(), true);
    expect(sent).toBeGreaterThanOrEqual(1_000);
    expect(sent).toBeLessThan(1_150);
    expect(await sixthAfter(newBaseId(), false)).toBeGreaterThanOrEqual(1_200);
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
    const pacer = new PostgresPacer(pools[0]!);
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
    const before = Date.now();
    await pacer.acquire(baseId, token);
    expect(Date.now() - before).toBeLessThan(300);
  });

  it('holds every request of a base after a 429 until the penalty ends', async () => {
    const pacer = new PostgresPacer(pools[0]!);
    const baseId = newBaseId();
    const token = `tok-${randomUUID()}`;
    await pacer.penalize(baseId, token, Date.now() + 1_500);
    const before = Date.now();
    await pacer.acquire(baseId, token);
    expect(Date.now() - before).toBeGreaterThanOrEqual(1_400);
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
});

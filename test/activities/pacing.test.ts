import { randomUUID } from 'node:crypto';
import { PostgresPacer } from '../../activities/airtable/pacing';
import { createPool, type Pool } from '../../db/pool';
import { busiestSecond } from '../../emulator/airtable';
import { TEST_ENV } from '../support/env';

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
    const baseId = `app${randomUUID().replace(/-/g, '').slice(0, 14)}`;
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
  });

  it('holds every request of a base after a 429 until the penalty ends', async () => {
    const pacer = new PostgresPacer(pools[0]!);
    const baseId = `app${randomUUID().replace(/-/g, '').slice(0, 14)}`;
    const token = `tok-${randomUUID()}`;
    await pacer.penalize(baseId, token, Date.now() + 1_500);
    const before = Date.now();
    await pacer.acquire(baseId, token);
    expect(Date.now() - before).toBeGreaterThanOrEqual(1_400);
  });

  it('gives up waiting when its signal aborts', async () => {
    const pacer = new PostgresPacer(pools[0]!);
    const baseId = `app${randomUUID().replace(/-/g, '').slice(0, 14)}`;
    const token = `tok-${randomUUID()}`;
    await pacer.penalize(baseId, token, Date.now() + 30_000);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('activity cancelled')), 100);
    await expect(pacer.acquire(baseId, token, controller.signal)).rejects.toThrow('activity cancelled');
  });
});

import { sharedWhileInFlight } from '../../core/in-flight';

describe('sharedWhileInFlight', () => {
  it('shares a call in flight per key, and starts anew once it answered or failed', async () => {
    const shared = sharedWhileInFlight<string, number>();
    let calls = 0;
    let release!: () => void;
    const start = () => {
      calls++;
      return new Promise<number>((resolve) => (release = () => resolve(calls)));
    };
    const together = [shared('a', start), shared('a', start)];
    const other = shared('b', async () => 99);
    release();
    expect(await Promise.all(together)).toEqual([1, 1]);
    expect(await other).toBe(99);
    const after = shared('a', start);
    release();
    expect(await after).toBe(2);

    await expect(shared('a', async () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(await shared('a', async () => 3)).toBe(3);
  });
});

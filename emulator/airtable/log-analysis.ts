/**
 * The most timestamps (ms) that fall inside any one-second window: how close a request log came to
 * a per-second limit, measured the way the emulator's limiter counts.
 */
export function busiestSecond(times: readonly number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let worst = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (j < sorted.length && sorted[j]! < sorted[i]! + 1000) j++;
    worst = Math.max(worst, j - i);
  }
  return worst;
}

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

/**
 * The shortest span (ms) holding `count` timestamps: how much of the margin above one second the
 * closest `count` requests left (under 1000 with `count` = limit + 1 means a 429). Infinity when
 * there are fewer timestamps.
 */
export function tightestSpan(times: readonly number[], count: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let tightest = Infinity;
  for (let i = 0; i + count - 1 < sorted.length; i++)
    tightest = Math.min(tightest, sorted[i + count - 1]! - sorted[i]!);
  return tightest;
}

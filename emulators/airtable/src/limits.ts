import type { EmulatorLimits } from './types';

export const DEFAULT_LIMITS: Required<EmulatorLimits> = {
  enabled: true,
  perBasePerSecond: 5,
  perTokenPerSecond: 50,
  penaltyMs: 30_000,
};

const WINDOW_MS = 1000;

/**
 * Airtable's limits: N requests in any sliding second per base and per token; going over answers
 * 429 and refuses everything of that base (or token) for the penalty. The penalty runs from the
 * request that went over and is not extended by requests refused during it.
 */
export class RateLimiter {
  private limits: Required<EmulatorLimits>;
  private readonly arrivals = new Map<string, number[]>();
  private readonly penalties = new Map<string, number>();

  constructor(limits: EmulatorLimits = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...stripUndefined(limits) };
  }

  get current(): Required<EmulatorLimits> {
    return { ...this.limits };
  }

  /** Replaces the limits and forgets all counts and penalties. */
  configure(limits: EmulatorLimits): void {
    this.limits = { ...DEFAULT_LIMITS, ...stripUndefined(limits) };
    this.arrivals.clear();
    this.penalties.clear();
  }

  /**
   * Counts one arrival against the token and (for base-scoped calls) the base. Returns false when the
   * request must be refused with 429.
   */
  admit(now: number, tokenKey: string, baseKey?: string): boolean {
    if (!this.limits.enabled) return true;
    const keys: Array<[string, number]> = [[`token:${tokenKey}`, this.limits.perTokenPerSecond]];
    if (baseKey) keys.push([`base:${baseKey}`, this.limits.perBasePerSecond]);
    for (const [key] of keys) {
      const until = this.penalties.get(key);
      if (until !== undefined) {
        if (now < until) return false;
        this.penalties.delete(key);
      }
    }
    for (const [key, limit] of keys) {
      const window = this.window(key, now);
      if (window.length >= limit) {
        this.penalties.set(key, now + this.limits.penaltyMs);
        return false;
      }
    }
    for (const [key] of keys) this.window(key, now).push(now);
    return true;
  }

  private window(key: string, now: number): number[] {
    let times = this.arrivals.get(key);
    if (!times) {
      times = [];
      this.arrivals.set(key, times);
    }
    let drop = 0;
    while (drop < times.length && times[drop]! <= now - WINDOW_MS) drop++;
    if (drop > 0) times.splice(0, drop);
    return times;
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

import type { Pool } from 'pg';
import type { AirtablePacer } from './pacing';

/**
 * Counts the Airtable requests a process sends, per base and day, and adds them to Postgres every
 * few seconds (one statement per flush, none per request), for the workspaces' usage.
 */
export class RequestMeter {
  private counts = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pool: Pool,
    /** @default 5000 */
    flushEveryMs = 5_000,
  ) {
    this.timer = setInterval(() => void this.flush().catch(() => undefined), flushEveryMs);
    this.timer.unref();
  }

  count(baseId: string): void {
    const key = `${baseId} ${new Date().toISOString().slice(0, 10)}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** Adds what was counted since the last flush (kept for the next one if Postgres refuses). */
  async flush(): Promise<void> {
    if (this.counts.size === 0) return;
    const pending = this.counts;
    this.counts = new Map();
    const rows = [...pending].map(([key, requests]) => {
      const [baseId, day] = key.split(' ');
      return { baseId, day, requests };
    });
    try {
      await this.pool.query(
        `INSERT INTO airtable_request_counts (base_id, day, requests)
         SELECT r."baseId", r.day::date, r.requests FROM jsonb_to_recordset($1::jsonb) AS r("baseId" text, day text, requests int)
         ON CONFLICT (base_id, day) DO UPDATE SET requests = airtable_request_counts.requests + EXCLUDED.requests`,
        [JSON.stringify(rows)],
      );
    } catch (err) {
      for (const [key, n] of pending) this.counts.set(key, (this.counts.get(key) ?? 0) + n);
      throw err;
    }
  }

  close(): void {
    clearInterval(this.timer);
  }
}

/** A pacer that counts every request it lets through. */
export function meteredPacer(pacer: AirtablePacer, meter: RequestMeter): AirtablePacer {
  return {
    acquire(baseId, token, signal, readiness) {
      meter.count(baseId);
      return pacer.acquire(baseId, token, signal, readiness);
    },
    penalize: (baseId, token, untilMs) => pacer.penalize(baseId, token, untilMs),
  };
}

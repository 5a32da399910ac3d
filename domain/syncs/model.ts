// The sync model: a workspace's scheduled copy of its base into Postgres. Types and limits only.

/** When a sync runs: an interval (`15m`), or a cron expression in a time zone. */
export type SyncSchedule = { every: string } | { cron: string; timezone: string };

/** Limits of what a sync may ask for. */
export const SYNC_LIMITS = {
  /** The shortest interval between runs, in seconds. */
  minEverySeconds: 5,
  /** The longest interval, in seconds (Airtable deletes payloads after 7 days; the hook expires then too). */
  maxEverySeconds: 6 * 24 * 3600,
  /** The default periodic full reconcile, in seconds. */
  defaultFullReconcileSeconds: 24 * 3600,
  /** The shortest periodic full reconcile, in seconds. */
  minFullReconcileSeconds: 60,
} as const;

/** The Temporal Schedule id of a sync: deprovisioning deletes every schedule whose id starts with `workspace-<id>-`. */
export function syncScheduleId(workspaceId: string, syncId: string): string {
  return `workspace-${workspaceId}-sync-${syncId}`;
}

/** The workflow id prefix of a sync's runs; Temporal appends each run's scheduled time. */
export function syncRunWorkflowId(syncId: string): string {
  return `sync-run-${syncId}`;
}

/** `90s`, `15m`, `2h`, `1d` in seconds, or undefined when it is not such a duration. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d{1,7})\s*(s|m|h|d)$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

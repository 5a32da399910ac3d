import type { Context } from '@temporalio/activity';
import type { ActivityInboundCallsInterceptor, ActivityInterceptors } from '@temporalio/worker';
import type { Activities } from '../activities';
import { withLogContext } from '../core/log-context';
import { syncLag, syncRows, syncRuns } from '../core/metrics';

/**
 * The worker's activity interceptor: every log line an activity writes (through any logger of
 * core/logger.ts, however deep in the domain) carries the workflow and activity ids, and the
 * outcomes of sync runs are counted for the metrics from what their activities return (their
 * counts and lag), without the domain code knowing about either.
 */
export function observeActivities(ctx: Context): ActivityInterceptors {
  return { inbound: new ObservedActivity(ctx) };
}

class ObservedActivity implements ActivityInboundCallsInterceptor {
  constructor(private readonly ctx: Context) {}

  async execute(
    input: Parameters<NonNullable<ActivityInboundCallsInterceptor['execute']>>[0],
    next: Parameters<NonNullable<ActivityInboundCallsInterceptor['execute']>>[1],
  ): Promise<unknown> {
    const info = this.ctx.info;
    return withLogContext(
      {
        workflowId: info.workflowExecution?.workflowId,
        runId: info.workflowExecution?.runId,
        workflowType: info.workflowType,
        activityId: info.activityId,
        activityType: info.activityType,
        attempt: info.attempt,
      },
      async () => {
        const result = await next(input);
        observeSyncRun(info.activityType, input.args[0], result);
        return result;
      },
    );
  }
}

type Counts = {
  status?: string;
  lagMs?: number | null;
  created?: number;
  updated?: number;
  deleted?: number;
};

/** The activities that end a sync run (typed: a renamed activity fails to compile here). */
const SYNC_RUN_ENDS = {
  full: 'applyFullSyncRun',
  incremental: 'applyIncrementalSyncRun',
  ended: 'endSyncRun',
} as const satisfies Record<string, keyof Activities>;

/** Sync-run metrics from the activities that end a run (domain/sync-runs/run.ts). */
export function observeSyncRun(activityType: string, input: unknown, result: unknown): void {
  const mode =
    activityType === SYNC_RUN_ENDS.full
      ? 'full'
      : activityType === SYNC_RUN_ENDS.incremental
        ? 'incremental'
        : undefined;
  if (mode) {
    const r = (result ?? {}) as Counts;
    if (r.status !== 'applied') return;
    syncRuns.inc({ mode, status: 'completed' });
    if (typeof r.lagMs === 'number') syncLag.observe({ mode }, r.lagMs / 1000);
    for (const change of ['created', 'updated', 'deleted'] as const)
      if (typeof r[change] === 'number' && r[change]! > 0) syncRows.inc({ change }, r[change]);
    return;
  }
  if (activityType === SYNC_RUN_ENDS.ended) {
    const status = (input as { status?: string } | undefined)?.status;
    if (status === 'failed' || status === 'cancelled' || status === 'skipped')
      syncRuns.inc({ mode: 'unknown', status });
  }
}

import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Pool } from 'pg';
import * as store from './store';

/** Options of {@link endWorkspaceJobs}. */
export interface EndWorkspaceJobsOptions {
  /** The job doing the ending (deprovisioning): left alone. */
  except: string;
  /** Called while waiting, about once a second (an activity heartbeats here). */
  onWait?: () => void;
  /** @default 1000 */
  pollMs?: number;
}

/**
 * Ends every job of a workspace before the workspace goes: a job never started is abandoned (it can
 * then never run), a running one is cancelled, and this waits until each has closed, so a change set
 * compensates everything it applied before its journal and connection are removed. Safe to repeat.
 */
export async function endWorkspaceJobs(
  deps: { pool: Pool; client: Client },
  workspaceId: string,
  options: EndWorkspaceJobsOptions,
): Promise<{ cancelled: number; abandoned: number }> {
  const jobs = (await store.listActiveJobs(deps.pool, workspaceId)).filter((j) => j.id !== options.except);
  let cancelled = 0;
  let abandoned = 0;
  const open: string[] = [];
  for (const job of jobs) {
    if (job.status === 'pending' && (await store.abandonJob(deps.pool, job.id))) {
      abandoned++;
      continue;
    }
    const handle = deps.client.workflow.getHandle(job.id);
    const running = await handle.describe().then(
      (d) => d.status.name === 'RUNNING',
      (err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      },
    );
    if (!running) continue;
    await handle.cancel();
    cancelled++;
    open.push(job.id);
  }
  while (open.length > 0) {
    options.onWait?.();
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1_000));
    for (const id of [...open]) {
      const description = await deps.client.workflow.getHandle(id).describe();
      if (description.status.name !== 'RUNNING') open.splice(open.indexOf(id), 1);
    }
  }
  return { cancelled, abandoned };
}

import {
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowStartOptions,
} from '@temporalio/client';
import type { Pool } from 'pg';
import { ServiceError } from '../../core/errors';
import type { Logger } from '../../core/logger';
import { JOB_KIND, USER_ID, WORKSPACE_ID, type JobKind } from '../../temporal/search-attributes';
import { applyChangeSet, changeSetProgressQuery } from '../../workflows/change-sets';
import {
  conversation,
  CONVERSATION_WORKFLOW_TASK_TIMEOUT,
  conversationStateQuery,
} from '../../workflows/conversations';
import { syncRunProgressQuery } from '../../workflows/sync-runs';
import {
  deprovisionWorkspace,
  provisioningProgressQuery,
  provisionWorkspace,
} from '../../workflows/workspaces';
import * as changeSets from '../change-sets/journal';
import * as workspaces from '../workspaces/store';
import * as store from './store';
import { settleJobStatus } from './outcomes';
import { addToLogContext } from '../../core/log-context';
import { jobsStarted } from '../../core/metrics';

/** How long `GET /api/v1/jobs/:id` waits for a running workflow's progress query. */
const PROGRESS_QUERY_DEADLINE_MS = 2_000;

/** What `GET /api/v1/jobs/:id` answers. */
export interface JobView {
  id: string;
  kind: JobKind;
  status: store.JobStatus;
  workspaceId: string | null;
  createdAt: Date;
  progress?: unknown;
  result?: unknown;
  error?: { message: string; type?: string };
}

/** A job the API starts: its workflow takes ids only, so the job row alone can start it. */
export interface StartableJob {
  jobId: string;
  kind: 'workspace.provision' | 'workspace.deprovision' | 'changeset.apply' | 'conversation';
  workspaceId: string;
  userId: string;
}

/** What the job service needs. */
export interface JobServiceDeps {
  pool: Pool;
  temporal: { client: Client; taskQueue: string };
  logger: Logger;
  /** The most model calls of one conversation turn. @default 10 */
  maxStepsPerTurn?: number;
}

/**
 * The one place workflows are started, described and cancelled. Starting follows one policy for
 * every job: the caller has recorded the job `pending`; if the start succeeds the job runs once; if
 * it fails, the job is abandoned (and its workflow, should it have started anyway, ends at its first
 * step without touching anything) and the caller gets 503. See docs/workspaces-and-jobs.md.
 */
export function createJobService(deps: JobServiceDeps) {
  const { pool, logger } = deps;
  const { client, taskQueue } = deps.temporal;

  /** Starts the job's workflow, typed by its function: the compiler catches a renamed workflow or input. */
  async function startWorkflow(job: StartableJob): Promise<void> {
    const options = {
      workflowId: job.jobId,
      taskQueue,
      // Starting twice (a retried request) must not create a second run.
      workflowIdConflictPolicy: 'USE_EXISTING',
      typedSearchAttributes: [
        { key: JOB_KIND, value: job.kind },
        { key: USER_ID, value: job.userId },
        { key: WORKSPACE_ID, value: job.workspaceId },
      ],
    } satisfies Omit<WorkflowStartOptions, 'args'>;
    const ids = { workspaceId: job.workspaceId, userId: job.userId };
    switch (job.kind) {
      case 'workspace.provision':
        await client.workflow.start(provisionWorkspace, { ...options, args: [ids] });
        return;
      case 'workspace.deprovision':
        await client.workflow.start(deprovisionWorkspace, { ...options, args: [ids] });
        return;
      case 'changeset.apply':
        await client.workflow.start(applyChangeSet, {
          ...options,
          args: [{ changeSetId: job.jobId, ...ids }],
        });
        return;
      case 'conversation':
        await client.workflow.start(conversation, {
          ...options,
          // Its model and tool calls run inside workflow tasks (local activities): see the constant.
          workflowTaskTimeout: CONVERSATION_WORKFLOW_TASK_TIMEOUT,
          args: [{ conversationId: job.jobId, ...ids, maxStepsPerTurn: deps.maxStepsPerTurn }],
        });
        return;
    }
  }

  /**
   * What giving a job up leaves to clean: a workspace whose provisioning never started is failed,
   * its secret erased; one whose removal never started is failed too, saying to delete it again
   * (the API puts it back as it was when it gives the start up itself).
   */
  async function afterAbandon(job: { kind: JobKind; workspaceId: string | null }): Promise<void> {
    if (job.kind === 'workspace.deprovision' && job.workspaceId) {
      await workspaces.setWorkspaceStatus(pool, job.workspaceId, 'failed', {
        error: 'Removing the workspace could not be started; delete it again',
        from: ['deprovisioning'],
      });
      return;
    }
    if (job.kind !== 'workspace.provision' || !job.workspaceId) return;
    await workspaces.eraseAirtableConnection(pool, job.workspaceId);
    await workspaces.setWorkspaceStatus(pool, job.workspaceId, 'failed', {
      error: 'Provisioning could not be started; create the workspace again',
      from: ['provisioning'],
    });
  }

  /** A running job's progress; a query needs a worker, so none polling means no progress, not a hang. */
  async function progressOf(job: store.JobRecord): Promise<unknown> {
    return client.workflow
      .withDeadline(Date.now() + PROGRESS_QUERY_DEADLINE_MS, () => queryProgress(job))
      .catch(() => undefined);
  }

  function queryProgress(job: store.JobRecord): Promise<unknown> {
    const handle = client.workflow.getHandle(job.id);
    const query =
      job.kind === 'changeset.apply'
        ? handle.query(changeSetProgressQuery)
        : job.kind === 'workspace.provision'
          ? handle.query(provisioningProgressQuery)
          : job.kind === 'conversation'
            ? handle.query(conversationStateQuery)
            : job.kind === 'sync.run'
              ? handle.query(syncRunProgressQuery)
              : Promise.resolve(undefined);
    return query;
  }

  /** What a change set kept of its end (e.g. recreated records' new ids, or what remains undone). */
  async function outcomeOf(job: store.JobRecord): Promise<unknown> {
    if (job.kind !== 'changeset.apply') return undefined;
    return (await changeSets.getChangeSet(pool, job.id))?.outcome ?? undefined;
  }

  return {
    /**
     * Starts a job recorded as `pending`: resolves once it runs (exactly once), or throws a 503
     * {@link ServiceError} once it is abandoned and can never run.
     */
    async start(job: StartableJob): Promise<void> {
      addToLogContext({ workflowId: job.jobId });
      try {
        await startWorkflow(job);
      } catch (err) {
        if (await store.abandonJob(pool, job.jobId)) {
          jobsStarted.inc({ kind: job.kind, result: 'abandoned' });
          logger.error({ err, jobId: job.jobId, kind: job.kind }, 'could not start a job; abandoned it');
          await afterAbandon(job);
          throw new ServiceError(
            503,
            'temporal_unavailable',
            'The workflow service is unavailable; nothing was started. Try again shortly',
          );
        }
        // The workflow claimed its row before we could give it up: it did start, and runs.
        logger.warn({ err, jobId: job.jobId }, 'the start call failed but the job had started');
      }
      await store.markStarted(pool, job.jobId);
      jobsStarted.inc({ kind: job.kind, result: 'started' });
    },

    /** The caller's job, or a 404 identical to a missing one. */
    async owned(jobId: string, userId: string): Promise<store.JobRecord> {
      const job = await store.getOwnedJob(pool, jobId, userId);
      if (!job) throw new ServiceError(404, 'not_found', 'Job not found');
      addToLogContext({ workflowId: job.id });
      return job;
    },

    /** A job's state read from Temporal, the source of truth; the row in Postgres only says whose it is. */
    async describe(job: store.JobRecord): Promise<JobView> {
      const view: JobView = {
        id: job.id,
        kind: job.kind,
        status: job.status,
        workspaceId: job.workspaceId,
        createdAt: job.createdAt,
      };
      if (job.status === 'abandoned') {
        view.status = 'failed';
        view.error = { message: 'The job could not be started and never ran', type: 'JobAbandoned' };
        return view;
      }
      const handle = client.workflow.getHandle(job.id);
      let description: WorkflowExecutionDescription;
      try {
        description = await handle.describe();
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return view; // recorded, not started yet
        throw err;
      }
      switch (description.status.name) {
        case 'RUNNING':
        case 'CONTINUED_AS_NEW':
          view.status = 'running';
          view.progress = await progressOf(job);
          break;
        case 'COMPLETED': {
          const result = (await handle.result()) as { status?: string } | undefined;
          // A change set undone after a failure (or after a cancel that outlived its run) completes with
          // that status in its result.
          view.status =
            result?.status === 'compensated' || result?.status === 'cancelled' ? result.status : 'completed';
          view.result = result;
          break;
        }
        case 'CANCELLED':
          view.status = 'cancelled';
          view.result = await outcomeOf(job);
          break;
        default: {
          view.status = 'failed';
          view.error = await handle.result().then(
            () => ({ message: `Workflow ${description.status.name.toLowerCase()}` }),
            (err: unknown) => describeFailure(err, description.status.name),
          );
          // A change set that could not undo everything says what remains.
          const kept = await outcomeOf(job);
          if (kept) view.result = kept;
        }
      }
      if (view.status !== job.status) await settleJobStatus(pool, job, view.status);
      return view;
    },

    /** Cancels a running job (a change set then compensates); 409 when it is not running. */
    async cancel(job: store.JobRecord): Promise<void> {
      const handle = client.workflow.getHandle(job.id);
      const description = await handle.describe().catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      });
      if (!description || description.status.name !== 'RUNNING')
        throw new ServiceError(
          409,
          'job_not_running',
          `Job ${job.id} is not running and cannot be cancelled`,
        );
      await handle.cancel();
    },

    /**
     * Gives up jobs still `pending` after `olderThanSeconds`: the API died between its commit and
     * the start, so their callers got no answer and may have retried; starting them late could run
     * a request twice. Safe from several API processes: abandoning is one conditional update.
     */
    async abandonStalePending(olderThanSeconds = 120): Promise<number> {
      let abandoned = 0;
      for (const job of await store.listStalePendingJobs(pool, olderThanSeconds)) {
        if (!(await store.abandonJob(pool, job.id))) continue;
        await afterAbandon(job);
        logger.warn({ jobId: job.id, kind: job.kind }, 'abandoned a job an earlier process never started');
        abandoned++;
      }
      return abandoned;
    },
  };
}

export type JobService = ReturnType<typeof createJobService>;

function describeFailure(err: unknown, statusName: string): { message: string; type?: string } {
  if (err instanceof WorkflowFailedError) {
    const cause = err.cause as { message?: string; type?: string } | undefined;
    return { message: cause?.message ?? err.message, type: cause?.type };
  }
  return { message: `Workflow ${statusName.toLowerCase()}` };
}

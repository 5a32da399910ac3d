import { Router } from 'express';
import {
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import * as changeSets from '../change-sets/journal';
import * as jobs from './store';
import { JOB_KIND, USER_ID, WORKSPACE_ID, type JobKind } from '../../temporal/search-attributes';
import type { applyChangeSet } from '../../workflows/change-sets';
import type { deprovisionWorkspace, provisionWorkspace } from '../../workflows/workspaces';
import type { ApiDeps } from '../../api/app';
import { authenticate } from '../../api/auth';
import { HttpError, notFound } from '../../api/errors';

/** What `GET /api/v1/jobs/:id` answers. */
export interface JobView {
  id: string;
  kind: JobKind;
  status: jobs.JobStatus;
  workspaceId: string | null;
  createdAt: Date;
  progress?: unknown;
  result?: unknown;
  error?: { message: string; type?: string };
}

/** Starts a job's workflow with the job id as workflow id and the search attributes every job carries. */
export async function startJobWorkflow(
  client: Client,
  options: {
    jobId: string;
    kind: JobKind;
    workflowType: string;
    args: unknown[];
    workspaceId: string | null;
    userId: string;
    taskQueue: string;
  },
): Promise<void> {
  await client.workflow.start(options.workflowType, {
    workflowId: options.jobId,
    taskQueue: options.taskQueue,
    args: options.args,
    // Starting twice (a retried request, the pending-job sweep) must not create a second run.
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [
      { key: JOB_KIND, value: options.kind },
      { key: USER_ID, value: options.userId },
      ...(options.workspaceId ? [{ key: WORKSPACE_ID, value: options.workspaceId }] : []),
    ],
  });
}

/** Jobs the API starts: each kind's workflow takes `{…ids}` only, so the job row alone can start it. */
const JOB_WORKFLOWS = {
  'workspace.provision': 'provisionWorkspace',
  'workspace.deprovision': 'deprovisionWorkspace',
  'changeset.apply': 'applyChangeSet',
} as const satisfies Partial<Record<JobKind, string>>;

type StartableJobKind = keyof typeof JOB_WORKFLOWS;

function isStartableJobKind(kind: JobKind): kind is StartableJobKind {
  return kind in JOB_WORKFLOWS;
}

/** Starts a job's workflow (from a request, or from the pending-job sweep). */
export async function startJob(
  temporal: ApiDeps['temporal'],
  job: { jobId: string; kind: StartableJobKind; workspaceId: string; userId: string },
): Promise<void> {
  const ids = { workspaceId: job.workspaceId, userId: job.userId };
  const args: Parameters<typeof provisionWorkspace | typeof deprovisionWorkspace | typeof applyChangeSet> =
    job.kind === 'changeset.apply' ? [{ changeSetId: job.jobId, ...ids }] : [ids];
  await startJobWorkflow(temporal.client, {
    ...job,
    workflowType: JOB_WORKFLOWS[job.kind],
    args,
    taskQueue: temporal.taskQueue,
  });
}

/**
 * Starts jobs that were recorded but never confirmed started (the API died between its commit
 * and the start call). Safe to run from several API processes: the start is idempotent by job id.
 */
export async function resumePendingJobs(
  deps: Pick<ApiDeps, 'pool' | 'temporal' | 'logger'>,
  olderThanSeconds = 30,
): Promise<number> {
  let resumed = 0;
  for (const job of await jobs.listPendingJobs(deps.pool, olderThanSeconds)) {
    if (!isStartableJobKind(job.kind) || !job.workspaceId) continue;
    await startJob(deps.temporal, {
      jobId: job.id,
      kind: job.kind,
      workspaceId: job.workspaceId,
      userId: job.userId,
    });
    await jobs.setJobStatus(deps.pool, job.id, 'running');
    deps.logger.warn({ jobId: job.id, kind: job.kind }, 'started a job left pending by an earlier process');
    resumed++;
  }
  return resumed;
}

/** Reads a job's state from Temporal, the source of truth; the row in Postgres only says whose it is. */
export async function describeJob(
  client: Client,
  job: jobs.JobRecord,
  outcome?: () => Promise<unknown>,
): Promise<JobView> {
  const view: JobView = {
    id: job.id,
    kind: job.kind,
    status: job.status,
    workspaceId: job.workspaceId,
    createdAt: job.createdAt,
  };
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
      view.progress = await handle.query('progress').catch(() => undefined);
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
      // What compensation did (e.g. recreated records' new ids) is kept where the workflow ended.
      view.result = outcome ? await outcome() : undefined;
      break;
    default: {
      view.status = 'failed';
      view.error = await handle.result().then(
        () => ({ message: `Workflow ${description.status.name.toLowerCase()}` }),
        (err: unknown) => describeFailure(err, description.status.name),
      );
      // A change set that could not undo everything says what remains.
      const kept = outcome ? await outcome() : undefined;
      if (kept) view.result = kept;
    }
  }
  return view;
}

function describeFailure(err: unknown, statusName: string): { message: string; type?: string } {
  if (err instanceof WorkflowFailedError) {
    const cause = err.cause as { message?: string; type?: string } | undefined;
    return { message: cause?.message ?? err.message, type: cause?.type };
  }
  return { message: `Workflow ${statusName.toLowerCase()}` };
}

/** `GET /api/v1/jobs/:id` and `POST /api/v1/jobs/:id/cancel`. */
export function jobsRouter(deps: ApiDeps): Router {
  const router = Router();
  router.use(authenticate(deps));

  async function ownedJob(id: string, userId: string) {
    const job = await jobs.getOwnedJob(deps.pool, id, userId);
    if (!job) throw notFound('Job');
    return job;
  }

  router.get('/:id', async (req, res) => {
    const job = await ownedJob(req.params.id as string, req.userId!);
    const outcome =
      job.kind === 'changeset.apply'
        ? async () => (await changeSets.getChangeSet(deps.pool, job.id))?.outcome ?? undefined
        : undefined;
    const view = await describeJob(deps.temporal.client, job, outcome);
    if (view.status !== job.status) await jobs.setJobStatus(deps.pool, job.id, view.status);
    res.json(view);
  });

  router.post('/:id/cancel', async (req, res) => {
    const job = await ownedJob(req.params.id as string, req.userId!);
    const handle = deps.temporal.client.workflow.getHandle(job.id);
    const description = await handle.describe().catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    });
    if (!description || description.status.name !== 'RUNNING') {
      throw new HttpError(409, 'job_not_running', `Job ${job.id} is not running and cannot be cancelled`);
    }
    await handle.cancel();
    res.status(202).json({ job: { id: job.id, status: 'cancelling' } });
  });

  return router;
}

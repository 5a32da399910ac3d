import { Router } from 'express';
import { z } from 'zod';
import { notFound } from '../core/errors';
import { listWorkspaceJobs, type JobRecord } from '../domain/jobs/store';
import type { JobView } from '../domain/jobs/service';
import { Job } from './answers';
import { authenticate } from './auth';
import type { ApiDeps } from './context';
import { parseOrThrow } from './errors';
import { documentRoutes } from './openapi';

const WorkspaceId = z.uuid();
const ListQuery = z
  .object({
    kind: z
      .enum(['workspace.provision', 'workspace.deprovision', 'changeset.apply', 'conversation', 'sync.run'])
      .optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  })
  .strict();

/** Jobs whose state Temporal is asked for at once: a list of 200 running jobs does not open 200 calls. */
const DESCRIBE_CONCURRENCY = 8;

/** A job whose row says it has ended: that row is final (describe wrote it), so Temporal is not asked. */
function ended(job: JobRecord): JobView & { updatedAt: Date } {
  const base = {
    id: job.id,
    kind: job.kind,
    workspaceId: job.workspaceId,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
  };
  return job.status === 'abandoned'
    ? {
        ...base,
        status: 'failed',
        error: { message: 'The job could not be started and never ran', type: 'JobAbandoned' },
      }
    : { ...base, status: job.status };
}

async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!);
      }
    }),
  );
  return results;
}

/**
 * `GET /api/v1/workspaces/:id/jobs[?kind=…&limit=…]`: the caller's jobs of the workspace, newest
 * first. Jobs still pending or running are described by Temporal (status and progress, as
 * `GET /api/v1/jobs/:id` answers); ended ones come from the job index as they are.
 */
export function workspaceJobsRouter(deps: ApiDeps): Router {
  const { workspaces, jobs, sessions } = deps.services;
  const router = Router();
  router.use(authenticate(sessions));

  router.get('/:id/jobs', async (req, res) => {
    const id = req.params.id as string;
    if (!WorkspaceId.safeParse(id).success) throw notFound('Workspace');
    const query = parseOrThrow(ListQuery, req.query, 'query');
    const workspace = await workspaces.owned(id, req.userId!);
    const rows = await listWorkspaceJobs(deps.pool, workspace.id, req.userId!, query);
    const views = await mapLimited(rows, DESCRIBE_CONCURRENCY, async (job) =>
      job.status === 'pending' || job.status === 'running'
        ? // Temporal out of reach: the list still answers, with the status the index last knew.
          { ...(await jobs.describe(job).catch(() => ({ ...ended(job) }))), updatedAt: job.updatedAt }
        : ended(job),
    );
    res.json({ jobs: views });
  });

  return router;
}

documentRoutes('/api/v1/workspaces', 'Jobs', [
  {
    method: 'get',
    path: '/:id/jobs',
    summary: 'The caller’s jobs of a workspace, newest first (live state of those still running)',
    params: { id: WorkspaceId },
    query: ListQuery,
    answers: {
      200: {
        description: 'The jobs',
        schema: z.object({ jobs: z.array(Job.extend({ updatedAt: z.iso.datetime({ offset: true }) })) }),
      },
    },
  },
]);

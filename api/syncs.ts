import { Router, type Request } from 'express';
import { z } from 'zod';
import { notFound } from '../core/errors';
import { authenticate } from './auth';
import type { ApiDeps } from './context';
import { parseOrThrow } from './errors';
import { JobRef, MirrorCredentials, Sync } from './answers';
import { documentRoutes } from './openapi';

const WorkspaceId = z.uuid();
const CreateSyncBody = z
  .object({
    tables: z.array(z.string().trim().min(1).max(200)).min(1).max(200).optional(),
    every: z.string().trim().min(2).max(20).optional(),
    cron: z.string().trim().min(1).max(200).optional(),
    timezone: z.string().trim().min(1).max(100).optional(),
    fullReconcileEvery: z.string().trim().min(2).max(20).optional(),
  })
  .strict();

/**
 * Scheduled syncs over HTTP: a workspace's syncs (`/api/v1/workspaces/:id/syncs`, and the mirror's
 * credentials at `/api/v1/workspaces/:id/mirror/credentials`) and one sync's state and controls
 * (`/api/v1/syncs/:id/…`).
 */
export function syncRouters(deps: ApiDeps): { workspaces: Router; syncs: Router } {
  const { workspaces, syncs, sessions } = deps.services;

  async function ownedWorkspace(req: Request) {
    const id = req.params.id as string;
    if (!WorkspaceId.safeParse(id).success) throw notFound('Workspace');
    return workspaces.owned(id, req.userId!);
  }

  const workspaceRoutes = Router();
  workspaceRoutes.use(authenticate(sessions));

  workspaceRoutes.post('/:id/syncs', async (req, res) => {
    const body = parseOrThrow(CreateSyncBody, req.body ?? {});
    const workspace = await ownedWorkspace(req);
    res.status(201).json({ sync: await syncs.create(workspace, req.userId!, body) });
  });

  workspaceRoutes.get('/:id/syncs', async (req, res) => {
    const workspace = await ownedWorkspace(req);
    res.json({ syncs: await syncs.list(workspace) });
  });

  workspaceRoutes.post('/:id/mirror/credentials', async (req, res) => {
    const workspace = await ownedWorkspace(req);
    res.setHeader('Cache-Control', 'no-store');
    res.json({ postgres: await syncs.credentials(workspace) });
  });

  const syncRoutes = Router();
  syncRoutes.use(authenticate(sessions));
  const owned = (req: Request) => syncs.owned(req.params.id as string, req.userId!);

  syncRoutes.get('/:id', async (req, res) => {
    res.json({ sync: await syncs.view(await owned(req)) });
  });

  syncRoutes.post('/:id/pause', async (req, res) => {
    const sync = await owned(req);
    await syncs.pause(sync);
    res.status(202).json({ sync: { id: sync.id, status: 'paused' } });
  });

  syncRoutes.post('/:id/resume', async (req, res) => {
    const sync = await owned(req);
    await syncs.resume(sync);
    res.status(202).json({ sync: { id: sync.id, status: 'active' } });
  });

  syncRoutes.post('/:id/trigger', async (req, res) => {
    const { jobId } = await syncs.trigger(await owned(req));
    res.status(202).json({ job: { id: jobId } });
  });

  syncRoutes.post('/:id/resync', async (req, res) => {
    const { jobId } = await syncs.resync(await owned(req));
    res.status(202).json({ job: { id: jobId } });
  });

  syncRoutes.delete('/:id', async (req, res) => {
    const sync = await owned(req);
    await syncs.remove(sync);
    res.status(202).json({ sync: { id: sync.id, status: 'deleted' } });
  });

  return { workspaces: workspaceRoutes, syncs: syncRoutes };
}

const SyncAnswer = z.object({ sync: Sync });
const SyncState = (status: string) =>
  z.object({ sync: z.object({ id: z.string(), status: z.literal(status) }) });

documentRoutes('/api/v1/workspaces', 'Syncs', [
  {
    method: 'post',
    path: '/:id/syncs',
    summary: 'Schedule a sync of the workspace’s tables into its Postgres mirror',
    params: { id: WorkspaceId },
    body: CreateSyncBody,
    bodyOptional: true,
    answers: { 201: { description: 'The sync (a Temporal Schedule)', schema: SyncAnswer } },
    errors: {
      409: 'The workspace is not active, or already has a sync (`sync_exists`, its id in `details`)',
      503: 'Temporal is unavailable; nothing was created',
    },
  },
  {
    method: 'get',
    path: '/:id/syncs',
    summary: 'The workspace’s syncs',
    params: { id: WorkspaceId },
    answers: { 200: { description: 'The syncs', schema: z.object({ syncs: z.array(Sync) }) } },
  },
  {
    method: 'post',
    path: '/:id/mirror/credentials',
    summary: 'New credentials of the workspace’s mirror (read-only Postgres role)',
    params: { id: WorkspaceId },
    answers: {
      200: {
        description: 'The credentials (not stored; Cache-Control: no-store)',
        schema: MirrorCredentials,
      },
    },
    errors: { 409: 'The workspace is not active' },
  },
]);

documentRoutes('/api/v1/syncs', 'Syncs', [
  {
    method: 'get',
    path: '/:id',
    summary: 'A sync: status, next run, last runs with counts and lag',
    answers: { 200: { description: 'The sync', schema: SyncAnswer } },
  },
  {
    method: 'post',
    path: '/:id/pause',
    summary: 'Pause the schedule',
    answers: { 202: { description: 'Paused', schema: SyncState('paused') } },
  },
  {
    method: 'post',
    path: '/:id/resume',
    summary: 'Resume the schedule',
    answers: { 202: { description: 'Active', schema: SyncState('active') } },
  },
  {
    method: 'post',
    path: '/:id/trigger',
    summary: 'Run the sync now',
    answers: { 202: { description: 'The run’s job', schema: JobRef } },
    errors: {
      409: 'A run is in progress (`sync_run_in_progress`, its job in `details`), or the schedule is missing',
      503: 'The schedule did not start the run in time',
    },
  },
  {
    method: 'post',
    path: '/:id/resync',
    summary: 'Copy every table anew (a full run)',
    answers: { 202: { description: 'The run’s job', schema: JobRef } },
    errors: {
      409: 'A run is in progress (`sync_run_in_progress`; the next run copies everything), or the schedule is missing',
      503: 'The schedule did not start the run in time',
    },
  },
  {
    method: 'delete',
    path: '/:id',
    summary: 'Delete the sync and its schedule',
    answers: { 202: { description: 'Deleted', schema: SyncState('deleted') } },
  },
]);

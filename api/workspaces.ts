import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import * as jobs from '../domain/jobs/store';
import { withTransaction } from '../db/pool';
import * as workspaces from '../domain/workspaces/store';
import type { ApiDeps } from './app';
import { authenticate } from './auth';
import { HttpError, notFound, parseOrThrow } from './errors';
import { submitChangeSet } from '../domain/change-sets/service';
import { startJob } from '../domain/jobs/service';

const CreateWorkspaceBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    airtable: z
      .object({
        baseId: z
          .string()
          .regex(/^app[A-Za-z0-9]{14}$/, { error: 'must be an Airtable base id (app + 14 characters)' }),
        token: z.string().trim().min(10).max(512),
      })
      .strict(),
  })
  .strict();
const WorkspaceId = z.uuid({ error: 'must be a workspace id' });

/** The workspace as the API shows it: never the token. */
function present(w: workspaces.Workspace) {
  return {
    id: w.id,
    name: w.name,
    status: w.status,
    ...(w.error ? { error: w.error } : {}),
    airtable: { baseId: w.airtableBaseId },
    createdAt: w.createdAt,
    updatedAt: w.updatedAt,
  };
}

/** Workspaces: create (provisioning saga), list, get, delete (deprovisioning). */
export function workspacesRouter(deps: ApiDeps): Router {
  const { pool, config } = deps;
  const router = Router();
  router.use(authenticate(deps));

  async function owned(id: string, userId: string) {
    const workspace = WorkspaceId.safeParse(id).success
      ? await workspaces.getOwnedWorkspace(pool, id, userId)
      : undefined;
    if (!workspace) throw notFound('Workspace');
    return workspace;
  }

  router.post('/', async (req, res) => {
    const body = parseOrThrow(CreateWorkspaceBody, req.body);
    const userId = req.userId!;
    const workspaceId = randomUUID();
    const jobId = `workspace-provision-${randomUUID()}`;
    // The token is sealed into Postgres here; the workflow only ever sees the workspace id.
    const workspace = await withTransaction(pool, async (tx) => {
      const created = await workspaces.insertWorkspaceWithConnection(tx, {
        id: workspaceId,
        ownerId: userId,
        name: body.name,
        baseId: body.airtable.baseId,
        token: body.airtable.token,
        encryptionKey: config.encryptionKey,
      });
      await jobs.insertJob(tx, { id: jobId, kind: 'workspace.provision', workspaceId, userId });
      return created;
    });
    try {
      await startJob(deps.temporal, { jobId, kind: 'workspace.provision', workspaceId, userId });
    } catch (err) {
      req.log.error({ err, workspaceId }, 'could not start provisioning');
      await workspaces.eraseAirtableConnection(pool, workspaceId);
      await workspaces.setWorkspaceStatus(pool, workspaceId, 'failed', {
        error: 'Provisioning could not be started',
      });
      await jobs.setJobStatus(pool, jobId, 'failed');
      throw new HttpError(
        503,
        'temporal_unavailable',
        'The workflow service is unavailable; try again shortly',
      );
    }
    await jobs.setJobStatus(pool, jobId, 'running');
    res.status(202).json({
      workspace: { id: workspace.id, name: workspace.name, status: workspace.status },
      job: { id: jobId },
    });
  });

  router.get('/', async (req, res) => {
    const list = await workspaces.listOwnedWorkspaces(pool, req.userId!);
    res.json({ workspaces: list.map(present) });
  });

  router.get('/:id', async (req, res) => {
    res.json(present(await owned(req.params.id as string, req.userId!)));
  });

  router.post('/:id/changes', async (req, res) => {
    const workspace = await owned(req.params.id as string, req.userId!);
    const idempotencyKey = req.get('Idempotency-Key');
    if (idempotencyKey !== undefined && !/^[\x21-\x7e]{1,200}$/.test(idempotencyKey))
      throw new HttpError(
        400,
        'invalid_idempotency_key',
        'Idempotency-Key must be 1 to 200 visible ASCII characters',
      );
    const { jobId, existing } = await submitChangeSet(deps, {
      workspace,
      userId: req.userId!,
      body: req.body,
      idempotencyKey,
    });
    res.status(existing ? 200 : 202).json({ job: { id: jobId } });
  });

  router.delete('/:id', async (req, res) => {
    const workspace = await owned(req.params.id as string, req.userId!);
    const userId = req.userId!;
    if (workspace.status === 'provisioning') {
      throw new HttpError(
        409,
        'workspace_busy',
        'The workspace is still being provisioned; cancel that job or wait for it',
      );
    }
    // One deprovisioning per workspace: a repeated DELETE answers with the same job.
    const jobId = `workspace-deprovision-${workspace.id}`;
    await jobs.insertJob(pool, {
      id: jobId,
      kind: 'workspace.deprovision',
      workspaceId: workspace.id,
      userId,
    });
    await startJob(deps.temporal, {
      jobId,
      kind: 'workspace.deprovision',
      workspaceId: workspace.id,
      userId,
    });
    await jobs.setJobStatus(pool, jobId, 'running');
    res.status(202).json({ job: { id: jobId } });
  });

  return router;
}

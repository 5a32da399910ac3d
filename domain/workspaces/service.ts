import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { ServiceError } from '../../core/errors';
import { withTransaction } from '../../db/pool';
import type { JobService } from '../jobs/service';
import * as jobs from '../jobs/store';
import * as store from './store';

/** What the workspace service needs. */
export interface WorkspaceServiceDeps {
  pool: Pool;
  encryptionKey: Buffer;
  jobs: JobService;
}

/** Workspaces: created through the provisioning saga, removed through deprovisioning. */
export function createWorkspaceService(deps: WorkspaceServiceDeps) {
  const { pool } = deps;

  return {
    /**
     * Seals the token into Postgres with the workspace and its job in one transaction, then starts
     * provisioning, which only ever sees the workspace id. If the start fails, the workspace is
     * failed, the secret erased, and the caller gets 503.
     */
    async create(input: {
      ownerId: string;
      name: string;
      airtable: { baseId: string; token: string };
    }): Promise<{ workspace: store.Workspace; jobId: string }> {
      const workspaceId = randomUUID();
      const jobId = `workspace-provision-${randomUUID()}`;
      const workspace = await withTransaction(pool, async (tx) => {
        const created = await store.insertWorkspaceWithConnection(tx, {
          id: workspaceId,
          ownerId: input.ownerId,
          name: input.name,
          baseId: input.airtable.baseId,
          token: input.airtable.token,
          encryptionKey: deps.encryptionKey,
        });
        await jobs.insertJob(tx, {
          id: jobId,
          kind: 'workspace.provision',
          workspaceId,
          userId: input.ownerId,
        });
        return created;
      });
      await deps.jobs.start({ jobId, kind: 'workspace.provision', workspaceId, userId: input.ownerId });
      return { workspace, jobId };
    },

    async list(ownerId: string): Promise<store.Workspace[]> {
      return store.listOwnedWorkspaces(pool, ownerId);
    },

    /** The owner's workspace, or a 404 identical to a missing one. */
    async owned(id: string, ownerId: string): Promise<store.Workspace> {
      const workspace = await store.getOwnedWorkspace(pool, id, ownerId);
      if (!workspace) throw new ServiceError(404, 'not_found', 'Workspace not found');
      return workspace;
    },

    /** Starts deprovisioning; one job per workspace, so a repeated call answers the same job. */
    async remove(workspace: store.Workspace, userId: string): Promise<{ jobId: string }> {
      if (workspace.status === 'provisioning')
        throw new ServiceError(
          409,
          'workspace_busy',
          'The workspace is still being provisioned; cancel that job or wait for it',
        );
      const jobId = `workspace-deprovision-${workspace.id}`;
      await jobs.insertJob(pool, {
        id: jobId,
        kind: 'workspace.deprovision',
        workspaceId: workspace.id,
        userId,
      });
      await deps.jobs.start({ jobId, kind: 'workspace.deprovision', workspaceId: workspace.id, userId });
      return { jobId };
    },
  };
}

export type WorkspaceService = ReturnType<typeof createWorkspaceService>;

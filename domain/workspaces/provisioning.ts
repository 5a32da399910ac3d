import { AirtableApiError, toAirtableFailure } from '../../airtable/errors';
import { FailureType, platformFailure } from '../../core/failures';
import { openWorkspaceBase, readWorkspaceConnection, type ConnectionDeps } from './connection';
import * as store from './store';

/**
 * The steps of provisioning and deprovisioning a workspace, and their undos. Each is idempotent: a
 * retry after a crash is harmless, and an undo never fails for "already done".
 */
export function createWorkspaceProvisioning(deps: ConnectionDeps) {
  const { pool } = deps;
  const { schemas } = deps.airtable;

  return {
    /** Confirms the workspace row the API recorded is there. */
    async claim(workspaceId: string): Promise<{ baseId: string }> {
      const workspace = await store.getWorkspace(pool, workspaceId);
      if (!workspace)
        throw platformFailure(FailureType.workspaceMissing, `Workspace ${workspaceId} does not exist`);
      return { baseId: workspace.airtableBaseId };
    },

    /** Confirms the sealed token is stored and opens under the current key, without returning it. */
    async checkConnection(workspaceId: string): Promise<void> {
      await readWorkspaceConnection(deps, workspaceId);
    },

    /**
     * Reads the base schema with the workspace's token, always from Airtable: that is the proof.
     * 401/403/404 end provisioning with a reason a person can act on.
     */
    async verifyAccess(workspaceId: string, signal?: AbortSignal): Promise<{ tableCount: number }> {
      const { baseId, meta } = await openWorkspaceBase(deps, workspaceId, signal);
      schemas.invalidate(baseId);
      try {
        const tables = await schemas.get(meta, baseId);
        return { tableCount: tables.length };
      } catch (err) {
        throw err instanceof AirtableApiError
          ? toAirtableFailure(err, describeAccessProblem(err, baseId))
          : err;
      }
    },

    /**
     * Keeps the base schema in Postgres (not in workflow history: schemas can be large): the one
     * verification has just read when it ran in this process, or a fresh read.
     */
    async snapshotSchema(
      workspaceId: string,
      signal?: AbortSignal,
    ): Promise<{ tableCount: number; fieldCount: number }> {
      const { baseId, meta } = await openWorkspaceBase(deps, workspaceId, signal);
      const tables = await schemas.get(meta, baseId).catch((err: unknown) => {
        throw err instanceof AirtableApiError
          ? toAirtableFailure(err, `Reading the schema of base ${baseId}`)
          : err;
      });
      await store.saveSchemaSnapshot(pool, workspaceId, baseId, tables);
      return { tableCount: tables.length, fieldCount: tables.reduce((n, t) => n + t.fields.length, 0) };
    },

    async activate(workspaceId: string): Promise<void> {
      await store.markConnectionVerified(pool, workspaceId);
      const changed = await store.setWorkspaceStatus(pool, workspaceId, 'active', {
        from: ['provisioning', 'active'],
      });
      if (!changed)
        throw platformFailure(
          FailureType.workspaceMissing,
          `Workspace ${workspaceId} is no longer provisioning`,
        );
    },

    async markFailed(workspaceId: string, reason: string): Promise<void> {
      await store.setWorkspaceStatus(pool, workspaceId, 'failed', {
        error: reason,
        from: ['provisioning', 'failed'],
      });
    },

    async eraseConnection(workspaceId: string): Promise<void> {
      await store.eraseAirtableConnection(pool, workspaceId);
    },

    async deleteSchemaSnapshot(workspaceId: string): Promise<void> {
      await store.deleteSchemaSnapshot(pool, workspaceId);
    },

    async markDeprovisioning(workspaceId: string): Promise<{ exists: boolean }> {
      const workspace = await store.getWorkspace(pool, workspaceId);
      if (!workspace) return { exists: false };
      await store.setWorkspaceStatus(pool, workspaceId, 'deprovisioning');
      return { exists: true };
    },

    /** The workspace row; its connection (already erased by the step before) and schema go with it by cascade. */
    async deleteRecords(workspaceId: string): Promise<void> {
      await store.deleteWorkspace(pool, workspaceId);
    },
  };
}

export type WorkspaceProvisioning = ReturnType<typeof createWorkspaceProvisioning>;

function describeAccessProblem(err: AirtableApiError, baseId: string): string {
  if (err.status === 401) return 'The Airtable token was refused (invalid or revoked)';
  if (err.status === 403)
    return `The Airtable token cannot access base ${baseId} (wrong base id, or the token lacks schema.bases:read on it)`;
  if (err.status === 404) return `Airtable base ${baseId} was not found`;
  return `Verifying access to Airtable base ${baseId}`;
}

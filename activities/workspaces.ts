import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import * as workspaces from '../domain/workspaces/store';
import { toAirtableFailure } from '../airtable/errors';
import { CONNECTION_MISSING, readWorkspaceConnection } from '../domain/workspaces/connection';
import { heartbeatWhile } from './heartbeat';
import { PostgresPacer, type AirtablePacer } from '../airtable/pacing';
import { SchemaCache } from '../airtable/schema-cache';

/** What the workspace activities need from the outside world. */
export interface WorkspaceActivityDeps {
  pool: Pool;
  encryptionKey: Buffer;
  airtable: { endpointUrl: string; requestTimeoutMs: number };
  /** For removing a workspace's schedules; absent in tests that never deprovision. */
  temporalClient?: Client;
  /** Paces the meta-API calls with every other Airtable request. @default a PostgresPacer on `pool` */
  pacer?: AirtablePacer;
}

/** Failure types the provisioning workflow reports. */
export const WorkspaceFailureType = {
  missing: 'WorkspaceMissing',
  connectionMissing: CONNECTION_MISSING,
} as const;

/** The activities of workspace provisioning and deprovisioning. Each is idempotent: a retry after a crash is harmless. */
export function createWorkspaceActivities(deps: WorkspaceActivityDeps) {
  const { pool } = deps;
  const pacer = deps.pacer ?? new PostgresPacer(pool);
  // The schema verification reads is the one the snapshot keeps, when both run in this process.
  const schemas = new SchemaCache({ ttlMs: 60_000 });

  async function airtableOptions(workspaceId: string) {
    const connection = await readWorkspaceConnection(deps, workspaceId);
    return {
      baseId: connection.baseId,
      http: {
        endpointUrl: deps.airtable.endpointUrl,
        token: connection.token,
        timeoutMs: deps.airtable.requestTimeoutMs,
        signal: Context.current().cancellationSignal,
        pacer,
      },
    };
  }

  return {
    /** Confirms the workspace row the API recorded is there and still provisioning. */
    async claimWorkspace(input: { workspaceId: string }): Promise<{ baseId: string }> {
      const workspace = await workspaces.getWorkspace(pool, input.workspaceId);
      if (!workspace)
        throw ApplicationFailure.nonRetryable(
          `Workspace ${input.workspaceId} does not exist`,
          WorkspaceFailureType.missing,
        );
      return { baseId: workspace.airtableBaseId };
    },

    /** Confirms the sealed token is stored and opens under the current key, without returning it. */
    async checkAirtableConnection(input: { workspaceId: string }): Promise<void> {
      await airtableOptions(input.workspaceId);
    },

    /**
     * Reads the base schema with the workspace's token (always from Airtable: that is the proof).
     * 401/403/404 end provisioning with a reason a person can act on; 429/5xx/network errors are retried.
     */
    async verifyAirtableAccess(input: { workspaceId: string }): Promise<{ tableCount: number }> {
      const { baseId, http } = await airtableOptions(input.workspaceId);
      schemas.invalidate(baseId);
      try {
        const tables = await heartbeatWhile(() => schemas.get(http, baseId), 2_000);
        return { tableCount: tables.length };
      } catch (err) {
        throw toAirtableFailure(err, describeAccessProblem(err, baseId));
      }
    },

    /**
     * Keeps the base schema in Postgres (not in workflow history: schemas can be large): the one
     * verification has just read, or a fresh read when verification ran in another process.
     */
    async snapshotBaseSchema(input: {
      workspaceId: string;
    }): Promise<{ tableCount: number; fieldCount: number }> {
      const { baseId, http } = await airtableOptions(input.workspaceId);
      let tables;
      try {
        tables = await heartbeatWhile(() => schemas.get(http, baseId), 2_000);
      } catch (err) {
        throw toAirtableFailure(err, `Reading the schema of base ${baseId}`);
      }
      await workspaces.saveSchemaSnapshot(pool, input.workspaceId, baseId, tables);
      return { tableCount: tables.length, fieldCount: tables.reduce((n, t) => n + t.fields.length, 0) };
    },

    async activateWorkspace(input: { workspaceId: string }): Promise<void> {
      await workspaces.markConnectionVerified(pool, input.workspaceId);
      const changed = await workspaces.setWorkspaceStatus(pool, input.workspaceId, 'active', {
        from: ['provisioning', 'active'],
      });
      if (!changed)
        throw ApplicationFailure.nonRetryable(
          `Workspace ${input.workspaceId} is no longer provisioning`,
          WorkspaceFailureType.missing,
        );
    },

    // Compensations and deprovisioning steps: safe to repeat, and they never fail for "already done".

    async markWorkspaceFailed(input: { workspaceId: string; reason: string }): Promise<void> {
      await workspaces.setWorkspaceStatus(pool, input.workspaceId, 'failed', {
        error: input.reason,
        from: ['provisioning', 'failed'],
      });
    },

    async eraseAirtableConnection(input: { workspaceId: string }): Promise<void> {
      await workspaces.eraseAirtableConnection(pool, input.workspaceId);
    },

    async deleteSchemaSnapshot(input: { workspaceId: string }): Promise<void> {
      await workspaces.deleteSchemaSnapshot(pool, input.workspaceId);
    },

    async markWorkspaceDeprovisioning(input: { workspaceId: string }): Promise<{ exists: boolean }> {
      const workspace = await workspaces.getWorkspace(pool, input.workspaceId);
      if (!workspace) return { exists: false };
      await workspaces.setWorkspaceStatus(pool, input.workspaceId, 'deprovisioning');
      return { exists: true };
    },

    /** Deletes the workspace's Temporal Schedules (scheduled syncs); their ids start with `workspace-<id>-`. */
    async deleteWorkspaceSchedules(input: { workspaceId: string }): Promise<{ deleted: number }> {
      const client = deps.temporalClient;
      if (!client) return { deleted: 0 };
      let deleted = 0;
      const prefix = `workspace-${input.workspaceId}-`;
      for await (const schedule of client.schedule.list()) {
        if (!schedule.scheduleId.startsWith(prefix)) continue;
        await client.schedule
          .getHandle(schedule.scheduleId)
          .delete()
          .catch((err: Error) => {
            if (err.name !== 'ScheduleNotFoundError') throw err;
          });
        deleted++;
      }
      return { deleted };
    },

    /** The workspace row; its connection (already erased by the step before) and schema go with it by cascade. */
    async deleteWorkspaceRecords(input: { workspaceId: string }): Promise<void> {
      await workspaces.deleteWorkspace(pool, input.workspaceId);
    },
  };
}

export type WorkspaceActivities = ReturnType<typeof createWorkspaceActivities>;

function describeAccessProblem(err: unknown, baseId: string): string {
  const status = (err as { status?: number }).status;
  if (status === 401) return 'The Airtable token was refused (invalid or revoked)';
  if (status === 403)
    return `The Airtable token cannot access base ${baseId} (wrong base id, or the token lacks schema.bases:read on it)`;
  if (status === 404) return `Airtable base ${baseId} was not found`;
  return `Verifying access to Airtable base ${baseId}`;
}

import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { ConnectionDeps } from '../domain/workspaces/connection';
import { endWorkspaceJobs } from '../domain/jobs/workspace-jobs';
import { createWorkspaceProvisioning } from '../domain/workspaces/provisioning';
import { classify } from './classify';
import { heartbeatWhile } from './heartbeat';

/** What the workspace activities need from the outside world. */
export type WorkspaceActivityDeps = ConnectionDeps & {
  /** For removing a workspace's schedules; absent in tests that never deprovision. */
  temporalClient?: Client;
};

/** The activities of workspace provisioning and deprovisioning: Temporal's side of the domain's steps. */
export function createWorkspaceActivities(deps: WorkspaceActivityDeps) {
  const steps = createWorkspaceProvisioning(deps);

  /** An Airtable call: heartbeats while it waits (pacing included), cancellable, failures classified. */
  function airtableCall<T>(doing: string, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const signal = Context.current().cancellationSignal;
    return heartbeatWhile(() => call(signal), 2_000).catch((err: unknown) => {
      throw classify(err, doing);
    });
  }

  return {
    async claimWorkspace(input: { workspaceId: string }): Promise<{ baseId: string }> {
      return steps.claim(input.workspaceId);
    },

    async checkAirtableConnection(input: { workspaceId: string }): Promise<void> {
      await steps.checkConnection(input.workspaceId);
    },

    /** 401/403/404 end provisioning with a readable reason; 429/5xx/network errors are retried. */
    async verifyAirtableAccess(input: { workspaceId: string }): Promise<{ tableCount: number }> {
      return airtableCall(`Verifying access for workspace ${input.workspaceId}`, (signal) =>
        steps.verifyAccess(input.workspaceId, signal),
      );
    },

    async snapshotBaseSchema(input: {
      workspaceId: string;
    }): Promise<{ tableCount: number; fieldCount: number }> {
      return airtableCall(`Reading the base schema of workspace ${input.workspaceId}`, (signal) =>
        steps.snapshotSchema(input.workspaceId, signal),
      );
    },

    async activateWorkspace(input: { workspaceId: string }): Promise<void> {
      await steps.activate(input.workspaceId);
    },

    // Compensations and deprovisioning steps: safe to repeat, and they never fail for "already done".

    async markWorkspaceFailed(input: { workspaceId: string; reason: string }): Promise<void> {
      await steps.markFailed(input.workspaceId, input.reason);
    },

    async eraseAirtableConnection(input: { workspaceId: string }): Promise<void> {
      await steps.eraseConnection(input.workspaceId);
    },

    async deleteSchemaSnapshot(input: { workspaceId: string }): Promise<void> {
      await steps.deleteSchemaSnapshot(input.workspaceId);
    },

    async markWorkspaceDeprovisioning(input: { workspaceId: string }): Promise<{ exists: boolean }> {
      return steps.markDeprovisioning(input.workspaceId);
    },

    /**
     * Cancels the workspace's other jobs and waits until they have closed (a change set compensates
     * first), heartbeating meanwhile; jobs never started are abandoned.
     */
    async endWorkspaceJobs(input: {
      workspaceId: string;
      except: string;
    }): Promise<{ cancelled: number; abandoned: number }> {
      const client = deps.temporalClient;
      if (!client) throw new Error('endWorkspaceJobs needs a Temporal client');
      const context = Context.current();
      return endWorkspaceJobs({ pool: deps.pool, client }, input.workspaceId, {
        except: input.except,
        onWait: () => context.heartbeat(),
      });
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

    async deleteWorkspaceRecords(input: { workspaceId: string }): Promise<void> {
      await steps.deleteRecords(input.workspaceId);
    },
  };
}

export type WorkspaceActivities = ReturnType<typeof createWorkspaceActivities>;

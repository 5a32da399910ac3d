import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { ServiceError } from '../../core/errors';
import { withTransaction } from '../../db/pool';
import type { JobService } from '../jobs/service';
import * as jobs from '../jobs/store';
import { monthStart, workspaceUsage } from '../agent/store';
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

    /** Renames the workspace or changes the agent's settings (approval policy, monthly budget, model). */
    async update(
      workspace: store.Workspace,
      change: Parameters<typeof store.updateWorkspace>[2],
    ): Promise<store.Workspace> {
      if (workspace.status === 'deprovisioning')
        throw new ServiceError(409, 'workspace_busy', 'The workspace is being removed');
      return (await store.updateWorkspace(pool, workspace.id, change))!;
    },

    /** This month's agent usage against the budget, Airtable requests to the base, and jobs by kind. */
    async usage(workspace: store.Workspace) {
      const from = monthStart();
      const [tokens, requests, kinds] = await Promise.all([
        workspaceUsage(pool, workspace.id, from),
        pool.query<{ n: string }>(
          `SELECT coalesce(sum(requests), 0)::text AS n FROM airtable_request_counts WHERE base_id = $1 AND day >= $2`,
          [workspace.airtableBaseId, from],
        ),
        pool.query<{ kind: string; n: number }>(
          `SELECT kind, count(*)::int AS n FROM jobs WHERE workspace_id = $1 AND created_at >= $2 GROUP BY kind`,
          [workspace.id, from],
        ),
      ]);
      return {
        month: from.toISOString().slice(0, 7),
        inputTokens: tokens.inputTokens,
        outputTokens: tokens.outputTokens,
        thinkingTokens: tokens.thinkingTokens,
        costUsd: Math.round(tokens.costUsd * 1e6) / 1e6,
        budgetUsd: workspace.monthlyBudgetUsd,
        airtableRequests: Number(requests.rows[0]?.n ?? 0),
        jobs: Object.fromEntries(kinds.rows.map((r) => [r.kind, r.n])),
      };
    },

    /**
     * Starts deprovisioning; one job per workspace, so a repeated call answers the same job. The
     * workspace is marked `deprovisioning` with the job in one transaction, before the answer: from
     * then on no new job is accepted for it (a submit already holding the row finishes first, and its
     * job is then ended by the deprovisioning). If the start fails (503), nothing was started and the
     * workspace is as it was.
     */
    async remove(workspace: store.Workspace, userId: string): Promise<{ jobId: string }> {
      const jobId = `workspace-deprovision-${workspace.id}`;
      const job = { jobId, kind: 'workspace.deprovision', workspaceId: workspace.id, userId } as const;
      const was = await withTransaction(pool, async (tx) => {
        const marked = await store.markDeprovisioning(tx, workspace.id);
        if (!marked) throw new ServiceError(404, 'not_found', 'Workspace not found');
        if (marked.status === 'provisioning')
          throw new ServiceError(
            409,
            'workspace_busy',
            'The workspace is still being provisioned; cancel that job or wait for it',
          );
        await jobs.insertJob(tx, { id: jobId, kind: job.kind, workspaceId: workspace.id, userId });
        return marked;
      });
      try {
        await deps.jobs.start(job);
      } catch (err) {
        // The job was given up (the job service's 503, which has marked the workspace failed, as for
        // an abandoned removal): it goes back to what it was. One whose removal was asked for
        // earlier stays as that left it.
        if (err instanceof ServiceError && err.status === 503 && was.status !== 'deprovisioning')
          await store.setWorkspaceStatus(pool, workspace.id, was.status, {
            error: was.error,
            from: ['deprovisioning', 'failed'],
          });
        throw err;
      }
      return { jobId };
    },
  };
}

export type WorkspaceService = ReturnType<typeof createWorkspaceService>;

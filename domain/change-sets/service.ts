import { randomUUID } from 'node:crypto';
import canonicalJson from 'safe-stable-stringify';
import { sha256 } from '../../core/crypto';
import { ServiceError } from '../../core/errors';
import type { JobService } from '../jobs/service';
import * as jobs from '../jobs/store';
import type * as workspaces from '../workspaces/store';
import type { ChangeSetStepInput } from './model';
import { createChangeSetRecorder, type ChangeSetRecorderDeps } from './recorder';

/** What submitting a change set needs. */
export interface ChangeSetServiceDeps extends ChangeSetRecorderDeps {
  jobs: JobService;
}

/** Change sets: validated in full before anything is recorded, then applied by `applyChangeSet`. */
export function createChangeSetService(deps: ChangeSetServiceDeps) {
  const { pool } = deps;
  const recorder = createChangeSetRecorder(deps);

  return {
    record: recorder.record,

    /**
     * Validates a change set against the base schema and the records it names, records it with its
     * journal, and starts its job. A change set with any problem is refused (400, one detail per
     * problem) and nothing is recorded or started. With an idempotency key, a repeated submission
     * answers with the job the first one started (`existing`).
     */
    async submit(request: {
      workspace: workspaces.Workspace;
      userId: string;
      steps: ChangeSetStepInput[];
      idempotencyKey?: string;
    }): Promise<{ jobId: string; existing: boolean }> {
      const { workspace, userId } = request;
      const jobId = request.idempotencyKey
        ? `changeset-${sha256(`${userId}\n${request.idempotencyKey}`).slice(0, 32)}`
        : `changeset-${randomUUID()}`;
      const job = { jobId, kind: 'changeset.apply', workspaceId: workspace.id, userId } as const;
      const requestDigest = request.idempotencyKey ? sha256(canonicalJson(request.steps)) : undefined;
      if (request.idempotencyKey) {
        const earlier = await jobs.getOwnedJob(pool, jobId, userId);
        if (earlier?.requestDigest && earlier.requestDigest !== requestDigest)
          throw new ServiceError(
            422,
            'idempotency_key_reused',
            'This Idempotency-Key was already used for a different change set; use a new key for a new change set',
          );
        if (earlier && earlier.status !== 'abandoned') return { jobId, existing: true };
        if (earlier) {
          // The first submission was refused with 503 after it was recorded: start it now.
          await jobs.insertJob(pool, { id: jobId, kind: job.kind, workspaceId: workspace.id, userId });
          await deps.jobs.start(job);
          return { jobId, existing: false };
        }
      }
      await recorder.validateAndRecord({ workspace, userId, steps: request.steps, jobId, requestDigest });
      await deps.jobs.start(job);
      return { jobId, existing: false };
    },
  };
}

export type ChangeSetService = ReturnType<typeof createChangeSetService>;

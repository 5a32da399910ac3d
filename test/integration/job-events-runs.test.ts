import { randomUUID } from 'node:crypto';
import type { ChangeSetActivities } from '../../activities/change-sets';
import type { JobActivities } from '../../activities/jobs';
import type { ChangeSetProgressReport } from '../../domain/change-sets/model';
import { jobEventReader, parseJobCursor, type JobEvent } from '../../domain/jobs/events';
import type { JobService, JobView } from '../../domain/jobs/service';
import type { JobRecord } from '../../domain/jobs/store';
import { applyChangeSet } from '../../workflows/change-sets';
import { createTestContext, uniqueTaskQueue, withWorker, type TestContext } from '../support/helpers';

// A job's events across continue-as-new: a change set that slices its work over several runs is
// streamed from its first run to its last, with ids that keep increasing across runs, and a reader
// resuming from any id gets exactly the events after it.

function activities(total: number): ChangeSetActivities & JobActivities {
  let applied = 0;
  const report = (): ChangeSetProgressReport => ({
    done: applied >= total,
    recordsApplied: applied,
    stepsDone: applied >= total ? 1 : 0,
    recordsUndone: 0,
    stuck: 0,
  });
  return {
    claimJob: async () => ({ abandoned: false }),
    describeChangeSet: async () => ({
      steps: [{ table: 'Tasks', action: 'create', records: total }],
      recordsTotal: total,
    }),
    async applyChangeSetChunks() {
      await new Promise((r) => setTimeout(r, 20));
      applied = Math.min(total, applied + 10);
      return report();
    },
    undoChangeSetChunks: async () => report(),
    finishChangeSet: async (input) => ({
      status: input.status,
      recordsApplied: applied,
      recordsTotal: total,
    }),
  };
}

describe('job events across continue-as-new', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(() => ctx.close());

  it('follows every run to the end, and resumes from any event', async () => {
    const taskQueue = uniqueTaskQueue('job-events-runs');
    const jobId = `changeset-${randomUUID()}`;
    const job = {
      id: jobId,
      kind: 'changeset.apply',
      status: 'running',
      workspaceId: null,
    } as unknown as JobRecord;
    // The job service as the stream uses it: the job's view, from Temporal.
    const jobs = {
      async describe(): Promise<JobView> {
        const description = await ctx.client.workflow.getHandle(jobId).describe();
        const running =
          description.status.name === 'RUNNING' || description.status.name === 'CONTINUED_AS_NEW';
        return {
          id: jobId,
          kind: 'changeset.apply',
          status: running ? 'running' : 'completed',
          workspaceId: null,
          createdAt: new Date(),
          ...(running ? { progress: { runId: description.runId } } : {}),
        };
      },
    } as unknown as JobService;

    const readAll = async (from: string | undefined): Promise<JobEvent[]> => {
      const reader = jobEventReader({ client: ctx.client, jobs }, job, parseJobCursor(from)!);
      const events: JobEvent[] = [];
      const signal = new AbortController().signal;
      const deadline = Date.now() + 60_000;
      while (!events.some((e) => e.type === 'ended') && Date.now() < deadline) {
        const batch = await reader.read(signal);
        events.push(...batch);
        if (batch.length === 0) await new Promise((r) => setTimeout(r, 100));
      }
      return events;
    };

    const live = await withWorker(ctx, { taskQueue, activities: activities(60) }, async () => {
      await ctx.client.workflow.start(applyChangeSet, {
        taskQueue,
        workflowId: jobId,
        args: [{ changeSetId: jobId, workspaceId: 'ws-1', userId: 'u-1', historyLimit: 12 }],
      });
      // Read while it runs: the reader waits for new history, run after run.
      return readAll(undefined);
    });

    const types = live.map((e) => e.type);
    expect(types[0]).toBe('started');
    expect(types.at(-1)).toBe('ended');
    expect(live.at(-1)!.data).toMatchObject({ status: 'completed' });
    const slices = live.filter(
      (e) => e.type === 'step_completed' && (e.data as { step: string }).step === 'applyChangeSetChunks',
    );
    expect(slices).toHaveLength(6);
    const runs = new Set(live.map((e) => e.id.split('.')[0]));
    expect(runs.size).toBeGreaterThan(1);
    const places = live
      .filter((e) => e.type !== 'progress')
      .map((e) => e.id.split('.').map(Number) as [number, number]);
    for (let i = 1; i < places.length; i++) {
      const [r0, e0] = places[i - 1]!;
      const [r1, e1] = places[i]!;
      expect(r1 > r0 || (r1 === r0 && e1 > e0)).toBe(true);
    }

    const steps = live.filter((e) => e.type !== 'progress');
    // Read again after the end, from the start and from events in several runs.
    expect((await readAll(undefined)).filter((e) => e.type !== 'progress').map((e) => e.id)).toEqual(
      steps.map((e) => e.id),
    );
    for (const cut of [1, Math.floor(steps.length / 2), steps.length - 2]) {
      const resumed = (await readAll(steps[cut]!.id)).filter((e) => e.type !== 'progress');
      expect(resumed.map((e) => `${e.id} ${e.type}`)).toEqual(
        steps.slice(cut + 1).map((e) => `${e.id} ${e.type}`),
      );
    }
  });
});

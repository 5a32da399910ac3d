import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import type { JobActivities } from '../../activities/jobs';
import type { WorkspaceActivities } from '../../activities/workspaces';
import { FailureType } from '../../core/failures';
import { provisionWorkspace } from '../../workflows/workspaces';
import {
  createTestContext,
  eventually,
  uniqueTaskQueue,
  withWorker,
  type TestContext,
} from '../support/helpers';

// The saga's control flow with injected activities: which undo runs after a failure at each step.

type Step =
  | 'claimWorkspace'
  | 'checkAirtableConnection'
  | 'verifyAirtableAccess'
  | 'snapshotBaseSchema'
  | 'activateWorkspace';

function fakeActivities(
  options: { failAt?: Step; hangAt?: Step; flakyCompensation?: number; abandoned?: boolean } = {},
) {
  const calls: string[] = [];
  let compensationFailures = options.flakyCompensation ?? 0;
  const step = <T>(name: Step, result?: T) =>
    async function (): Promise<T> {
      calls.push(name);
      // Long enough to cancel during, short enough that worker shutdown does not wait long for it.
      if (options.hangAt === name) await new Promise((r) => setTimeout(r, 3_000));
      if (options.failAt === name) throw ApplicationFailure.nonRetryable(`${name} broke`, 'TestFailure');
      return result as T;
    };
  const compensation = (name: string) =>
    async function (input: { workspaceId: string; reason?: string }) {
      if (compensationFailures > 0) {
        compensationFailures--;
        throw new Error('database briefly unavailable');
      }
      calls.push(input.reason ? `${name}(${input.reason})` : name);
    };
  const activities: Partial<WorkspaceActivities & JobActivities> = {
    async claimJob() {
      calls.push('claimJob');
      return { abandoned: options.abandoned ?? false };
    },
    claimWorkspace: step('claimWorkspace', { baseId: 'appAAAAAAAAAAAAAA' }),
    checkAirtableConnection: step('checkAirtableConnection'),
    verifyAirtableAccess: step('verifyAirtableAccess', { tableCount: 2 }),
    snapshotBaseSchema: step('snapshotBaseSchema', { tableCount: 2, fieldCount: 7 }),
    activateWorkspace: step('activateWorkspace'),
    markWorkspaceFailed: compensation('markWorkspaceFailed'),
    eraseAirtableConnection: compensation('eraseAirtableConnection'),
    deleteSchemaSnapshot: compensation('deleteSchemaSnapshot'),
  };
  return { calls, activities };
}

describe('provisionWorkspace saga', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(() => ctx.close());

  async function run(activities: object, taskQueue = uniqueTaskQueue('saga')) {
    return withWorker(ctx, { taskQueue, activities }, () =>
      ctx.client.workflow.execute(provisionWorkspace, {
        taskQueue,
        workflowId: `test-provision-${randomUUID()}`,
        args: [{ workspaceId: randomUUID(), userId: randomUUID() }],
      }),
    );
  }

  it('runs every step in order and returns the schema summary', async () => {
    const { calls, activities } = fakeActivities();
    const result = await run(activities);
    expect(calls).toEqual([
      'claimJob',
      'claimWorkspace',
      'checkAirtableConnection',
      'verifyAirtableAccess',
      'snapshotBaseSchema',
      'activateWorkspace',
    ]);
    expect(result).toMatchObject({ status: 'active', tableCount: 2, fieldCount: 7 });
  });

  const cases: Array<[Step, string[]]> = [
    ['claimWorkspace', ['markWorkspaceFailed(claimWorkspace broke)']],
    [
      'checkAirtableConnection',
      ['eraseAirtableConnection', 'markWorkspaceFailed(checkAirtableConnection broke)'],
    ],
    ['verifyAirtableAccess', ['eraseAirtableConnection', 'markWorkspaceFailed(verifyAirtableAccess broke)']],
    [
      'snapshotBaseSchema',
      ['deleteSchemaSnapshot', 'eraseAirtableConnection', 'markWorkspaceFailed(snapshotBaseSchema broke)'],
    ],
    [
      'activateWorkspace',
      ['deleteSchemaSnapshot', 'eraseAirtableConnection', 'markWorkspaceFailed(activateWorkspace broke)'],
    ],
  ];

  it.each(cases)('a failure in %s undoes the earlier steps in reverse order', async (failAt, undo) => {
    const { calls, activities } = fakeActivities({ failAt });
    const error = await run(activities).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe(FailureType.provisioningFailed);
    expect(cause.message).toBe(`${failAt} broke`);
    const failedAt = calls.indexOf(failAt);
    expect(calls.slice(failedAt + 1)).toEqual(undo);
  });

  it('ends at its claim, touching nothing, when the API abandoned the job', async () => {
    const { calls, activities } = fakeActivities({ abandoned: true });
    const error = await run(activities).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(((error as WorkflowFailedError).cause as ApplicationFailure).type).toBe(FailureType.jobAbandoned);
    expect(calls).toEqual(['claimJob']);
  });

  it('retries a compensation until it succeeds', async () => {
    const { calls, activities } = fakeActivities({ failAt: 'verifyAirtableAccess', flakyCompensation: 2 });
    await expect(run(activities)).rejects.toThrow(WorkflowFailedError);
    expect(calls).toContain('eraseAirtableConnection');
    expect(calls).toContain('markWorkspaceFailed(verifyAirtableAccess broke)');
  });

  it('compensates when cancelled mid-way and ends cancelled', async () => {
    const { calls, activities } = fakeActivities({ hangAt: 'verifyAirtableAccess' });
    const taskQueue = uniqueTaskQueue('saga-cancel');
    const workflowId = `test-provision-${randomUUID()}`;
    await withWorker(ctx, { taskQueue, activities }, async () => {
      const handle = await ctx.client.workflow.start(provisionWorkspace, {
        taskQueue,
        workflowId,
        args: [{ workspaceId: randomUUID(), userId: randomUUID() }],
      });
      await eventually(async () => (calls.includes('verifyAirtableAccess') ? true : undefined));
      await handle.cancel();
      await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
      expect((await handle.describe()).status.name).toBe('CANCELLED');
    });
    expect(calls.slice(calls.indexOf('verifyAirtableAccess') + 1)).toEqual([
      'eraseAirtableConnection',
      'markWorkspaceFailed(Provisioning was cancelled)',
    ]);
  });
});

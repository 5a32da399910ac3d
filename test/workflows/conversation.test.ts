import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import type { ConversationActivities } from '../../activities/conversations';
import type { JobActivities } from '../../activities/jobs';
import type { ModelStep } from '../../domain/agent/model';
import { dataConverter } from '../../temporal/data-converter';
import {
  conversation,
  CONVERSATION_WORKFLOW_TASK_TIMEOUT,
  conversationStateQuery,
  endConversationSignal,
  LOCAL_STEPS_PATCH,
  sendMessageUpdate,
  TURN_IN_PROGRESS,
} from '../../workflows/conversations';
import {
  createTestContext,
  eventually,
  historyText,
  localActivityMarkers,
  scheduledActivityTypes,
  uniqueTaskQueue,
  withWorker,
  workflowBundle,
  type TestContext,
} from '../support/helpers';

// The conversation's control flow with injected activities: turns, model and tool calls as local
// activities, a message refused while a turn runs (and kept out of the history), continue-as-new
// between turns, and the end. Workflows start as the job service starts them (its workflow task timeout).

function fakeActivities(options: { holdTurn?: Promise<void> } = {}) {
  const calls: string[] = [];
  const activities: ConversationActivities & JobActivities = {
    async claimJob() {
      calls.push('claim');
      return { abandoned: false };
    },
    async startTurn({ turnId }) {
      calls.push(`start ${turnId}`);
    },
    async callModel({ step }): Promise<ModelStep> {
      calls.push(`model ${step}`);
      await options.holdTurn;
      return step === 1
        ? { kind: 'tool_calls', calls: [{ toolCallId: `t${step}`, needsApproval: false }] }
        : { kind: 'answer' };
    },
    async executeTool({ toolCallId }) {
      calls.push(`tool ${toolCallId}`);
      return { kind: 'done', status: 'succeeded' };
    },
    async requestApproval() {
      throw new Error('not expected');
    },
    async resolveApproval() {
      throw new Error('not expected');
    },
    async recordChangeSetOutcome() {
      throw new Error('not expected');
    },
    async finishTurn({ ending }) {
      calls.push(`finish ${ending}`);
    },
    async endConversation() {
      calls.push('end');
    },
  };
  return { calls, activities };
}

describe('conversation workflow', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(() => ctx.close());

  it('runs turns, continues as new between them past its history limit, and ends on request', async () => {
    const { calls, activities } = fakeActivities();
    const taskQueue = uniqueTaskQueue('conversation-wf');
    const workflowId = `conversation-${randomUUID()}`;
    await withWorker(ctx, { taskQueue, activities }, async () => {
      const handle = await ctx.client.workflow.start(conversation, {
        taskQueue,
        workflowId,
        workflowTaskTimeout: CONVERSATION_WORKFLOW_TASK_TIMEOUT,
        args: [{ conversationId: workflowId, workspaceId: 'ws', userId: 'u', historyLimit: 20 }],
      });
      for (let turn = 1; turn <= 3; turn++) {
        const accepted = await handle.executeUpdate(sendMessageUpdate, {
          args: [{ turnId: `turn-${turn}`, messageId: `msg-${turn}` }],
        });
        expect(accepted).toEqual({ turnId: `turn-${turn}` });
        await eventually(async () =>
          calls.filter((c) => c === 'finish answered').length === turn ? true : undefined,
        );
      }
      const state = await handle.query(conversationStateQuery);
      expect(state).toMatchObject({ status: 'idle', turns: 3 });
      await handle.signal(endConversationSignal);
      await handle.result();
    });
    expect(calls.filter((c) => c === 'claim')).toHaveLength(1);
    expect(calls.at(-1)).toBe('end');
    // The first run's history passed 20 events, so later turns ran in new runs of the same workflow.
    const runs = new Set<string>();
    for await (const execution of ctx.client.workflow.list({ query: `WorkflowId = '${workflowId}'` }))
      runs.add(execution.runId);
    expect(runs.size).toBeGreaterThan(1);
  });

  it('refuses a message while a turn runs, leaving nothing of it in the history', async () => {
    let release!: () => void;
    const holdTurn = new Promise<void>((r) => (release = r));
    const { calls, activities } = fakeActivities({ holdTurn });
    const taskQueue = uniqueTaskQueue('conversation-busy');
    const workflowId = `conversation-${randomUUID()}`;
    await withWorker(ctx, { taskQueue, activities }, async () => {
      const handle = await ctx.client.workflow.start(conversation, {
        taskQueue,
        workflowId,
        workflowTaskTimeout: CONVERSATION_WORKFLOW_TASK_TIMEOUT,
        args: [{ conversationId: workflowId, workspaceId: 'ws', userId: 'u' }],
      });
      await handle.executeUpdate(sendMessageUpdate, { args: [{ turnId: 'turn-1', messageId: 'msg-1' }] });
      await eventually(async () => (calls.includes('model 1') ? true : undefined));
      // The model call is a local activity: its workflow task stays open, and the update waits for the
      // worker's next heartbeat of that task (80 % of the 2 s timeout), not for the call to end.
      const sent = Date.now();
      const refused = await handle
        .executeUpdate(sendMessageUpdate, { args: [{ turnId: 'turn-2', messageId: 'msg-2' }] })
        .catch((err: unknown) => err);
      expect(Date.now() - sent).toBeLessThan(5_000);
      expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
      expect(((refused as WorkflowUpdateFailedError).cause as { type?: string }).type).toBe(TURN_IN_PROGRESS);
      release();
      await eventually(async () => (calls.includes('finish answered') ? true : undefined));
      await handle.signal(endConversationSignal);
      await handle.result();
      const history = historyText(await handle.fetchHistory());
      expect(history).toContain('turn-1');
      expect(history).not.toContain('turn-2');
    });
    expect(calls).not.toContain('start turn-2');
  });

  it('runs model and tool calls as local activities, whose history replays', async () => {
    const { calls, activities } = fakeActivities();
    const taskQueue = uniqueTaskQueue('conversation-local');
    const workflowId = `conversation-${randomUUID()}`;
    const history = await withWorker(ctx, { taskQueue, activities }, async () => {
      const handle = await ctx.client.workflow.start(conversation, {
        taskQueue,
        workflowId,
        workflowTaskTimeout: CONVERSATION_WORKFLOW_TASK_TIMEOUT,
        args: [{ conversationId: workflowId, workspaceId: 'ws', userId: 'u' }],
      });
      await handle.executeUpdate(sendMessageUpdate, { args: [{ turnId: 'turn-1', messageId: 'msg-1' }] });
      await eventually(async () => (calls.includes('finish answered') ? true : undefined));
      await handle.signal(endConversationSignal);
      await handle.result();
      return handle.fetchHistory();
    });
    expect(calls).toEqual([
      'claim',
      'start turn-1',
      'model 1',
      'tool t1',
      'model 2',
      'finish answered',
      'end',
    ]);
    expect(localActivityMarkers(history).map((m) => m.activityType)).toEqual([
      'callModel',
      'executeTool',
      'callModel',
    ]);
    expect(scheduledActivityTypes(history)).toEqual([
      'claimJob',
      'startTurn',
      'finishTurn',
      'endConversation',
    ]);
    expect(historyText(history)).toContain(LOCAL_STEPS_PATCH);
    const started = history.events![0]!.workflowExecutionStartedEventAttributes!;
    expect(Number(started.workflowTaskTimeout!.seconds)).toBe(2);
    // Today's code replays the new history (the recorded fixtures cover the histories from before).
    await expect(
      Worker.runReplayHistory({ workflowBundle: workflowBundle(), dataConverter }, history, workflowId),
    ).resolves.toBeUndefined();
  });
});

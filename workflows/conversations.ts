import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  executeChild,
  isCancellation,
  makeContinueAsNewFunc,
  ParentClosePolicy,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { ConversationActivities } from '../activities/conversations';
import { failureReason } from '../core/failures';
import type { ConversationStatus } from '../domain/agent/model';
import { applyChangeSet } from './change-sets';
import { claimJob, tagJob } from './jobs';

/** Input of {@link conversation}: ids and counters only; every word lives in Postgres. */
export interface ConversationInput {
  conversationId: string;
  workspaceId: string;
  userId: string;
  /** The most model calls one turn makes. @default 10 */
  maxStepsPerTurn?: number;
  /** Turns taken by earlier runs (continue-as-new). */
  turns?: number;
  /** Continue as a new run once the history holds this many events (between turns). @default 2000 */
  historyLimit?: number;
}

/** A message, already stored by the API: the update carries its id and the turn's id. */
export interface SendMessageInput {
  turnId: string;
  messageId: string;
}

/** What the state query answers. */
export interface ConversationState {
  status: ConversationStatus;
  turns: number;
  turnId?: string;
  step: number;
  pendingApprovals: number;
}

/** The error type the update's validator refuses a message with while a turn runs. */
export const TURN_IN_PROGRESS = 'TurnInProgress';
/** The error type the update's validator refuses a message with once the conversation ended. */
export const CONVERSATION_ENDED = 'ConversationEnded';

export const sendMessageUpdate = defineUpdate<{ turnId: string }, [SendMessageInput]>('sendMessage');
export const approvalDecidedSignal = defineSignal<[{ approvalId: string }]>('approvalDecided');
export const endConversationSignal = defineSignal('endConversation');
export const conversationStateQuery = defineQuery<ConversationState>('state');

/**
 * The patch under which a turn's model and tool calls run as local activities. Histories recorded
 * before it (no marker) replay with the regular activities they scheduled; a conversation that was
 * running when the patch shipped takes local activities from its next step on.
 */
export const LOCAL_STEPS_PATCH = 'agent-steps-as-local-activities';

/**
 * The conversation's workflow task timeout, given where it starts and when it continues as new.
 * While a local activity runs (a model call may take 30 s) its workflow task stays open: the worker
 * heartbeats it at 80 % of this timeout, and an update (`sendMessage`) or a query that arrived
 * meanwhile is answered at such a heartbeat (within about 3 s, not at the end of the call). A worker
 * that dies mid-turn is noticed after this long, and another worker runs the task's local activities
 * again (answered from Postgres where they had finished); so is a task a saturated worker could not
 * finish or heartbeat in time. Each heartbeat adds three events to the history (completed,
 * scheduled, started), about two a second of local activity.
 */
export const CONVERSATION_WORKFLOW_TASK_TIMEOUT = '2s';

// Bookkeeping in Postgres: short, retried until done.
const bookkeeping = proxyActivities<ConversationActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '30s' },
});

// A model call: retried on 429 (after Google's retryDelay, the failure's nextRetryDelay), 5xx and
// network errors, a few times.
const MODEL_RETRY = {
  initialInterval: '2s',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  maximumAttempts: 6,
} as const;
// A tool call: reads and schema writes are paced with everything else, so they may wait.
const TOOL_RETRY = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  maximumAttempts: 10,
} as const;
/**
 * A local activity's retry that would wait longer than this waits on a workflow timer instead, so the
 * workflow task does not stay open (updates waiting, a heartbeat every 1.6 s) through a long backoff.
 * Below the task's 2 s timeout: a backoff held inside the task is lost when a busy worker lets the
 * task time out, and the re-run task would call Gemini again before the `retryDelay` it asked for
 * (seen once in CI under load: 2.2 s after a 429 that asked for 3.5 s).
 */
const LOCAL_RETRY_THRESHOLD = '1s';

/**
 * Model and tool calls as local activities: the worker runs them inside the workflow task that asked
 * for them and records each result as a marker when that task completes, which saves the activity
 * task round trips through the server (two workflow tasks and two activity completions a step, about
 * 30 ms on the dev server). Safe because both are idempotent against the Postgres journal: a crash
 * before the marker is recorded runs them again, and `callModel` then returns the model message
 * stored for (turn, step) without asking the model, `executeTool` the result stored for the tool call
 * (or the change set already recorded for it). They cannot heartbeat; the worker heartbeats the open
 * workflow task instead (see {@link CONVERSATION_WORKFLOW_TASK_TIMEOUT}).
 */
const localSteps = {
  model: proxyLocalActivities<ConversationActivities>({
    startToCloseTimeout: '3 minutes',
    localRetryThreshold: LOCAL_RETRY_THRESHOLD,
    retry: MODEL_RETRY,
  }),
  tools: proxyLocalActivities<ConversationActivities>({
    startToCloseTimeout: '10 minutes',
    localRetryThreshold: LOCAL_RETRY_THRESHOLD,
    retry: TOOL_RETRY,
  }),
};

/** The same calls as regular activities: what histories from before {@link LOCAL_STEPS_PATCH} replay. */
const scheduledSteps = {
  model: proxyActivities<ConversationActivities>({
    startToCloseTimeout: '3 minutes',
    heartbeatTimeout: '20s',
    retry: MODEL_RETRY,
  }),
  tools: proxyActivities<ConversationActivities>({
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '20s',
    retry: TOOL_RETRY,
  }),
};

/** Local activities, unless the history being replayed scheduled regular ones at this point. */
function steps() {
  return patched(LOCAL_STEPS_PATCH) ? localSteps : scheduledSteps;
}

/**
 * A conversation with the agent: waits for a message, then runs a turn of at most N model calls
 * (model and tool calls as local activities, the turn's bookkeeping as regular ones); tool calls that
 * change the base wait for a person's decision (or its expiry), record writes run as child change
 * sets (all-or-nothing, exactly once). The history holds ids and counters only. Start it with
 * {@link CONVERSATION_WORKFLOW_TASK_TIMEOUT}.
 */
export async function conversation(input: ConversationInput): Promise<void> {
  tagJob('conversation', input.workspaceId, input.userId);
  const { conversationId } = input;
  const maxSteps = input.maxStepsPerTurn ?? 10;
  const state: ConversationState = { status: 'idle', turns: input.turns ?? 0, step: 0, pendingApprovals: 0 };
  let next: SendMessageInput | undefined;
  let ending = false;
  const decided = new Set<string>();

  setHandler(conversationStateQuery, () => state);
  setHandler(
    sendMessageUpdate,
    (message) => {
      next = message;
      state.status = 'running';
      return { turnId: message.turnId };
    },
    {
      // Refused before anything is recorded in the history: the API answers 409.
      validator: (_message: SendMessageInput) => {
        if (ending || state.status === 'ended')
          throw ApplicationFailure.create({
            type: CONVERSATION_ENDED,
            message: 'The conversation has ended',
          });
        if (state.status !== 'idle' || next)
          throw ApplicationFailure.create({
            type: TURN_IN_PROGRESS,
            message: 'A turn is running or waiting for an approval',
          });
      },
    },
  );
  setHandler(approvalDecidedSignal, ({ approvalId }) => void decided.add(approvalId));
  setHandler(endConversationSignal, () => void (ending = true));

  if (input.turns === undefined) await claimJob();

  async function handleCall(call: { toolCallId: string; needsApproval: boolean }): Promise<void> {
    if (call.needsApproval) {
      const request = await bookkeeping.requestApproval({ conversationId, toolCallId: call.toolCallId });
      if (request.kind === 'failed') return;
      state.pendingApprovals++;
      state.status = 'awaiting_approval';
      const inTime = await condition(() => decided.has(request.approvalId), request.expiresInMs);
      state.pendingApprovals--;
      if (state.pendingApprovals === 0) state.status = 'running';
      const { approved } = await bookkeeping.resolveApproval({
        conversationId,
        approvalId: request.approvalId,
        timedOut: !inTime,
      });
      if (!approved) return;
    }
    const execution = await steps().tools.executeTool({ conversationId, toolCallId: call.toolCallId });
    if (execution.kind === 'done') return;
    try {
      const outcome = await executeChild(applyChangeSet, {
        workflowId: execution.changeSetId,
        args: [{ changeSetId: execution.changeSetId, workspaceId: input.workspaceId, userId: input.userId }],
        // Ending the conversation cancels the change set, which then undoes what it applied.
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      });
      await bookkeeping.recordChangeSetOutcome({ conversationId, toolCallId: call.toolCallId, outcome });
    } catch (err) {
      if (isCancellation(err)) throw err;
      await bookkeeping.recordChangeSetOutcome({
        conversationId,
        toolCallId: call.toolCallId,
        error: failureReason(err),
      });
    }
  }

  /**
   * Ends a turn. The conversation is idle before the end is recorded: once Postgres says idle, the
   * workflow takes the next message (a message sent meanwhile is taken, not refused).
   */
  async function endTurn(end: Parameters<ConversationActivities['finishTurn']>[0]): Promise<void> {
    state.turns++;
    state.status = 'idle';
    state.turnId = undefined;
    state.step = 0;
    await bookkeeping.finishTurn(end);
  }

  async function runTurn(message: SendMessageInput): Promise<void> {
    const { turnId } = message;
    state.turnId = turnId;
    await bookkeeping.startTurn({ conversationId, turnId, messageId: message.messageId });
    for (state.step = 1; state.step <= maxSteps; state.step++) {
      const step = await steps().model.callModel({ conversationId, turnId, step: state.step });
      if (step.kind !== 'tool_calls') {
        const ending =
          step.kind === 'answer' ? 'answered' : step.kind === 'budget_exceeded' ? 'budget' : 'failed';
        await endTurn({ conversationId, turnId, ending, steps: state.step });
        return;
      }
      // Parallel calls of one model turn run together; each waits for its own approval.
      await Promise.all(step.calls.map(handleCall));
    }
    await endTurn({ conversationId, turnId, ending: 'step_cap', steps: maxSteps });
  }

  let continuing = false;
  try {
    for (;;) {
      await condition(() => next !== undefined || ending);
      if (!next) break;
      const message = next;
      next = undefined;
      try {
        await runTurn(message);
      } catch (err) {
        if (isCancellation(err)) throw err;
        // A model that stays unavailable after its retries ends the turn, not the conversation.
        await endTurn({
          conversationId,
          turnId: message.turnId,
          ending: 'failed',
          steps: state.step,
          reason: failureReason(err),
        });
      }
      const info = workflowInfo();
      if (!ending && (info.continueAsNewSuggested || info.historyLength > (input.historyLimit ?? 2_000))) {
        await condition(allHandlersFinished);
        if (!next) {
          continuing = true;
          // The workflow task timeout is given again, so conversations started before it had one take it.
          await makeContinueAsNewFunc<typeof conversation>({
            workflowTaskTimeout: CONVERSATION_WORKFLOW_TASK_TIMEOUT,
          })({ ...input, turns: state.turns });
        }
      }
    }
  } finally {
    if (!continuing) {
      state.status = 'ended';
      await CancellationScope.nonCancellable(() => bookkeeping.endConversation({ conversationId }));
    }
  }
}

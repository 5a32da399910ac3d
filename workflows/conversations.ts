import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  executeChild,
  isCancellation,
  ParentClosePolicy,
  proxyActivities,
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

// Bookkeeping in Postgres: short, retried until done.
const bookkeeping = proxyActivities<ConversationActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '30s' },
});

// A model call: retried on 429 (after Google's retryDelay), 5xx and network errors, a few times.
const model = proxyActivities<ConversationActivities>({
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '20s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 6 },
});

// A tool call: reads and schema writes are paced with everything else, so they may wait.
const tools = proxyActivities<ConversationActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '20s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10 },
});

/**
 * A conversation with the agent: waits for a message, then runs a turn of at most N model calls;
 * tool calls that change the base wait for a person's decision (or its expiry), record writes run
 * as child change sets (all-or-nothing, exactly once). The history holds ids and counters only.
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
    const execution = await tools.executeTool({ conversationId, toolCallId: call.toolCallId });
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
      const step = await model.callModel({ conversationId, turnId, step: state.step });
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
          await continueAsNew<typeof conversation>({ ...input, turns: state.turns });
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

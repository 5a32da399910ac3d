import { FailureType, platformFailure } from '../core/failures';
import { createAgentEngine, type AgentDeps } from '../domain/agent/engine';
import { ModelError } from '../domain/agent/llm';
import { classify } from './classify';
import { heartbeatWhile } from './heartbeat';

/** What the conversation activities need. */
export type ConversationActivityDeps = AgentDeps;

/**
 * Activities of a conversation: Temporal's side of the agent's engine. `callModel` and `executeTool`
 * run as local activities (workflows/conversations.ts), the bookkeeping as regular ones, which
 * heartbeat while they run. Failures are classified the same way for both: a 429 waits the delay
 * Google asked for (the failure's `nextRetryDelay`, which the worker honours for local retries too,
 * or turns into a workflow timer past the local retry threshold), 5xx and network errors retry with
 * backoff (400 and 403 never reach here: the engine ends the turn with them).
 */
export function createConversationActivities(deps: ConversationActivityDeps) {
  const engine = createAgentEngine(deps);

  function step<I, O>(doing: string, run: (input: I) => Promise<O>) {
    return (input: I): Promise<O> =>
      heartbeatWhile(() => run(input), 2_000).catch((err: unknown) => {
        if (err instanceof ModelError)
          throw platformFailure(FailureType.modelUnavailable, `${doing}: ${err.message}`, {
            retryable: true,
            ...(err.retryDelayMs ? { nextRetryDelay: err.retryDelayMs } : {}),
          });
        throw classify(err, doing);
      });
  }

  return {
    startTurn: step('Starting a turn', engine.startTurn),
    callModel: step('Calling the model', engine.callModel),
    requestApproval: step('Asking for approval', engine.requestApproval),
    resolveApproval: step('Resolving an approval', engine.resolveApproval),
    executeTool: step('Running a tool', engine.executeTool),
    recordChangeSetOutcome: step('Recording a change set outcome', engine.recordChangeSetOutcome),
    finishTurn: step('Finishing a turn', engine.finishTurn),
    endConversation: step('Ending the conversation', engine.endConversation),
  };
}

export type ConversationActivities = ReturnType<typeof createConversationActivities>;

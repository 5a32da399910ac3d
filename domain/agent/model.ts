// The agent's model: conversations, their messages, tool calls and approvals. Types only, so
// workflows may import it.

/** Where a conversation stands. */
export type ConversationStatus = 'idle' | 'running' | 'awaiting_approval' | 'ended';

/** Which tool calls wait for a person: those that change the base (default), all, or none. */
export type ApprovalPolicy = 'writes' | 'always' | 'never';

/** What became of a tool call. */
export type ToolCallStatus =
  'pending' | 'awaiting_approval' | 'running' | 'succeeded' | 'failed' | 'declined' | 'expired';

/** A tool call as the API shows it. */
export interface ToolCallView {
  id: string;
  name: string;
  args: unknown;
  status: ToolCallStatus;
  result?: unknown;
}

/** A message as the API shows it. */
export interface MessageView {
  id: string;
  role: 'user' | 'assistant' | 'tool';
  text?: string;
  toolCalls?: ToolCallView[];
  createdAt: Date;
}

/** A pending approval as the API shows it. */
export interface ApprovalView {
  id: string;
  tool: string;
  args: unknown;
  preview: unknown;
  expiresAt: Date;
}

/** Token counts and cost of model calls. */
export interface UsageTotals {
  inputTokens: number;
  outputTokens: number;
  thinkingTokens: number;
  costUsd: number;
}

/** What the workflow learns of one model call: ids and flags, never text or values. */
export type ModelStep =
  | { kind: 'answer' }
  | { kind: 'tool_calls'; calls: Array<{ toolCallId: string; needsApproval: boolean }> }
  | { kind: 'budget_exceeded' }
  | { kind: 'failed'; reason: string };

/** How a tool call ended, as the workflow needs it. */
export type ToolOutcome = { status: 'succeeded' | 'failed' | 'declined' | 'expired' };

/** What the tool call's write needs next: nothing (done), or a change set to apply. */
export type ToolExecution =
  { kind: 'done'; status: 'succeeded' | 'failed' } | { kind: 'change_set'; changeSetId: string };

/** The event types of a conversation's live stream. */
export type ConversationEventType =
  | 'message'
  | 'tool_call'
  | 'tool_result'
  | 'approval_requested'
  | 'approval_decided'
  | 'turn_completed'
  | 'turn_failed'
  | 'conversation_ended';

import type { Pool, PoolClient } from 'pg';
import { withTransaction } from '../../db/pool';
import type {
  ApprovalView,
  ConversationEventType,
  ConversationStatus,
  MessageView,
  ToolCallStatus,
  ToolCallView,
  UsageTotals,
} from './model';

type Queryable = Pool | PoolClient;

/** The first day of the current month (UTC), for budgets and usage. */
export function monthStart(now = new Date()): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

/** A conversation row. */
export interface ConversationRow {
  id: string;
  workspaceId: string;
  userId: string;
  title: string;
  status: ConversationStatus;
  createdAt: Date;
  updatedAt: Date;
}

const CONVERSATION = `id, workspace_id AS "workspaceId", user_id AS "userId", title, status,
  created_at AS "createdAt", updated_at AS "updatedAt"`;

export async function insertConversation(
  db: Queryable,
  c: { id: string; workspaceId: string; userId: string; title: string },
): Promise<ConversationRow> {
  const { rows } = await db.query<ConversationRow>(
    `INSERT INTO conversations (id, workspace_id, user_id, title) VALUES ($1, $2, $3, $4) RETURNING ${CONVERSATION}`,
    [c.id, c.workspaceId, c.userId, c.title],
  );
  return rows[0]!;
}

export async function getConversation(db: Queryable, id: string): Promise<ConversationRow | undefined> {
  const { rows } = await db.query<ConversationRow>(
    `SELECT ${CONVERSATION} FROM conversations WHERE id = $1`,
    [id],
  );
  return rows[0];
}

/** The conversation if `userId` owns it; another user's is indistinguishable from a missing one. */
export async function getOwnedConversation(
  db: Queryable,
  id: string,
  userId: string,
): Promise<ConversationRow | undefined> {
  const { rows } = await db.query<ConversationRow>(
    `SELECT ${CONVERSATION} FROM conversations WHERE id = $1 AND user_id = $2`,
    [id, userId],
  );
  return rows[0];
}

export async function listConversations(
  db: Queryable,
  workspaceId: string,
  userId: string,
): Promise<ConversationRow[]> {
  const { rows } = await db.query<ConversationRow>(
    `SELECT ${CONVERSATION} FROM conversations WHERE workspace_id = $1 AND user_id = $2 ORDER BY created_at DESC, id`,
    [workspaceId, userId],
  );
  return rows;
}

export async function setConversationStatus(
  db: Queryable,
  id: string,
  status: ConversationStatus,
): Promise<void> {
  await db.query(
    `UPDATE conversations SET status = $2, updated_at = now() WHERE id = $1 AND status <> 'ended'`,
    [id, status],
  );
}

/** A stored message, with the raw content the model is sent. */
export interface MessageRow {
  id: string;
  turnId: string | null;
  role: 'user' | 'assistant' | 'tool';
  text: string | null;
  content: unknown;
  createdAt: Date;
}

/** Stores a message once: a retried activity finds it there. Returns false when it existed. */
export async function insertMessage(
  db: Queryable,
  m: {
    id: string;
    conversationId: string;
    turnId: string | null;
    role: MessageRow['role'];
    text?: string | null;
    content?: unknown;
  },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO conversation_messages (id, conversation_id, turn_id, role, text, content)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
    [
      m.id,
      m.conversationId,
      m.turnId,
      m.role,
      m.text ?? null,
      m.content === undefined ? null : JSON.stringify(m.content),
    ],
  );
  return (rowCount ?? 0) > 0;
}

export async function deleteMessage(db: Queryable, id: string): Promise<void> {
  await db.query(`DELETE FROM conversation_messages WHERE id = $1`, [id]);
}

export async function getMessage(db: Queryable, id: string): Promise<MessageRow | undefined> {
  const { rows } = await db.query<MessageRow>(
    `SELECT id, turn_id AS "turnId", role, text, content, created_at AS "createdAt" FROM conversation_messages WHERE id = $1`,
    [id],
  );
  return rows[0];
}

/** Every message of a conversation, oldest first. */
export async function listMessages(db: Queryable, conversationId: string): Promise<MessageRow[]> {
  const { rows } = await db.query<MessageRow>(
    `SELECT id, turn_id AS "turnId", role, text, content, created_at AS "createdAt"
     FROM conversation_messages WHERE conversation_id = $1 ORDER BY seq`,
    [conversationId],
  );
  return rows;
}

/** A stored tool call. */
export interface ToolCallRow {
  id: string;
  conversationId: string;
  messageId: string;
  turnId: string;
  callIndex: number;
  /** Gemini's own id of the call, echoed in the function response. */
  callRef: string | null;
  name: string;
  args: Record<string, unknown>;
  status: ToolCallStatus;
  result: unknown;
  jobId: string | null;
}

const TOOL_CALL = `id, conversation_id AS "conversationId", message_id AS "messageId", turn_id AS "turnId",
  call_index AS "callIndex", call_ref AS "callRef", name, args, status, result, job_id AS "jobId"`;

export async function insertToolCalls(
  db: Queryable,
  calls: Array<Omit<ToolCallRow, 'status' | 'result' | 'jobId'>>,
): Promise<void> {
  if (calls.length === 0) return;
  await db.query(
    `INSERT INTO conversation_tool_calls (id, conversation_id, message_id, turn_id, call_index, call_ref, name, args)
     SELECT c.id, c."conversationId", c."messageId", c."turnId", c."callIndex", c."callRef", c.name, c.args
     FROM jsonb_to_recordset($1::jsonb) AS c(id text, "conversationId" text, "messageId" text, "turnId" text,
       "callIndex" int, "callRef" text, name text, args jsonb)
     ON CONFLICT (id) DO NOTHING`,
    [JSON.stringify(calls)],
  );
}

export async function getToolCall(db: Queryable, id: string): Promise<ToolCallRow | undefined> {
  const { rows } = await db.query<ToolCallRow>(
    `SELECT ${TOOL_CALL} FROM conversation_tool_calls WHERE id = $1`,
    [id],
  );
  return rows[0];
}

export async function listToolCalls(db: Queryable, conversationId: string): Promise<ToolCallRow[]> {
  const { rows } = await db.query<ToolCallRow>(
    `SELECT ${TOOL_CALL} FROM conversation_tool_calls WHERE conversation_id = $1 ORDER BY created_at, call_index`,
    [conversationId],
  );
  return rows;
}

export async function listToolCallsOfMessage(db: Queryable, messageId: string): Promise<ToolCallRow[]> {
  const { rows } = await db.query<ToolCallRow>(
    `SELECT ${TOOL_CALL} FROM conversation_tool_calls WHERE message_id = $1 ORDER BY call_index`,
    [messageId],
  );
  return rows;
}

/** Moves a tool call on; a call that has a result keeps it (a retried activity cannot change it). */
export async function updateToolCall(
  db: Queryable,
  id: string,
  change: { status: ToolCallStatus; result?: unknown; jobId?: string },
): Promise<void> {
  await db.query(
    `UPDATE conversation_tool_calls SET status = $2, result = coalesce($3::jsonb, result),
       job_id = coalesce($4, job_id), updated_at = now()
     WHERE id = $1 AND status NOT IN ('succeeded', 'failed', 'declined', 'expired')`,
    [
      id,
      change.status,
      change.result === undefined ? null : JSON.stringify(change.result),
      change.jobId ?? null,
    ],
  );
}

/** A stored approval. */
export interface ApprovalRow {
  id: string;
  conversationId: string;
  toolCallId: string;
  tool: string;
  args: unknown;
  preview: unknown;
  status: 'pending' | 'approved' | 'declined' | 'expired';
  expiresAt: Date;
  decidedBy: string | null;
  decidedAt: Date | null;
  note: string | null;
}

const APPROVAL = `id, conversation_id AS "conversationId", tool_call_id AS "toolCallId", tool, args, preview, status,
  expires_at AS "expiresAt", decided_by AS "decidedBy", decided_at AS "decidedAt", note`;

/** Records the approval a tool call waits for, once. Returns the stored one. */
export async function insertApproval(
  db: Queryable,
  a: {
    id: string;
    conversationId: string;
    toolCallId: string;
    tool: string;
    args: unknown;
    preview: unknown;
    expiresAt: Date;
  },
): Promise<ApprovalRow> {
  await db.query(
    `INSERT INTO conversation_approvals (id, conversation_id, tool_call_id, tool, args, preview, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tool_call_id) DO NOTHING`,
    [
      a.id,
      a.conversationId,
      a.toolCallId,
      a.tool,
      JSON.stringify(a.args),
      JSON.stringify(a.preview),
      a.expiresAt,
    ],
  );
  const { rows } = await db.query<ApprovalRow>(
    `SELECT ${APPROVAL} FROM conversation_approvals WHERE tool_call_id = $1`,
    [a.toolCallId],
  );
  return rows[0]!;
}

export async function getApproval(db: Queryable, id: string): Promise<ApprovalRow | undefined> {
  const { rows } = await db.query<ApprovalRow>(
    `SELECT ${APPROVAL} FROM conversation_approvals WHERE id = $1`,
    [id],
  );
  return rows[0];
}

export async function getApprovalOfToolCall(
  db: Queryable,
  toolCallId: string,
): Promise<ApprovalRow | undefined> {
  const { rows } = await db.query<ApprovalRow>(
    `SELECT ${APPROVAL} FROM conversation_approvals WHERE tool_call_id = $1`,
    [toolCallId],
  );
  return rows[0];
}

/** Decides a pending approval; false when it was decided (or expired) already. */
export async function decideApproval(
  db: Queryable,
  d: { id: string; conversationId: string; approved: boolean; userId: string; note?: string },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE conversation_approvals SET status = $3, decided_by = $4, decided_at = now(), note = $5
     WHERE id = $1 AND conversation_id = $2 AND status = 'pending' AND expires_at > now()`,
    [d.id, d.conversationId, d.approved ? 'approved' : 'declined', d.userId, d.note ?? null],
  );
  return (rowCount ?? 0) > 0;
}

/** Expires a pending approval (a decision that got there first stands). Returns the final row. */
export async function expireApproval(db: Queryable, id: string): Promise<ApprovalRow> {
  await db.query(
    `UPDATE conversation_approvals SET status = 'expired', decided_at = now() WHERE id = $1 AND status = 'pending'`,
    [id],
  );
  return (await getApproval(db, id))!;
}

export async function listPendingApprovals(db: Queryable, conversationId: string): Promise<ApprovalView[]> {
  const { rows } = await db.query<ApprovalView>(
    `SELECT id, tool, args, preview, expires_at AS "expiresAt" FROM conversation_approvals
     WHERE conversation_id = $1 AND status = 'pending' ORDER BY created_at`,
    [conversationId],
  );
  return rows;
}

/** Records one model call's usage once (keyed by the call): retries and crashes cannot count it twice. */
export async function recordUsage(
  db: Queryable,
  u: {
    callId: string;
    conversationId: string;
    workspaceId: string;
    model: string;
    modelVersion?: string;
    inputTokens: number;
    outputTokens: number;
    thinkingTokens: number;
    costUsd: number;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO llm_usage (call_id, conversation_id, workspace_id, model, model_version, input_tokens, output_tokens,
       thinking_tokens, cost_usd) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (call_id) DO NOTHING`,
    [
      u.callId,
      u.conversationId,
      u.workspaceId,
      u.model,
      u.modelVersion ?? null,
      u.inputTokens,
      u.outputTokens,
      u.thinkingTokens,
      u.costUsd,
    ],
  );
}

const USAGE_SUMS = `coalesce(sum(input_tokens), 0)::int AS "inputTokens", coalesce(sum(output_tokens), 0)::int AS "outputTokens",
  coalesce(sum(thinking_tokens), 0)::int AS "thinkingTokens", coalesce(sum(cost_usd), 0)::float8 AS "costUsd"`;

export async function conversationUsage(db: Queryable, conversationId: string): Promise<UsageTotals> {
  const { rows } = await db.query<UsageTotals>(
    `SELECT ${USAGE_SUMS} FROM llm_usage WHERE conversation_id = $1`,
    [conversationId],
  );
  return rows[0]!;
}

/** A workspace's usage since `from` (the start of the month). */
export async function workspaceUsage(db: Queryable, workspaceId: string, from: Date): Promise<UsageTotals> {
  const { rows } = await db.query<UsageTotals>(
    `SELECT ${USAGE_SUMS} FROM llm_usage WHERE workspace_id = $1 AND created_at >= $2`,
    [workspaceId, from],
  );
  return rows[0]!;
}

/** A conversation event, as streamed. */
export interface EventRow {
  id: string;
  type: ConversationEventType;
  data: unknown;
  createdAt: Date;
}

/**
 * Appends an event once per `dedupeKey` (a retried activity does not repeat it). Appends of one
 * conversation are serialized on its row, so ids are committed in order: a reader that has seen id
 * N can never later find an id below N appear (parallel tool calls append concurrently).
 */
export async function appendEvent(
  pool: Pool,
  e: { conversationId: string; type: ConversationEventType; data: unknown; dedupeKey: string },
): Promise<void> {
  await withTransaction(pool, async (tx) => {
    await tx.query(`SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE`, [e.conversationId]);
    await tx.query(
      `INSERT INTO conversation_events (conversation_id, type, data, dedupe_key) VALUES ($1, $2, $3, $4)
       ON CONFLICT (conversation_id, dedupe_key) DO NOTHING`,
      [e.conversationId, e.type, JSON.stringify(e.data), e.dedupeKey],
    );
  });
}

export async function eventsAfter(
  db: Queryable,
  conversationId: string,
  afterId: number,
  limit = 200,
): Promise<EventRow[]> {
  const { rows } = await db.query<EventRow>(
    // Ordered by the bigint column, not by the text the ids are returned as ("10" < "9").
    `SELECT e.id::text AS id, e.type, e.data, e.created_at AS "createdAt" FROM conversation_events e
     WHERE e.conversation_id = $1 AND e.id > $2 ORDER BY e.id LIMIT $3`,
    [conversationId, afterId, limit],
  );
  return rows;
}

export async function insertExport(
  db: Queryable,
  e: { id: string; conversationId: string; filename: string; contentType: string; body: string },
): Promise<void> {
  await db.query(
    `INSERT INTO conversation_exports (id, conversation_id, filename, content_type, body) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (id) DO NOTHING`,
    [e.id, e.conversationId, e.filename, e.contentType, e.body],
  );
}

/** An export of one of `userId`'s conversations. */
export async function getOwnedExport(
  db: Queryable,
  id: string,
  userId: string,
): Promise<{ filename: string; contentType: string; body: string } | undefined> {
  const { rows } = await db.query<{ filename: string; contentType: string; body: string }>(
    `SELECT e.filename, e.content_type AS "contentType", e.body FROM conversation_exports e
     JOIN conversations c ON c.id = e.conversation_id WHERE e.id = $1 AND c.user_id = $2`,
    [id, userId],
  );
  return rows[0];
}

/** Messages with their tool calls, as the API shows them. */
export async function conversationMessages(db: Queryable, conversationId: string): Promise<MessageView[]> {
  const [messages, calls] = await Promise.all([
    listMessages(db, conversationId),
    listToolCalls(db, conversationId),
  ]);
  const byMessage = new Map<string, ToolCallView[]>();
  for (const call of calls) {
    const list = byMessage.get(call.messageId) ?? [];
    list.push({
      id: call.id,
      name: call.name,
      args: call.args,
      status: call.status,
      ...(call.result === null ? {} : { result: call.result }),
    });
    byMessage.set(call.messageId, list);
  }
  return messages.map((m) => ({
    id: m.id,
    role: m.role,
    ...(m.text ? { text: m.text } : {}),
    ...(byMessage.has(m.id) ? { toolCalls: byMessage.get(m.id) } : {}),
    createdAt: m.createdAt,
  }));
}

/** What the agent knows of its user: a name and preferences (time zone, locale) for writing dates. */
export async function userProfile(
  db: Queryable,
  userId: string,
): Promise<{ name: string | null; preferences: { timeZone?: string; locale?: string } }> {
  const { rows } = await db.query<{
    name: string | null;
    preferences: { timeZone?: string; locale?: string };
  }>(`SELECT name, preferences FROM users WHERE id = $1`, [userId]);
  return rows[0] ?? { name: null, preferences: {} };
}

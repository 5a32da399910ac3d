import { Router, type Request } from 'express';
import { z } from 'zod';
import { notFound, ServiceError } from '../core/errors';
import type { ConversationRow } from '../domain/agent/store';
import { authenticate } from './auth';
import type { ApiDeps } from './context';
import { parseOrThrow } from './errors';
import { requestedCursor, streamEvents } from './sse';
import { Approval, Conversation, EventStreamText, Usage, Workspace as WorkspaceAnswer } from './answers';
import { documentRoutes } from './openapi';
import { presentWorkspace } from './workspaces';

const WorkspaceId = z.uuid();
const CreateBody = z.object({ title: z.string().trim().min(1).max(200).optional() }).strict();
const MessageBody = z.object({ text: z.string().trim().min(1).max(32_000) }).strict();
const DecisionBody = z
  .object({ approved: z.boolean(), note: z.string().trim().max(2_000).optional() })
  .strict();
const EventCursor = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const SettingsBody = z
  .object({
    name: z.string().trim().min(1).max(200).optional(),
    settings: z
      .object({
        approvalPolicy: z.enum(['writes', 'always', 'never']).optional(),
        monthlyBudgetUsd: z.number().min(0).max(1_000_000).nullable().optional(),
        model: z
          .string()
          .regex(/^[a-z0-9][a-z0-9.-]{1,80}$/, { error: 'must be a model id such as gemini-3-flash-preview' })
          .nullable()
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/**
 * The agent over HTTP: a workspace's conversations and settings (`/api/v1/workspaces/:id/…`), and a
 * conversation's messages, events, approvals and end (`/api/v1/conversations/:id/…`).
 */
export function agentRouters(deps: ApiDeps): { workspaces: Router; conversations: Router; exports: Router } {
  const { workspaces, conversations, sessions } = deps.services;

  async function ownedWorkspace(req: Request) {
    const id = req.params.id as string;
    if (!WorkspaceId.safeParse(id).success) throw notFound('Workspace');
    return workspaces.owned(id, req.userId!);
  }

  const workspaceRoutes = Router({ mergeParams: true });
  workspaceRoutes.use(authenticate(sessions));

  workspaceRoutes.post('/:id/conversations', async (req, res) => {
    const body = parseOrThrow(CreateBody, req.body ?? {});
    const workspace = await ownedWorkspace(req);
    res.status(201).json({ conversation: await conversations.create(workspace, req.userId!, body.title) });
  });

  workspaceRoutes.get('/:id/conversations', async (req, res) => {
    const workspace = await ownedWorkspace(req);
    res.json({ conversations: await conversations.list(workspace.id, req.userId!) });
  });

  workspaceRoutes.patch('/:id', async (req, res) => {
    const body = parseOrThrow(SettingsBody, req.body);
    const workspace = await ownedWorkspace(req);
    const updated = await workspaces.update(workspace, {
      ...(body.name ? { name: body.name } : {}),
      ...body.settings,
    });
    res.json(presentWorkspace(updated));
  });

  workspaceRoutes.get('/:id/usage', async (req, res) => {
    res.json(await workspaces.usage(await ownedWorkspace(req)));
  });

  const conversationRoutes = Router();
  conversationRoutes.use(authenticate(sessions));

  async function owned(req: Request): Promise<ConversationRow> {
    return conversations.owned(req.params.id as string, req.userId!);
  }

  conversationRoutes.get('/:id', async (req, res) => {
    res.json(await conversations.describe(await owned(req)));
  });

  conversationRoutes.post('/:id/messages', async (req, res) => {
    const { text } = parseOrThrow(MessageBody, req.body);
    const conversation = await owned(req);
    const { turnId } = await conversations.sendMessage(conversation, req.userId!, text);
    res.status(202).json({ turn: { id: turnId } });
  });

  conversationRoutes.post('/:id/approvals/:approvalId', async (req, res) => {
    const body = parseOrThrow(DecisionBody, req.body);
    const conversation = await owned(req);
    const approval = await conversations.decide(conversation, {
      approvalId: req.params.approvalId as string,
      approved: body.approved,
      note: body.note,
      userId: req.userId!,
    });
    res.json({ approval });
  });

  conversationRoutes.delete('/:id', async (req, res) => {
    const conversation = await owned(req);
    await conversations.end(conversation);
    res.status(202).json({ conversation: { id: conversation.id, status: 'ending' } });
  });

  conversationRoutes.get('/:id/events', async (req, res) => {
    const conversation = await owned(req);
    const cursor = EventCursor.safeParse(requestedCursor(req) ?? 0);
    if (!cursor.success)
      throw new ServiceError(400, 'invalid_cursor', 'Last-Event-ID (or ?after=) must be an event id');
    await streamEvents(req, res, {
      from: String(cursor.data),
      read: (after) => conversations.events(conversation, Number(after)),
      isFinal: (event) => event.type === 'conversation_ended',
    });
  });

  const exportRoutes = Router();
  exportRoutes.use(authenticate(sessions));
  exportRoutes.get('/:id', async (req, res) => {
    const file = await conversations.download(req.params.id as string, req.userId!);
    res.setHeader('Content-Type', file.contentType);
    res.setHeader(
      'Content-Disposition',
      `attachment; filename="${file.filename.replace(/["\\\r\n]/g, '_')}"`,
    );
    res.send(file.body);
  });

  return { workspaces: workspaceRoutes, conversations: conversationRoutes, exports: exportRoutes };
}

const ConversationRef = z.object({ conversation: Conversation });

documentRoutes('/api/v1/workspaces', 'Agent', [
  {
    method: 'post',
    path: '/:id/conversations',
    summary: 'Start a conversation with the agent',
    params: { id: WorkspaceId },
    body: CreateBody,
    bodyOptional: true,
    answers: { 201: { description: 'The conversation', schema: ConversationRef } },
    errors: { 503: 'The workflow service is unavailable' },
  },
  {
    method: 'get',
    path: '/:id/conversations',
    summary: 'The caller’s conversations of the workspace',
    params: { id: WorkspaceId },
    answers: {
      200: { description: 'The conversations', schema: z.object({ conversations: z.array(Conversation) }) },
    },
  },
  {
    method: 'patch',
    path: '/:id',
    summary: 'Rename the workspace or change its agent settings',
    params: { id: WorkspaceId },
    body: SettingsBody,
    answers: { 200: { description: 'The workspace', schema: WorkspaceAnswer } },
  },
  {
    method: 'get',
    path: '/:id/usage',
    summary: 'This month’s usage: tokens, cost, Airtable requests, jobs',
    params: { id: WorkspaceId },
    answers: { 200: { description: 'The usage', schema: Usage } },
  },
]);

documentRoutes('/api/v1/conversations', 'Agent', [
  {
    method: 'get',
    path: '/:id',
    summary: 'A conversation with its messages, pending approvals and usage',
    answers: { 200: { description: 'The conversation', schema: Conversation } },
  },
  {
    method: 'post',
    path: '/:id/messages',
    summary: 'Send a message: starts a turn of the agent',
    body: MessageBody,
    answers: {
      202: { description: 'The turn started', schema: z.object({ turn: z.object({ id: z.string() }) }) },
    },
    errors: { 409: '`turn_in_progress`: a turn runs or waits for an approval; or the conversation ended' },
  },
  {
    method: 'post',
    path: '/:id/approvals/:approvalId',
    summary: 'Approve or decline a pending tool call',
    body: DecisionBody,
    answers: { 200: { description: 'The decision', schema: Approval } },
    errors: { 409: 'Already decided, or expired' },
  },
  {
    method: 'delete',
    path: '/:id',
    summary: 'End the conversation',
    answers: {
      202: {
        description: 'Ending',
        schema: z.object({ conversation: z.object({ id: z.string(), status: z.literal('ending') }) }),
      },
    },
  },
  {
    method: 'get',
    path: '/:id/events',
    summary: 'Server-sent events of the conversation as they happen',
    description:
      'message, tool_call, tool_result, approval_requested, approval_decided, turn_completed, turn_failed, ' +
      'conversation_ended (the last). Reconnect with `Last-Event-ID` (or `?after=`) and nothing is missed.',
    headers: z.object({ 'Last-Event-ID': EventCursor.optional() }),
    query: z.object({ after: EventCursor.optional() }),
    answers: {
      200: { description: 'The event stream', schema: EventStreamText, contentType: 'text/event-stream' },
    },
  },
]);

documentRoutes('/api/v1/exports', 'Agent', [
  {
    method: 'get',
    path: '/:id',
    summary: 'Download a file the agent exported (CSV, JSON…)',
    answers: {
      200: {
        description: 'The file, as an attachment',
        schema: z.string(),
        contentType: 'application/octet-stream',
      },
    },
  },
]);

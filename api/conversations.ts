import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { notFound, ServiceError } from '../core/errors';
import type { ConversationRow } from '../domain/agent/store';
import { authenticate } from './auth';
import type { ApiDeps } from './context';
import { parseOrThrow } from './errors';
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

/** How often an idle event stream looks for new events, and sends a comment to keep proxies from closing it. */
const POLL_MS = 250;
const KEEP_ALIVE_MS = 15_000;

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
    const cursor = EventCursor.safeParse(req.get('Last-Event-ID') ?? req.query.after ?? 0);
    if (!cursor.success)
      throw new ServiceError(400, 'invalid_cursor', 'Last-Event-ID (or ?after=) must be an event id');
    await streamEvents(req, res, (after) => conversations.events(conversation, after), cursor.data);
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

/**
 * Server-sent events until the client leaves (or the conversation ends): each event carries its id,
 * so a client that reconnects with `Last-Event-ID` misses nothing.
 */
async function streamEvents(
  req: Request,
  res: Response,
  read: (after: number) => Promise<Array<{ id: string; type: string; data: unknown }>>,
  from: number,
): Promise<void> {
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('Connection', 'keep-alive');
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
  let open = true;
  req.on('close', () => (open = false));
  let after = from;
  let quietSince = Date.now();
  while (open) {
    const events = await read(after);
    for (const event of events) {
      res.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`);
      after = Number(event.id);
      if (event.type === 'conversation_ended') open = false;
    }
    if (!open) break;
    if (events.length > 0) quietSince = Date.now();
    else {
      if (Date.now() - quietSince > KEEP_ALIVE_MS) {
        res.write(': keep-alive\n\n');
        quietSince = Date.now();
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
  res.end();
}

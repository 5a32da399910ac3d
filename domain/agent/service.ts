import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { ServiceError } from '../../core/errors';
import { withTransaction } from '../../db/pool';
import {
  approvalDecidedSignal,
  CONVERSATION_ENDED,
  endConversationSignal,
  sendMessageUpdate,
} from '../../workflows/conversations';
import type { JobService } from '../jobs/service';
import * as jobs from '../jobs/store';
import { holdActiveWorkspace, type Workspace } from '../workspaces/store';
import type { ApprovalView, MessageView, UsageTotals } from './model';
import * as store from './store';

/** What the conversation service needs. */
export interface ConversationServiceDeps {
  pool: Pool;
  client: Client;
  jobs: JobService;
}

/** A conversation as the API shows it. */
export interface ConversationView {
  id: string;
  workspaceId: string;
  title: string;
  status: store.ConversationRow['status'];
  createdAt: Date;
  messages?: MessageView[];
  pendingApprovals?: ApprovalView[];
  usage?: Omit<UsageTotals, 'thinkingTokens'> & { thinkingTokens: number };
}

function present(c: store.ConversationRow): ConversationView {
  return { id: c.id, workspaceId: c.workspaceId, title: c.title, status: c.status, createdAt: c.createdAt };
}

/** Conversations with the agent, as the API drives them: each is a long-lived workflow. */
export function createConversationService(deps: ConversationServiceDeps) {
  const { pool, client } = deps;

  return {
    /** Starts a conversation in an active workspace: its workflow waits for the first message. */
    async create(workspace: Workspace, userId: string, title?: string): Promise<ConversationView> {
      if (workspace.status !== 'active')
        throw new ServiceError(409, 'workspace_not_active', `The workspace is ${workspace.status}`);
      const id = `conversation-${randomUUID()}`;
      // Recorded holding the workspace row, as change sets are: a deprovisioning that marks the
      // workspace meanwhile either sees this job (and ends it) or makes this refuse.
      const conversation = await withTransaction(pool, async (tx) => {
        await holdActiveWorkspace(tx, workspace.id);
        const row = await store.insertConversation(tx, {
          id,
          workspaceId: workspace.id,
          userId,
          title: title ?? 'New conversation',
        });
        await jobs.insertJob(tx, { id, kind: 'conversation', workspaceId: workspace.id, userId });
        return row;
      });
      try {
        await deps.jobs.start({ jobId: id, kind: 'conversation', workspaceId: workspace.id, userId });
      } catch (err) {
        await store.setConversationStatus(pool, id, 'ended');
        throw err;
      }
      return present(conversation);
    },

    async list(workspaceId: string, userId: string): Promise<ConversationView[]> {
      return (await store.listConversations(pool, workspaceId, userId)).map(present);
    },

    /** The caller's conversation, or a 404 identical to a missing one. */
    async owned(id: string, userId: string): Promise<store.ConversationRow> {
      const conversation = await store.getOwnedConversation(pool, id, userId);
      if (!conversation) throw new ServiceError(404, 'not_found', 'Conversation not found');
      return conversation;
    },

    /** The conversation with its messages, pending approvals and usage. */
    async describe(conversation: store.ConversationRow): Promise<ConversationView> {
      const [messages, pendingApprovals, usage] = await Promise.all([
        store.conversationMessages(pool, conversation.id),
        store.listPendingApprovals(pool, conversation.id),
        store.conversationUsage(pool, conversation.id),
      ]);
      return { ...present(conversation), messages, pendingApprovals, usage };
    },

    /**
     * Stores the user's message and hands it to the workflow. The workflow refuses it while a turn
     * runs or waits for an approval (409 `turn_in_progress`); the message is then taken back.
     */
    async sendMessage(
      conversation: store.ConversationRow,
      userId: string,
      text: string,
    ): Promise<{ turnId: string }> {
      if (conversation.status === 'ended')
        throw new ServiceError(409, 'conversation_ended', 'The conversation has ended');
      const turnId = `turn-${randomUUID()}`;
      const messageId = `msg-${randomUUID()}`;
      await store.insertMessage(pool, {
        id: messageId,
        conversationId: conversation.id,
        turnId,
        role: 'user',
        text,
      });
      try {
        await client.workflow
          .getHandle(conversation.id)
          .executeUpdate(sendMessageUpdate, { args: [{ turnId, messageId }] });
      } catch (err) {
        await store.deleteMessage(pool, messageId);
        if (err instanceof WorkflowUpdateFailedError) {
          const type = (err.cause as { type?: string } | undefined)?.type;
          if (type === CONVERSATION_ENDED)
            throw new ServiceError(409, 'conversation_ended', 'The conversation has ended');
          throw new ServiceError(
            409,
            'turn_in_progress',
            'The agent is still working on the last message or waiting for an approval',
          );
        }
        if (err instanceof WorkflowNotFoundError)
          throw new ServiceError(409, 'conversation_ended', 'The conversation has ended');
        throw err;
      }
      // The turn's first step records the message's event, so it always comes before the turn's own.
      await store.setConversationStatus(pool, conversation.id, 'running');
      return { turnId };
    },

    /** Records a decision on a pending approval (who, when, note) and tells the workflow. */
    async decide(
      conversation: store.ConversationRow,
      decision: { approvalId: string; approved: boolean; note?: string; userId: string },
    ) {
      const approval = await store.getApproval(pool, decision.approvalId);
      if (!approval || approval.conversationId !== conversation.id)
        throw new ServiceError(404, 'not_found', 'Approval not found');
      const decided = await store.decideApproval(pool, {
        ...decision,
        id: approval.id,
        conversationId: conversation.id,
      });
      if (!decided)
        throw new ServiceError(
          409,
          'approval_decided',
          approval.status === 'pending'
            ? 'The approval has expired'
            : `The approval was already ${approval.status}`,
        );
      await client.workflow
        .getHandle(conversation.id)
        .signal(approvalDecidedSignal, { approvalId: approval.id });
      const final = (await store.getApproval(pool, approval.id))!;
      return {
        id: final.id,
        status: final.status,
        decidedBy: final.decidedBy,
        decidedAt: final.decidedAt,
        note: final.note,
      };
    },

    /** Ends the conversation after its current turn. */
    async end(conversation: store.ConversationRow): Promise<void> {
      await client.workflow
        .getHandle(conversation.id)
        .signal(endConversationSignal)
        .catch((err: unknown) => {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        });
    },

    /** Events after `afterId`, in order. */
    async events(conversation: store.ConversationRow, afterId: number) {
      return store.eventsAfter(pool, conversation.id, afterId);
    },

    /** A file the agent exported for the caller. */
    async download(exportId: string, userId: string) {
      const file = await store.getOwnedExport(pool, exportId, userId);
      if (!file) throw new ServiceError(404, 'not_found', 'Export not found');
      return file;
    },
  };
}

export type ConversationService = ReturnType<typeof createConversationService>;

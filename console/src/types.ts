/** The API's answers, as the console reads them (see /work/shared/api-contract.md and api/*.ts). */

export interface Workspace {
  id: string;
  name: string;
  status: 'provisioning' | 'active' | 'failed' | string;
  error?: string;
  airtable?: { baseId: string };
  settings?: {
    approvalPolicy: 'writes' | 'always' | 'never';
    monthlyBudgetUsd: number | null;
    model: string | null;
  };
  createdAt?: string;
}

export interface Usage {
  month: string;
  inputTokens: number;
  outputTokens: number;
  thinkingTokens?: number;
  costUsd: number;
  budgetUsd: number | null;
  airtableRequests: number;
  jobs: Record<string, unknown>;
}

export interface Job {
  id: string;
  kind: string;
  status: string;
  workspaceId?: string | null;
  createdAt?: string;
  updatedAt?: string;
  progress?: unknown;
  result?: unknown;
  error?: { message: string; type?: string };
}

export interface ToolCall {
  id: string;
  name: string;
  args: unknown;
  status: string;
  result?: unknown;
}

export interface Message {
  id: string;
  role: 'user' | 'assistant' | 'tool';
  text?: string;
  toolCalls?: ToolCall[];
  createdAt: string;
}

export interface Approval {
  id: string;
  tool: string;
  args: unknown;
  preview: unknown;
  expiresAt: string;
}

export interface Conversation {
  id: string;
  workspaceId: string;
  title: string | null;
  status: 'idle' | 'running' | 'awaiting_approval' | 'ended' | string;
  createdAt: string;
  messages?: Message[];
  pendingApprovals?: Approval[];
  usage?: { inputTokens: number; outputTokens: number; costUsd: number };
}

export interface SyncRun {
  job: { id: string };
  status: string;
  mode: string;
  reason: string | null;
  startedAt: string;
  finishedAt: string | null;
  counts: { tables: number; created: number; updated: number; deleted: number; payloads?: number };
  lagMs: number | null;
  error?: string;
}

export interface Sync {
  id: string;
  workspaceId: string;
  status: 'active' | 'paused' | 'schedule_missing' | string;
  scheduleId: string;
  schedule: { every: string } | { cron: string; timezone: string };
  tables: string[] | null;
  fullReconcileEvery?: string;
  nextRunAt: string | null;
  running: { job: { id: string } } | null;
  mirrorAsOf?: string | null;
  lastRuns: SyncRun[];
  postgres?: { schema: string; tables: Record<string, { table: string }> };
  createdAt?: string;
}

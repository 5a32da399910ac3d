import { z } from 'zod';

/**
 * The shapes of the API's answers, for the OpenAPI document (api/openapi.ts). Request bodies are
 * documented from the very schemas the routes validate with; answers are built by the domain
 * services as TypeScript types, so they are described here, and `test/ops/openapi.test.ts` checks
 * real answers against them so the two cannot drift apart unnoticed. Objects the services may grow
 * are open (`looseObject`): a new field is not a breaking change.
 */

const Id = z.string().meta({ description: 'An id (a UUID for platform objects)' });
const Timestamp = z.iso.datetime({ offset: true }).meta({ description: 'An ISO 8601 date-time' });

/** `{"error":{"code","message","details"?}}`: every error the API answers. */
export const ErrorAnswer = z
  .object({
    error: z.object({
      code: z.string().meta({ description: 'A stable machine-readable code, e.g. `validation_failed`' }),
      message: z.string(),
      details: z
        .unknown()
        .optional()
        .meta({ description: 'e.g. the offending fields of a 400: `[{path, message}]`' }),
    }),
  })
  .meta({ id: 'Error', description: 'The one error shape of the API: never HTML, never a stack' });

export const JobRef = z.object({ job: z.object({ id: Id }) }).meta({ id: 'JobRef' });

export const User = z
  .looseObject({
    id: Id,
    email: z.string(),
    name: z.string().nullable(),
    preferences: z.looseObject({ timeZone: z.string().optional(), locale: z.string().optional() }).optional(),
  })
  .meta({ id: 'User' });

export const SessionTokens = z
  .object({
    accessToken: z.string(),
    refreshToken: z.string(),
    expiresIn: z.number().int().meta({ description: 'Seconds the access token lives' }),
  })
  .meta({ id: 'SessionTokens' });

export const Registered = z.object({ user: User, ...SessionTokens.shape }).meta({ id: 'Registered' });

export const Workspace = z
  .looseObject({
    id: Id,
    name: z.string(),
    status: z.enum(['provisioning', 'active', 'failed', 'deprovisioning']),
    error: z.string().optional(),
    airtable: z.object({ baseId: z.string() }),
    settings: z.object({
      approvalPolicy: z.enum(['writes', 'always', 'never']),
      monthlyBudgetUsd: z.number().nullable(),
      model: z.string().nullable(),
    }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'Workspace', description: 'A workspace; its Airtable token is never returned' });

export const WorkspaceCreated = z
  .object({
    workspace: z.object({ id: Id, name: z.string(), status: z.literal('provisioning') }),
    job: z.object({ id: Id }),
  })
  .meta({ id: 'WorkspaceCreated' });

export const WorkspaceList = z.object({ workspaces: z.array(Workspace) });

export const Usage = z
  .looseObject({
    month: z.string().meta({ description: 'YYYY-MM' }),
    inputTokens: z.number(),
    outputTokens: z.number(),
    costUsd: z.number(),
    budgetUsd: z.number().nullable(),
    airtableRequests: z.number(),
    jobs: z.record(z.string(), z.number()).meta({ description: 'Jobs started this month, by kind' }),
  })
  .meta({ id: 'Usage' });

export const JobStatus = z.enum(['pending', 'running', 'completed', 'failed', 'cancelled', 'compensated']);

export const Job = z
  .looseObject({
    id: Id,
    kind: z.enum([
      'workspace.provision',
      'workspace.deprovision',
      'changeset.apply',
      'conversation',
      'sync.run',
    ]),
    status: JobStatus,
    workspaceId: Id.nullable(),
    createdAt: Timestamp,
    progress: z.unknown().optional().meta({ description: 'While running: the workflow’s progress query' }),
    result: z.unknown().optional(),
    error: z.object({ message: z.string(), type: z.string().optional() }).optional(),
  })
  .meta({ id: 'Job' });

export const JobCancelling = z.object({ job: z.object({ id: Id, status: z.literal('cancelling') }) });

const ToolCall = z.looseObject({
  id: z.string(),
  name: z.string(),
  args: z.unknown(),
  status: z.string(),
  result: z.unknown().optional(),
});

export const Message = z
  .looseObject({
    id: z.string(),
    role: z.enum(['user', 'assistant', 'tool']),
    text: z.string().optional(),
    toolCalls: z.array(ToolCall).optional(),
    createdAt: Timestamp,
  })
  .meta({ id: 'Message' });

export const PendingApproval = z
  .looseObject({
    id: z.string(),
    tool: z.string(),
    args: z.unknown(),
    preview: z.unknown(),
    expiresAt: Timestamp,
  })
  .meta({ id: 'PendingApproval' });

export const Conversation = z
  .looseObject({
    id: Id,
    workspaceId: Id,
    title: z.string(),
    status: z.enum(['idle', 'running', 'awaiting_approval', 'ended']),
    createdAt: Timestamp,
    messages: z.array(Message).optional(),
    pendingApprovals: z.array(PendingApproval).optional(),
    usage: z
      .looseObject({ inputTokens: z.number(), outputTokens: z.number(), costUsd: z.number() })
      .optional(),
  })
  .meta({ id: 'Conversation' });

export const Approval = z.object({ approval: z.looseObject({ id: z.string(), status: z.string() }) });

export const Sync = z
  .looseObject({
    id: Id,
    workspaceId: Id,
    status: z.enum(['active', 'paused', 'schedule_missing']),
    scheduleId: z.string().meta({ description: 'The Temporal Schedule’s id' }),
    schedule: z.union([
      z.object({ every: z.string() }),
      z.object({ cron: z.string(), timezone: z.string() }),
    ]),
    tables: z.array(z.string()).nullable(),
    nextRunAt: Timestamp.nullable(),
    lastRuns: z.array(
      z.looseObject({ job: z.object({ id: Id }), status: z.string(), lagMs: z.number().nullable() }),
    ),
    postgres: z.looseObject({ schema: z.string(), tables: z.record(z.string(), z.unknown()) }),
  })
  .meta({ id: 'Sync' });

export const MirrorCredentials = z.object({
  postgres: z.looseObject({
    host: z.string(),
    port: z.number(),
    database: z.string(),
    user: z.string(),
    password: z.string(),
    schema: z.string(),
    url: z.string(),
  }),
});

/** Temporal's remote codec protocol: payloads with base64 metadata values and data. */
export const CodecPayloads = z
  .object({
    payloads: z.array(
      z.object({
        metadata: z.record(z.string(), z.string()).optional().meta({ description: 'base64 values' }),
        data: z.string().optional().meta({ description: 'base64' }),
      }),
    ),
  })
  .meta({ id: 'CodecPayloads' });

/** A server-sent event stream (`text/event-stream`): `id`, `event` and JSON `data` lines. */
export const EventStreamText = z.string().meta({
  description:
    'text/event-stream: each event has an `id` (send it back as `Last-Event-ID` to resume), an `event` type and JSON `data`',
});

import { randomUUID } from 'node:crypto';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { baseRecords, metaOptions, type AirtableAccess } from '../../airtable/access';
import { AirtableApiError } from '../../airtable/errors';
import { decryptSecret } from '../../core/crypto';
import { ServiceError } from '../../core/errors';
import type { Logger } from '../../core/logger';
import type { ApiKeyAccess, ApiKeyPrincipal } from '../api-keys/service';
import type { ChangeSetService } from '../change-sets/service';
import type { JobService } from '../jobs/service';
import * as jobStore from '../jobs/store';
import {
  argumentsSchema,
  boundResult,
  changesBase,
  findTool,
  TOOLS,
  ToolError,
  type ToolContext,
  type ToolDefinition,
} from '../tools';
import type * as workspaces from '../workspaces/store';
import { appliedRecords } from './journal';

/** The most JSON one tool result carries back to the client (a listing keeps what fits, with a note). */
export const MCP_RESULT_BYTE_BUDGET = 100_000;

/**
 * The tools as MCP lists them: name, description, input schema (JSON Schema from the same zod schema
 * that validates the arguments) and annotations, all from the registry the agent uses.
 */
export const MCP_TOOLS: Tool[] = TOOLS.map(describeTool);

function describeTool(tool: ToolDefinition): Tool {
  const { title, ...hints } = tool.annotations;
  return {
    name: tool.name,
    ...(title ? { title } : {}),
    description: tool.description,
    inputSchema: argumentsSchema(tool) as Tool['inputSchema'],
    annotations: { ...(title ? { title } : {}), ...hints },
  };
}

/** A call's options: the per-call id that makes a record write idempotent, and the request's signal. */
export interface McpCallOptions {
  /** The client's id for this call (`_meta.idempotencyKey`, or the HTTP `Idempotency-Key`). */
  callId?: string;
  signal?: AbortSignal;
  /** Told when this call is done, before its answer is sent (the HTTP route sets `Server-Timing`). */
  onDone?: (event: McpCallEvent) => void;
}

/** What one call did, for logs and benchmarks. */
export interface McpCallEvent {
  tool: string;
  keyId: string;
  workspaceId: string;
  outcome: 'ok' | 'tool_error' | 'refused_scope' | 'running';
  /** Time spent inside the call, from the registry lookup to the result. */
  ms: number;
}

/** What running MCP tool calls needs. */
export interface McpToolRunnerDeps {
  pool: Pool;
  encryptionKey: Buffer;
  airtable: AirtableAccess;
  jobs: JobService;
  changeSets: Pick<ChangeSetService, 'submit'>;
  temporalClient: Client;
  logger: Logger;
  /** How long a record write waits for its change set before answering with the job id. */
  writeWaitMs: number;
  /** Told about every call (metrics, benchmarks). */
  onCall?: (event: McpCallEvent) => void;
}

/**
 * Runs the registry's tools for an API key's workspace: reads and schema/comment writes in this
 * process (paced like every Airtable request), record writes as change sets started through the job
 * service (all-or-nothing, exactly once, paced), waited for up to `writeWaitMs`.
 */
export function createMcpToolRunner(deps: McpToolRunnerDeps) {
  const { pool, logger } = deps;

  /** The workspace's base, opened with its token (sealed in Postgres, read with the key). */
  function toolContext(
    access: ApiKeyAccess,
    attachments: Array<{ uri: string; mimeType: string; text: string }>,
    signal?: AbortSignal,
  ): ToolContext {
    const { workspace, connection } = access;
    if (!connection) throw new ToolError('The workspace has no Airtable connection');
    const token = decryptSecret(connection.tokenCiphertext, deps.encryptionKey, workspace.id);
    const credentials = { baseId: connection.baseId, token };
    return {
      workspaceId: workspace.id,
      baseId: connection.baseId,
      workspaceName: workspace.name,
      records: baseRecords(deps.airtable, credentials, signal),
      meta: metaOptions(deps.airtable, token, signal),
      airtable: deps.airtable,
      preferences: {},
      // An MCP client gets the file in the result itself, as an embedded resource.
      async saveExport(file) {
        const uri = `export://${randomUUID()}/${encodeURIComponent(file.filename)}`;
        attachments.push({ uri, mimeType: file.contentType, text: file.body });
        return uri;
      },
      async jobStatus(jobId) {
        const job = await jobStore.getJob(pool, jobId);
        if (!job || job.workspaceId !== workspace.id)
          throw new ToolError(`No job ${jobId} in this workspace`);
        return deps.jobs.describe(job);
      },
    };
  }

  /** Waits for a job's workflow to close, at most `writeWaitMs`; false when it still runs. */
  async function waitForJob(jobId: string, signal?: AbortSignal): Promise<boolean> {
    const wait = new AbortController();
    const timer = setTimeout(() => wait.abort(), deps.writeWaitMs);
    const stop = () => wait.abort();
    signal?.addEventListener('abort', stop, { once: true });
    try {
      for (;;) {
        try {
          await deps.temporalClient.workflow.withAbortSignal(wait.signal, () =>
            deps.temporalClient.workflow.getHandle(jobId).result(),
          );
          return true;
        } catch (err) {
          if (wait.signal.aborted) return false;
          // The same call repeated while the first one is between recording its job and starting it.
          if (err instanceof WorkflowNotFoundError) {
            if ((await jobStore.getJob(pool, jobId))?.status === 'abandoned') return true;
            await new Promise((resolve) => setTimeout(resolve, 100));
            continue;
          }
          // A workflow that failed or was cancelled has closed too; the job's view says how it ended.
          return true;
        }
      }
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
    }
  }

  async function applyRecordWrite(
    principal: ApiKeyPrincipal,
    workspace: workspaces.Workspace,
    steps: Parameters<ChangeSetService['submit']>[0]['steps'],
    options: McpCallOptions,
  ): Promise<{ result: CallToolResult; running: boolean }> {
    const userId = workspace.ownerId;
    const submission = {
      workspace,
      userId,
      steps,
      // Derived from the key and the client's call id: a retried call finds the job the first one started.
      idempotencyKey: options.callId ? `mcp\n${principal.keyId}\n${options.callId}` : undefined,
    };
    const { jobId, existing } = await deps.changeSets.submit(submission).catch((err: unknown) => {
      // The same call sent twice at once: the other one recorded the job first; answer with it.
      if (submission.idempotencyKey && (err as { code?: string }).code === '23505')
        return deps.changeSets.submit(submission);
      throw err;
    });
    await waitForJob(jobId, options.signal);
    const job = await deps.jobs.owned(jobId, userId);
    const view = await deps.jobs.describe(job);
    const follow = {
      tool: 'job_status',
      arguments: { jobId },
      http: `GET /api/v1/jobs/${jobId}`,
    };
    if (view.status === 'running' || view.status === 'pending')
      return {
        running: true,
        result: json({
          jobId,
          status: 'running',
          ...(existing ? { repeated: true } : {}),
          progress: view.progress,
          message: `The change set is still being applied (all-or-nothing, exactly once, paced); it was not finished after ${Math.round(deps.writeWaitMs / 1000)} s. Follow it with the job_status tool, or ${follow.http} with the workspace owner's access token.`,
          follow,
        }),
      };
    if (view.status === 'completed') {
      const records = await appliedRecords(pool, jobId);
      return {
        running: false,
        result: json({
          jobId,
          status: 'completed',
          ...(existing ? { repeated: true } : {}),
          ...(view.result && typeof view.result === 'object' ? view.result : {}),
          ...records,
        }),
      };
    }
    return {
      running: false,
      result: json(
        {
          jobId,
          status: view.status,
          error:
            view.status === 'failed'
              ? (view.error?.message ?? 'The change set failed')
              : `The change set was not applied (${view.status}); everything it applied was undone.`,
          ...(view.result ? { outcome: view.result } : {}),
          ...(view.error ? { cause: view.error } : {}),
        },
        true,
      ),
    };
  }

  return {
    tools: MCP_TOOLS,

    /** Runs one tool call for a key; a refusal or a tool's failure is a result with `isError`. */
    async call(
      access: ApiKeyAccess,
      name: string,
      rawArgs: unknown,
      options: McpCallOptions = {},
    ): Promise<CallToolResult> {
      const started = performance.now();
      const { principal, workspace } = access;
      let outcome: McpCallEvent['outcome'] = 'ok';
      try {
        const tool = findTool(name);
        if (!tool) {
          outcome = 'tool_error';
          return json(
            { error: `There is no tool named ${name}; tools/list names the ${TOOLS.length} there are.` },
            true,
          );
        }
        if (changesBase(tool) && !principal.scopes.includes('write')) {
          outcome = 'refused_scope';
          return json(
            {
              error: `This API key is missing the "write" scope, which ${name} needs (its scopes: ${principal.scopes.join(', ')}); nothing was written. Use a key created with scopes ["read","write"].`,
              missingScope: 'write',
            },
            true,
          );
        }
        const args = tool.input.parse(rawArgs ?? {});
        if (workspace.status !== 'active')
          throw new ToolError(`The workspace is ${workspace.status}; its tools work only while it is active`);
        const attachments: Array<{ uri: string; mimeType: string; text: string }> = [];
        const context = toolContext(access, attachments, options.signal);
        if (tool.kind === 'records') {
          const { steps } = await tool.plan(context, args);
          const applied = await applyRecordWrite(principal, workspace, steps, options);
          if (applied.running) outcome = 'running';
          else if (applied.result.isError) outcome = 'tool_error';
          return applied.result;
        }
        const result = json(await tool.run(context, args));
        for (const resource of attachments) result.content.push({ type: 'resource', resource });
        return result;
      } catch (err) {
        outcome = 'tool_error';
        if (!isToolFault(err))
          logger.error({ err, tool: name, keyId: principal.keyId }, 'an MCP tool call failed');
        return json({ error: describeError(err) }, true);
      } finally {
        const event: McpCallEvent = {
          tool: name,
          keyId: principal.keyId,
          workspaceId: principal.workspaceId,
          outcome,
          ms: performance.now() - started,
        };
        logger.debug(event, 'mcp tool call');
        deps.onCall?.(event);
        options.onDone?.(event);
      }
    },
  };
}

export type McpToolRunner = ReturnType<typeof createMcpToolRunner>;

/** A result as `airtable-mcp-server` answers: the JSON as text (bounded), `isError` for a refusal. */
function json(value: unknown, isError = false): CallToolResult {
  const whole = JSON.stringify(value) ?? 'null';
  const text =
    Buffer.byteLength(whole) <= MCP_RESULT_BYTE_BUDGET
      ? whole
      : JSON.stringify(boundResult(value, MCP_RESULT_BYTE_BUDGET));
  return {
    content: [{ type: 'text', text }],
    ...(isError ? { isError: true } : {}),
  };
}

/** A fault of the call itself (bad arguments, a refusal Airtable will repeat), not of the platform. */
function isToolFault(err: unknown): boolean {
  if (err instanceof ToolError || err instanceof ServiceError) return true;
  if ((err as { name?: string })?.name === 'ZodError') return true;
  const status = (err as { status?: number })?.status;
  return typeof status === 'number' && status >= 400 && status < 500 && status !== 429;
}

function describeError(err: unknown): unknown {
  if ((err as { name?: string })?.name === 'ZodError')
    return `Invalid arguments: ${(err as { issues: Array<{ path: unknown[]; message: string }> }).issues
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ')}`;
  if (err instanceof ServiceError)
    return { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) };
  if (err instanceof AirtableApiError)
    return err.status === 429 || err.status >= 500 || err.status === 0
      ? `Airtable is unavailable or rate limiting this base (${err.status || 'network error'}); nothing was changed, try again shortly`
      : `Airtable refused the request (${err.status}${err.type ? ` ${err.type}` : ''}): ${err.message}`;
  if (err instanceof ToolError) return err.message;
  return 'The tool call failed on the platform side (logged); try again shortly';
}

import type { Pool } from 'pg';
import { metaOptions, baseRecords, type AirtableAccess } from '../../airtable/access';
import { backOff } from 'exponential-backoff';
import { AirtableApiError } from '../../airtable/errors';
import type { AirtableTableSchema } from '../../airtable/meta';
import type { AirtableRecords } from '../../airtable/records';
import { ServiceError } from '../../core/errors';
import { withTransaction } from '../../db/pool';
import * as jobs from '../jobs/store';
import * as workspaces from '../workspaces/store';
import * as journal from './journal';
import {
  SCHEMA_ISSUE_CODES,
  type ChangeSetIssue,
  type ChangeSetStepInput,
  type RecordReference,
} from './model';
import { planChangeSet } from './plan';
import { readRecordsById } from '../../airtable/streaming';

/** What recording a change set needs (no Temporal: recording starts nothing). */
export interface ChangeSetRecorderDeps {
  pool: Pool;
  encryptionKey: Buffer;
  airtable: AirtableAccess;
}

/** Most issues listed in one answer; the message gives the full count. */
const MAX_LISTED_ISSUES = 200;

/** How long validation may keep retrying Airtable reads before it gives up. */
const VALIDATION_RETRY_BUDGET_MS = 15_000;

/** Validates and records change sets; {@link createChangeSetService} also starts them. */
export function createChangeSetRecorder(deps: ChangeSetRecorderDeps) {
  const { pool } = deps;

  /**
   * Validates a change set against the base schema and the records it names, and records it with its
   * journal and its `pending` job, in one transaction. Any problem is refused (400, one detail per
   * problem) and nothing is recorded.
   */
  async function validateAndRecord(request: {
    workspace: workspaces.Workspace;
    userId: string;
    steps: ChangeSetStepInput[];
    jobId: string;
    requestDigest?: string;
  }): Promise<void> {
    const { workspace, userId, jobId, requestDigest } = request;
    const job = { kind: 'changeset.apply' } as const;
    const deadline = Date.now() + VALIDATION_RETRY_BUDGET_MS;
    if (workspace.status !== 'active')
      throw new ServiceError(
        409,
        'workspace_not_active',
        `The workspace is ${workspace.status}; change sets need an active workspace`,
      );

    const connection = await workspaces.readAirtableToken(pool, workspace.id, deps.encryptionKey);
    if (!connection)
      throw new ServiceError(409, 'workspace_not_active', 'The workspace has no Airtable connection');

    let schema = (await workspaces.getSchemaSnapshot(pool, workspace.id))?.tables ?? [];
    let planned = planChangeSet(request.steps, schema);
    // The snapshot may predate a table or field added in Airtable since: look once more before refusing.
    if (planned.issues.some((i) => SCHEMA_ISSUE_CODES.has(i.code))) {
      const meta = metaOptions(deps.airtable, connection.token);
      deps.airtable.schemas.invalidate(connection.baseId);
      schema = await airtableCall(() => deps.airtable.schemas.get(meta, connection.baseId), deadline);
      await workspaces.saveSchemaSnapshot(pool, workspace.id, connection.baseId, schema);
      planned = planChangeSet(request.steps, schema);
    }
    const issues = [...planned.issues];
    if (issues.length === 0)
      issues.push(
        ...(await missingRecords(
          baseRecords(deps.airtable, connection),
          schema,
          planned.references,
          deadline,
        )),
      );
    if (issues.length > 0) {
      throw new ServiceError(
        400,
        'invalid_change_set',
        `The change set has ${issues.length} problem(s); nothing was applied`,
        issues.slice(0, MAX_LISTED_ISSUES).map(present),
      );
    }

    await withTransaction(pool, async (tx) => {
      // Deprovisioning ends the workspace's jobs after it marks it: a job recorded here is either
      // seen by it, or refused because the workspace is no longer active.
      await workspaces.holdActiveWorkspace(tx, workspace.id);
      await jobs.insertJob(tx, {
        id: jobId,
        kind: job.kind,
        workspaceId: workspace.id,
        userId,
        requestDigest,
      });
      await journal.insertChangeSet(tx, {
        id: jobId,
        workspaceId: workspace.id,
        baseId: connection.baseId,
        plan: planned.plan,
      });
    });
  }

  return {
    validateAndRecord,
    /**
     * Records a change set under a caller's id without starting it (the agent's workflow applies it
     * as a child workflow). Recording the same id again changes nothing.
     */
    async record(request: {
      workspace: workspaces.Workspace;
      userId: string;
      steps: ChangeSetStepInput[];
      jobId: string;
    }): Promise<{ jobId: string }> {
      if (!(await jobs.getJob(pool, request.jobId))) await validateAndRecord(request);
      return { jobId: request.jobId };
    },
  };
}

export type ChangeSetRecorder = ReturnType<typeof createChangeSetRecorder>;

/** Issues for every referenced record that does not exist (one read per 100 ids per table). */
async function missingRecords(
  records: AirtableRecords,
  schema: AirtableTableSchema[],
  references: RecordReference[],
  deadline: number,
): Promise<ChangeSetIssue[]> {
  const byTable = new Map<string, Set<string>>();
  for (const ref of references) {
    if (!byTable.has(ref.tableId)) byTable.set(ref.tableId, new Set());
    byTable.get(ref.tableId)!.add(ref.recordId);
  }
  const existing = new Set<string>();
  for (const [tableId, ids] of byTable) {
    const table = schema.find((t) => t.id === tableId);
    const primary = table?.fields.find((f) => f.id === table.primaryFieldId)?.name;
    const found = await airtableCall(
      () => readRecordsById(records, tableId, [...ids], primary ? [primary] : undefined),
      deadline,
    );
    for (const id of found.keys()) existing.add(`${tableId}/${id}`);
  }
  return references
    .filter((ref) => !existing.has(`${ref.tableId}/${ref.recordId}`))
    .map((ref) => {
      const table = schema.find((t) => t.id === ref.tableId)?.name ?? ref.tableId;
      return {
        code: ref.field ? ('linked_record_not_found' as const) : ('record_not_found' as const),
        step: ref.step,
        record: ref.record,
        recordId: ref.recordId,
        ...(ref.field ? { field: ref.field } : {}),
        message: ref.field
          ? `Field "${ref.field}" links to record ${ref.recordId}, which does not exist in table ${table}`
          : `Record ${ref.recordId} does not exist in table ${table}`,
      };
    });
}

/**
 * An Airtable read while validating: 5xx and network errors are retried with jittered exponential
 * backoff while the request's budget lasts (one Airtable hiccup must not refuse a change set); what
 * remains is not the caller's fault: 502/503, or 409 if access was lost.
 */
async function airtableCall<T>(call: () => Promise<T>, deadline: number): Promise<T> {
  try {
    return await backOff(call, {
      startingDelay: 200,
      timeMultiple: 2,
      maxDelay: 3_000,
      jitter: 'full',
      numOfAttempts: 10,
      retry: (err: unknown) =>
        err instanceof AirtableApiError && (err.status >= 500 || err.status === 0) && Date.now() < deadline,
    });
  } catch (err) {
    if (!(err instanceof AirtableApiError)) throw err;
    if (err.status === 401 || err.status === 403)
      throw new ServiceError(
        409,
        'airtable_access_denied',
        `Airtable refused the workspace's token (${err.status}); reconnect the workspace`,
      );
    if (err.status === 429)
      throw new ServiceError(
        503,
        'airtable_rate_limited',
        'Airtable is rate limiting this base; try again in 30 seconds',
      );
    throw new ServiceError(
      502,
      'airtable_unavailable',
      `Airtable could not be reached to check the change set (${err.status || 'network error'})`,
    );
  }
}

function present(issue: ChangeSetIssue) {
  const where = [
    `steps[${issue.step}]`,
    issue.record !== undefined ? `records[${issue.record}]` : '',
    issue.field ? `fields.${issue.field}` : '',
  ]
    .filter(Boolean)
    .join('.');
  return { path: where, ...issue };
}

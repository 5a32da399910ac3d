import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { sha256 } from '../../core/crypto';
import { AirtableApiError } from '../../airtable/errors';
import { getBaseSchema, type AirtableTableSchema } from '../../airtable/meta';
import { PostgresPacer } from '../../airtable/pacing';
import { createAirtableRecords } from '../../airtable/records';
import {
  CHANGE_SET_LIMITS,
  planChangeSet,
  type ChangeSetIssue,
  type RecordReference,
} from './plan';
import { readRecordsById } from './records-io';
import * as changeSets from './journal';
import * as jobs from '../jobs/store';
import { withTransaction } from '../../db/pool';
import * as workspaces from '../workspaces/store';
import type { ApiDeps } from '../../api/app';
import { HttpError, parseOrThrow } from '../../api/errors';
import { startJob } from '../jobs/service';

/** Bodies of change sets may be larger than other requests: 10,000 records fit. */
export const CHANGE_SET_BODY_LIMIT = '16mb';

const Fields = z.record(z.string().min(1), z.unknown());
const ChangeSetBody = z
  .object({
    steps: z
      .array(
        z
          .object({
            table: z.string().trim().min(1),
            action: z.enum(['create', 'update', 'upsert', 'delete']),
            records: z.array(z.object({ id: z.string().optional(), fields: Fields.optional() }).strict()),
            fieldsToMergeOn: z.array(z.string().min(1)).optional(),
            typecast: z.boolean().optional(),
          })
          .strict(),
      )
      .min(1, { error: 'A change set needs at least one step' })
      .max(CHANGE_SET_LIMITS.maxSteps),
  })
  .strict();

/** Most issues listed in one answer; the message gives the full count. */
const MAX_LISTED_ISSUES = 200;

/**
 * `POST /api/v1/workspaces/:id/changes`: validates the change set against the base schema and the
 * records it names, records it with its journal, and starts `applyChangeSet`. A change set with any
 * problem gets 400 listing each (step, record, field) and nothing is recorded or started. With an
 * `Idempotency-Key` header, repeating the request answers with the job the first one started.
 */
export async function submitChangeSet(
  deps: ApiDeps,
  request: { workspace: workspaces.Workspace; userId: string; body: unknown; idempotencyKey?: string },
): Promise<{ jobId: string; existing: boolean }> {
  const { pool } = deps;
  const { workspace, userId } = request;
  const jobId = request.idempotencyKey
    ? `changeset-${sha256(`${userId}\n${request.idempotencyKey}`).slice(0, 32)}`
    : `changeset-${randomUUID()}`;
  if (request.idempotencyKey) {
    const earlier = await jobs.getOwnedJob(pool, jobId, userId);
    if (earlier) return { jobId, existing: true };
  }
  const body = parseOrThrow(ChangeSetBody, request.body);
  if (workspace.status !== 'active')
    throw new HttpError(
      409,
      'workspace_not_active',
      `The workspace is ${workspace.status}; change sets need an active workspace`,
    );

  const connection = await workspaces.readAirtableToken(pool, workspace.id, deps.config.encryptionKey);
  if (!connection)
    throw new HttpError(409, 'workspace_not_active', 'The workspace has no Airtable connection');
  const pacer = new PostgresPacer(pool);
  const airtable = {
    endpointUrl: deps.config.airtable.endpointUrl,
    token: connection.token,
    timeoutMs: deps.config.airtable.requestTimeoutMs,
    pacer,
  };

  let schema = (await workspaces.getSchemaSnapshot(pool, workspace.id))?.tables ?? [];
  let planned = planChangeSet(body.steps, schema);
  // The snapshot may predate a table or field added in Airtable since: look once more before refusing.
  if (planned.issues.some((i) => /^Unknown (table|field|merge field)/.test(i.message))) {
    schema = await airtableCall(() => getBaseSchema(airtable, connection.baseId));
    await workspaces.saveSchemaSnapshot(pool, workspace.id, connection.baseId, schema);
    planned = planChangeSet(body.steps, schema);
  }
  const issues = [...planned.issues];
  if (issues.length === 0) {
    const records = createAirtableRecords({
      ...airtable,
      baseId: connection.baseId,
      pacer,
    });
    issues.push(...(await missingRecords(records, schema, planned.references)));
  }
  if (issues.length > 0) {
    throw new HttpError(
      400,
      'invalid_change_set',
      `The change set has ${issues.length} problem(s); nothing was applied`,
      issues.slice(0, MAX_LISTED_ISSUES).map(present),
    );
  }

  await withTransaction(pool, async (tx) => {
    await jobs.insertJob(tx, { id: jobId, kind: 'changeset.apply', workspaceId: workspace.id, userId });
    await changeSets.insertChangeSet(tx, {
      id: jobId,
      workspaceId: workspace.id,
      baseId: connection.baseId,
      plan: planned.plan,
    });
  });
  // If this start fails, the pending-job sweep starts it later: the change set is already recorded.
  await startJob(deps.temporal, { jobId, kind: 'changeset.apply', workspaceId: workspace.id, userId });
  await jobs.setJobStatus(pool, jobId, 'running');
  return { jobId, existing: false };
}

/** Issues for every referenced record that does not exist (one read per 100 ids per table). */
async function missingRecords(
  records: ReturnType<typeof createAirtableRecords>,
  schema: AirtableTableSchema[],
  references: RecordReference[],
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
    const found = await airtableCall(() =>
      readRecordsById(records, tableId, [...ids], primary ? [primary] : undefined),
    );
    for (const id of found.keys()) existing.add(`${tableId}/${id}`);
  }
  return references
    .filter((ref) => !existing.has(`${ref.tableId}/${ref.recordId}`))
    .map((ref) => {
      const table = schema.find((t) => t.id === ref.tableId)?.name ?? ref.tableId;
      return {
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

/** Airtable trouble while validating is not the caller's fault: 502/503, or 409 if access was lost. */
async function airtableCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof AirtableApiError)) throw err;
    if (err.status === 401 || err.status === 403)
      throw new HttpError(
        409,
        'airtable_access_denied',
        `Airtable refused the workspace's token (${err.status}); reconnect the workspace`,
      );
    if (err.status === 429)
      throw new HttpError(
        503,
        'airtable_rate_limited',
        'Airtable is rate limiting this base; try again in 30 seconds',
      );
    throw new HttpError(
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

import type { Pool, PoolClient } from 'pg';
import { decryptSecret, encryptSecret } from '../../core/crypto';
import { ServiceError } from '../../core/errors';
import type { AirtableTableSchema } from '../../airtable/meta';

type Queryable = Pool | PoolClient;

export type WorkspaceStatus = 'provisioning' | 'active' | 'failed' | 'deprovisioning';

/** A workspace as the API shows it; the Airtable token is never part of it. */
export interface Workspace {
  id: string;
  ownerId: string;
  name: string;
  status: WorkspaceStatus;
  error: string | null;
  airtableBaseId: string;
  /** Which of the agent's tool calls wait for a person. @default 'writes' */
  approvalPolicy: 'writes' | 'always' | 'never';
  /** The agent's monthly budget in USD; null: no limit. */
  monthlyBudgetUsd: number | null;
  /** The agent's model; null: the platform's default. */
  model: string | null;
  createdAt: Date;
  updatedAt: Date;
}

const COLUMNS = `id, owner_id AS "ownerId", name, status, error, airtable_base_id AS "airtableBaseId",
  approval_policy AS "approvalPolicy", monthly_budget_usd::float8 AS "monthlyBudgetUsd", model,
  created_at AS "createdAt", updated_at AS "updatedAt"`;

/**
 * Records a new workspace and its sealed Airtable token together, so no workspace exists without
 * its credential and no credential without its workspace.
 */
export async function insertWorkspaceWithConnection(
  db: Queryable,
  input: { id: string; ownerId: string; name: string; baseId: string; token: string; encryptionKey: Buffer },
): Promise<Workspace> {
  const { rows } = await db.query<Workspace>(
    `INSERT INTO workspaces (id, owner_id, name, status, airtable_base_id) VALUES ($1, $2, $3, 'provisioning', $4)
     RETURNING ${COLUMNS}`,
    [input.id, input.ownerId, input.name, input.baseId],
  );
  await db.query(
    `INSERT INTO airtable_connections (workspace_id, base_id, token_ciphertext) VALUES ($1, $2, $3)`,
    [input.id, input.baseId, encryptSecret(input.token, input.encryptionKey, input.id)],
  );
  return rows[0]!;
}

export async function getWorkspace(db: Queryable, id: string): Promise<Workspace | undefined> {
  const { rows } = await db.query<Workspace>(`SELECT ${COLUMNS} FROM workspaces WHERE id = $1`, [id]);
  return rows[0];
}

/** The workspace if `ownerId` owns it; another user's workspace is indistinguishable from a missing one. */
export async function getOwnedWorkspace(
  db: Queryable,
  id: string,
  ownerId: string,
): Promise<Workspace | undefined> {
  const { rows } = await db.query<Workspace>(
    `SELECT ${COLUMNS} FROM workspaces WHERE id = $1 AND owner_id = $2`,
    [id, ownerId],
  );
  return rows[0];
}

export async function listOwnedWorkspaces(db: Queryable, ownerId: string): Promise<Workspace[]> {
  const { rows } = await db.query<Workspace>(
    `SELECT ${COLUMNS} FROM workspaces WHERE owner_id = $1 ORDER BY created_at, id`,
    [ownerId],
  );
  return rows;
}

/** Moves a workspace to `status`; `from` guards the transition so a late retry cannot undo a newer state. */
export async function setWorkspaceStatus(
  db: Queryable,
  id: string,
  status: WorkspaceStatus,
  options: { error?: string | null; from?: WorkspaceStatus[] } = {},
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE workspaces SET status = $2, error = $3, updated_at = now()
     WHERE id = $1 AND ($4::text[] IS NULL OR status = ANY($4::text[]))`,
    [id, status, options.error ?? null, options.from ?? null],
  );
  return (rowCount ?? 0) > 0;
}

/** Renames a workspace or changes the agent's settings; unset values stay as they are. */
export async function updateWorkspace(
  db: Queryable,
  id: string,
  change: {
    name?: string;
    approvalPolicy?: Workspace['approvalPolicy'];
    monthlyBudgetUsd?: number | null;
    model?: string | null;
  },
): Promise<Workspace | undefined> {
  const { rows } = await db.query<Workspace>(
    `UPDATE workspaces SET name = coalesce($2, name), approval_policy = coalesce($3, approval_policy),
       monthly_budget_usd = CASE WHEN $4::boolean THEN $5::numeric ELSE monthly_budget_usd END,
       model = CASE WHEN $6::boolean THEN $7 ELSE model END, updated_at = now()
     WHERE id = $1 RETURNING ${COLUMNS}`,
    [
      id,
      change.name ?? null,
      change.approvalPolicy ?? null,
      change.monthlyBudgetUsd !== undefined,
      change.monthlyBudgetUsd ?? null,
      change.model !== undefined,
      change.model ?? null,
    ],
  );
  return rows[0];
}

/**
 * Whether the workspace is active, holding its row against a change of status until the caller's
 * transaction ends: a job recorded in that transaction is seen by a deprovisioning that starts later.
 */
export async function lockActiveWorkspace(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `SELECT 1 FROM workspaces WHERE id = $1 AND status = 'active' FOR SHARE`,
    [id],
  );
  return (rowCount ?? 0) > 0;
}

/**
 * Marks the workspace `deprovisioning` (its error kept) and answers what its status and error were;
 * one still provisioning is left as it is; undefined when it does not exist. The row stays locked
 * until the caller's transaction ends.
 */
export async function markDeprovisioning(
  db: Queryable,
  id: string,
): Promise<{ status: WorkspaceStatus; error: string | null } | undefined> {
  const { rows } = await db.query<{ status: WorkspaceStatus; error: string | null }>(
    `SELECT status, error FROM workspaces WHERE id = $1 FOR UPDATE`,
    [id],
  );
  const was = rows[0];
  if (was && was.status !== 'provisioning')
    await db.query(`UPDATE workspaces SET status = 'deprovisioning', updated_at = now() WHERE id = $1`, [id]);
  return was;
}

/** {@link lockActiveWorkspace} for recording a new job: a workspace that is not active answers 409. */
export async function holdActiveWorkspace(db: Queryable, id: string): Promise<void> {
  if (!(await lockActiveWorkspace(db, id)))
    throw new ServiceError(409, 'workspace_not_active', 'The workspace is no longer active');
}

export async function deleteWorkspace(db: Queryable, id: string): Promise<void> {
  // Connections and schema snapshots go with it (ON DELETE CASCADE).
  await db.query(`DELETE FROM workspaces WHERE id = $1`, [id]);
}

/** The decrypted Airtable token of a workspace, for activities only. */
export async function readAirtableToken(
  db: Queryable,
  workspaceId: string,
  encryptionKey: Buffer,
): Promise<{ baseId: string; token: string } | undefined> {
  const { rows } = await db.query<{ base_id: string; token_ciphertext: string }>(
    `SELECT base_id, token_ciphertext FROM airtable_connections WHERE workspace_id = $1`,
    [workspaceId],
  );
  const row = rows[0];
  if (!row) return undefined;
  return { baseId: row.base_id, token: decryptSecret(row.token_ciphertext, encryptionKey, workspaceId) };
}

export async function markConnectionVerified(db: Queryable, workspaceId: string): Promise<void> {
  await db.query(`UPDATE airtable_connections SET verified_at = now() WHERE workspace_id = $1`, [
    workspaceId,
  ]);
}

/** Erases the stored token: the row (and with it the ciphertext) is deleted. */
export async function eraseAirtableConnection(db: Queryable, workspaceId: string): Promise<void> {
  await db.query(`DELETE FROM airtable_connections WHERE workspace_id = $1`, [workspaceId]);
}

export async function saveSchemaSnapshot(
  db: Queryable,
  workspaceId: string,
  baseId: string,
  tables: AirtableTableSchema[],
): Promise<void> {
  await db.query(
    `INSERT INTO workspace_schemas (workspace_id, base_id, tables, fetched_at) VALUES ($1, $2, $3, now())
     ON CONFLICT (workspace_id) DO UPDATE SET base_id = EXCLUDED.base_id, tables = EXCLUDED.tables, fetched_at = now()`,
    [workspaceId, baseId, JSON.stringify(tables)],
  );
}

export async function getSchemaSnapshot(
  db: Queryable,
  workspaceId: string,
): Promise<{ baseId: string; tables: AirtableTableSchema[]; fetchedAt: Date } | undefined> {
  const { rows } = await db.query<{ baseId: string; tables: AirtableTableSchema[]; fetchedAt: Date }>(
    `SELECT base_id AS "baseId", tables, fetched_at AS "fetchedAt" FROM workspace_schemas WHERE workspace_id = $1`,
    [workspaceId],
  );
  return rows[0];
}

export async function deleteSchemaSnapshot(db: Queryable, workspaceId: string): Promise<void> {
  await db.query(`DELETE FROM workspace_schemas WHERE workspace_id = $1`, [workspaceId]);
}

import type { Pool, PoolClient } from 'pg';
import type { Workspace } from '../workspaces/store';

type Queryable = Pool | PoolClient;

/** What a key allows: `read` tools, and with `write` also the tools that change the base. */
export type ApiKeyScope = 'read' | 'write';

/** A workspace API key as its owner sees it: never the secret, nor its digest. */
export interface ApiKeyRecord {
  id: string;
  workspaceId: string;
  name: string;
  scopes: ApiKeyScope[];
  /** The public start of the key (`aok_<lookup>`), so a person can tell keys apart. */
  prefix: string;
  createdBy: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const COLUMNS = `id, workspace_id AS "workspaceId", name, scopes, 'aok_' || lookup AS prefix,
  created_by AS "createdBy", created_at AS "createdAt", last_used_at AS "lastUsedAt", revoked_at AS "revokedAt"`;

export async function insertApiKey(
  db: Queryable,
  key: {
    id: string;
    workspaceId: string;
    createdBy: string;
    name: string;
    scopes: ApiKeyScope[];
    lookup: string;
    secretHash: string;
  },
): Promise<ApiKeyRecord> {
  const { rows } = await db.query<ApiKeyRecord>(
    `INSERT INTO api_keys (id, workspace_id, created_by, name, scopes, lookup, secret_hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
    [key.id, key.workspaceId, key.createdBy, key.name, key.scopes, key.lookup, key.secretHash],
  );
  return rows[0]!;
}

/** The workspace's keys, newest first, revoked ones included (with `revokedAt`). */
export async function listApiKeys(db: Queryable, workspaceId: string): Promise<ApiKeyRecord[]> {
  const { rows } = await db.query<ApiKeyRecord>(
    `SELECT ${COLUMNS} FROM api_keys WHERE workspace_id = $1 ORDER BY created_at DESC, id`,
    [workspaceId],
  );
  return rows;
}

export async function countActiveApiKeys(db: Queryable, workspaceId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM api_keys WHERE workspace_id = $1 AND revoked_at IS NULL`,
    [workspaceId],
  );
  return rows[0]?.n ?? 0;
}

/** Revokes a key of the workspace; returns the key (revoked earlier or now), or undefined if none. */
export async function revokeApiKey(
  db: Queryable,
  workspaceId: string,
  id: string,
): Promise<ApiKeyRecord | undefined> {
  const { rows } = await db.query<ApiKeyRecord>(
    `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
     WHERE id = $1 AND workspace_id = $2 RETURNING ${COLUMNS}`,
    [id, workspaceId],
  );
  return rows[0];
}

/** What authenticating a presented key needs: its digest to compare, and what it grants. */
export interface ApiKeyCredential {
  id: string;
  workspaceId: string;
  name: string;
  scopes: ApiKeyScope[];
  secretHash: string;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  /** The key's workspace as it is now (the columns of `Workspace` in domain/workspaces/store). */
  workspace: Workspace;
  /** The workspace's sealed Airtable connection, if it has one. */
  connection: { baseId: string; tokenCiphertext: string } | null;
}

/**
 * The key whose public part is `lookup`, with its workspace and that workspace's sealed connection:
 * one round trip per request, so a burst of calls does not queue three queries each on the pool.
 */
export async function findApiKeyByLookup(
  db: Queryable,
  lookup: string,
): Promise<ApiKeyCredential | undefined> {
  const { rows } = await db.query<
    Omit<ApiKeyCredential, 'workspace' | 'connection'> & Record<string, unknown>
  >(
    `SELECT k.id, k.workspace_id AS "workspaceId", k.name, k.scopes, k.secret_hash AS "secretHash",
       k.last_used_at AS "lastUsedAt", k.revoked_at AS "revokedAt",
       w.owner_id AS "w_ownerId", w.name AS "w_name", w.status AS "w_status", w.error AS "w_error",
       w.airtable_base_id AS "w_airtableBaseId", w.approval_policy AS "w_approvalPolicy",
       w.monthly_budget_usd::float8 AS "w_monthlyBudgetUsd", w.model AS "w_model",
       w.created_at AS "w_createdAt", w.updated_at AS "w_updatedAt",
       c.base_id AS "c_baseId", c.token_ciphertext AS "c_tokenCiphertext"
     FROM api_keys k
     JOIN workspaces w ON w.id = k.workspace_id
     LEFT JOIN airtable_connections c ON c.workspace_id = k.workspace_id
     WHERE k.lookup = $1`,
    [lookup],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    id: row.id,
    workspaceId: row.workspaceId,
    name: row.name,
    scopes: row.scopes,
    secretHash: row.secretHash,
    lastUsedAt: row.lastUsedAt,
    revokedAt: row.revokedAt,
    workspace: {
      id: row.workspaceId,
      ownerId: row.w_ownerId as string,
      name: row.w_name as string,
      status: row.w_status as Workspace['status'],
      error: row.w_error as string | null,
      airtableBaseId: row.w_airtableBaseId as string,
      approvalPolicy: row.w_approvalPolicy as Workspace['approvalPolicy'],
      monthlyBudgetUsd: row.w_monthlyBudgetUsd as number | null,
      model: row.w_model as string | null,
      createdAt: row.w_createdAt as Date,
      updatedAt: row.w_updatedAt as Date,
    },
    connection: row.c_baseId
      ? { baseId: row.c_baseId as string, tokenCiphertext: row.c_tokenCiphertext as string }
      : null,
  };
}

export async function touchApiKey(db: Queryable, id: string): Promise<void> {
  await db.query(`UPDATE api_keys SET last_used_at = now() WHERE id = $1`, [id]);
}

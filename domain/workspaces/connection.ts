import type { Pool } from 'pg';
import { baseRecords, metaOptions, type AirtableAccess } from '../../airtable/access';
import type { AirtableMetaOptions } from '../../airtable/meta';
import type { AirtableRecords } from '../../airtable/records';
import { FailureType, platformFailure } from '../../core/failures';
import * as store from './store';

/** What opening a workspace's base needs. */
export interface ConnectionDeps {
  pool: Pool;
  encryptionKey: Buffer;
  airtable: AirtableAccess;
}

/**
 * A workspace's base id and sealed token, read from Postgres where they are used (the token never
 * travels through Temporal). A missing or undecryptable token is a non-retryable failure: a token
 * that no longer opens under the current key will not open on a retry either.
 */
export async function readWorkspaceConnection(
  deps: Pick<ConnectionDeps, 'pool' | 'encryptionKey'>,
  workspaceId: string,
): Promise<{ baseId: string; token: string }> {
  const connection = await store
    .readAirtableToken(deps.pool, workspaceId, deps.encryptionKey)
    .catch((err: Error) => {
      throw platformFailure(
        FailureType.connectionMissing,
        `The stored Airtable token cannot be decrypted (${err.message}); was APP_ENCRYPTION_KEY changed?`,
      );
    });
  if (!connection)
    throw platformFailure(
      FailureType.connectionMissing,
      'No Airtable connection is stored for this workspace',
    );
  return connection;
}

/** A workspace's base, opened with its sealed token: records and meta API, paced with the process. */
export interface WorkspaceBase {
  baseId: string;
  records: AirtableRecords;
  meta: AirtableMetaOptions;
}

/** Opens a workspace's base (see {@link readWorkspaceConnection}). */
export async function openWorkspaceBase(
  deps: ConnectionDeps,
  workspaceId: string,
  signal?: AbortSignal,
): Promise<WorkspaceBase> {
  const connection = await readWorkspaceConnection(deps, workspaceId);
  return {
    baseId: connection.baseId,
    records: baseRecords(deps.airtable, connection, signal),
    meta: metaOptions(deps.airtable, connection.token, signal),
  };
}

import { ApplicationFailure } from '@temporalio/common';
import type { Pool } from 'pg';
import * as workspaces from './store';
import type { AirtablePacer } from '../../airtable/pacing';
import { createAirtableRecords, type AirtableRecords } from '../../airtable/records';

/** Failure type when a workspace's Airtable connection is gone or cannot be opened. */
export const CONNECTION_MISSING = 'AirtableConnectionMissing';

type ConnectionDeps = {
  pool: Pool;
  encryptionKey: Buffer;
  airtable: { endpointUrl: string; requestTimeoutMs: number };
};

/**
 * A workspace's base id and sealed token, read from Postgres inside the activity (the token never
 * travels through Temporal). A missing or undecryptable token is a non-retryable failure: a token
 * that no longer opens under the current key will not open on a retry either.
 */
export async function readWorkspaceConnection(
  deps: Pick<ConnectionDeps, 'pool' | 'encryptionKey'>,
  workspaceId: string,
): Promise<{ baseId: string; token: string }> {
  const connection = await workspaces
    .readAirtableToken(deps.pool, workspaceId, deps.encryptionKey)
    .catch((err: Error) => {
      throw ApplicationFailure.nonRetryable(
        `The stored Airtable token cannot be decrypted (${err.message}); was APP_ENCRYPTION_KEY changed?`,
        CONNECTION_MISSING,
      );
    });
  if (!connection)
    throw ApplicationFailure.nonRetryable(
      'No Airtable connection is stored for this workspace',
      CONNECTION_MISSING,
    );
  return connection;
}

/** Record access to a workspace's base with its sealed token (see {@link readWorkspaceConnection}). */
export async function openWorkspaceBase(
  deps: ConnectionDeps,
  pacer: AirtablePacer,
  workspaceId: string,
  signal?: AbortSignal,
): Promise<{ baseId: string; records: AirtableRecords }> {
  const connection = await readWorkspaceConnection(deps, workspaceId);
  return {
    baseId: connection.baseId,
    records: createAirtableRecords({
      endpointUrl: deps.airtable.endpointUrl,
      token: connection.token,
      baseId: connection.baseId,
      pacer,
      timeoutMs: deps.airtable.requestTimeoutMs,
      signal,
    }),
  };
}

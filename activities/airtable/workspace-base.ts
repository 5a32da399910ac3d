import { ApplicationFailure } from '@temporalio/common';
import type { Pool } from 'pg';
import * as workspaces from '../../db/workspaces';
import type { AirtablePacer } from './pacing';
import { createAirtableRecords, type AirtableRecords } from './records';

/** Failure type when a workspace's Airtable connection is gone or cannot be opened. */
export const CONNECTION_MISSING = 'AirtableConnectionMissing';

/**
 * Record access to a workspace's base with its sealed token, read from Postgres inside the
 * activity (the token never travels through Temporal). A missing or undecryptable token is a
 * non-retryable failure: a retry would find the same.
 */
export async function openWorkspaceBase(
  deps: { pool: Pool; encryptionKey: Buffer; airtable: { endpointUrl: string; requestTimeoutMs: number } },
  pacer: AirtablePacer,
  workspaceId: string,
  signal?: AbortSignal,
): Promise<{ baseId: string; records: AirtableRecords }> {
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
      'The workspace has no Airtable connection (was it deleted?)',
      CONNECTION_MISSING,
    );
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

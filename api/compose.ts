import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { AirtableAccess } from '../airtable/access';
import type { AppConfig } from '../core/config';
import type { Logger } from '../core/logger';
import { createChangeSetService } from '../domain/change-sets/service';
import { createJobService } from '../domain/jobs/service';
import { createSessions } from '../domain/users/sessions';
import { createWorkspaceService } from '../domain/workspaces/service';
import type { ApiDeps } from './context';

/** What the API process is built from: its one pool, Temporal client and Airtable access. */
export interface ApiParts {
  pool: Pool;
  temporal: { client: Client; taskQueue: string };
  airtable: AirtableAccess;
  config: Pick<
    AppConfig,
    | 'jwtSecret'
    | 'encryptionKey'
    | 'accessTokenTtlSeconds'
    | 'refreshTokenTtlSeconds'
    | 'corsOrigins'
    | 'loginRateLimitPerMinute'
  >;
  logger: Logger;
}

/** Wires the API's services once, around the parts the process built (the composition root's one step). */
export function composeApi(parts: ApiParts): ApiDeps {
  const { pool, config, logger } = parts;
  const jobs = createJobService({ pool, temporal: parts.temporal, logger });
  return {
    services: {
      sessions: createSessions({
        pool,
        jwtSecret: config.jwtSecret,
        accessTokenTtlSeconds: config.accessTokenTtlSeconds,
        refreshTokenTtlSeconds: config.refreshTokenTtlSeconds,
      }),
      jobs,
      workspaces: createWorkspaceService({ pool, encryptionKey: config.encryptionKey, jobs }),
      changeSets: createChangeSetService({
        pool,
        encryptionKey: config.encryptionKey,
        airtable: parts.airtable,
        jobs,
      }),
    },
    pool,
    temporalClient: parts.temporal.client,
    config,
    logger,
  };
}

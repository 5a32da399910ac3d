import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { AirtableAccess } from '../airtable/access';
import { AUTH_DEFAULTS, type AppConfig, type AuthSettings } from '../core/config';
import type { Logger } from '../core/logger';
import type { NotificationFeed } from '../db/notifications';
import { createConversationService } from '../domain/agent/service';
import { createApiKeyService } from '../domain/api-keys/service';
import { createChangeSetService } from '../domain/change-sets/service';
import { createJobService } from '../domain/jobs/service';
import { createMcpService } from '../domain/mcp/service';
import { mcpSettingsFromEnv, type McpSettings } from '../domain/mcp/settings';
import { createSyncService } from '../domain/syncs/service';
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
  > &
    /** The sign-in protections; each one left out takes its default (AUTH_DEFAULTS). */
    Partial<AuthSettings>;
  logger: Logger;
  /**
   * Postgres's notifications of changes to what API keys reach (`listenForApiKeyAccessChanges`):
   * with them a valid key's check is kept up to a minute. @default none: every MCP request is checked
   */
  accessChanges?: NotificationFeed;
  /** The most model calls of one conversation turn. @default 10 */
  maxStepsPerTurn?: number;
  /** The MCP endpoint's settings. @default from MCP_WRITE_WAIT_SECONDS */
  mcp?: Partial<McpSettings>;
}

/** Wires the API's services once, around the parts the process built (the composition root's one step). */
export function composeApi(parts: ApiParts): ApiDeps {
  const { pool, config, logger } = parts;
  const jobs = createJobService({
    pool,
    temporal: parts.temporal,
    logger,
    maxStepsPerTurn: parts.maxStepsPerTurn,
  });
  const apiKeys = createApiKeyService({ pool, accessChanges: parts.accessChanges });
  return {
    services: {
      sessions: createSessions({
        pool,
        jwtSecret: config.jwtSecret,
        accessTokenTtlSeconds: config.accessTokenTtlSeconds,
        refreshTokenTtlSeconds: config.refreshTokenTtlSeconds,
        hashing: {
          maxConcurrent: config.maxConcurrentHashes ?? AUTH_DEFAULTS.maxConcurrentHashes,
          maxQueued: config.maxQueuedHashes ?? AUTH_DEFAULTS.maxQueuedHashes,
          maxWaitMs: config.maxHashWaitMs ?? AUTH_DEFAULTS.maxHashWaitMs,
        },
        lockout: {
          threshold: config.loginLockoutThreshold ?? AUTH_DEFAULTS.loginLockoutThreshold,
          baseSeconds: config.loginLockoutBaseSeconds ?? AUTH_DEFAULTS.loginLockoutBaseSeconds,
          maxSeconds: config.loginLockoutMaxSeconds ?? AUTH_DEFAULTS.loginLockoutMaxSeconds,
        },
      }),
      jobs,
      workspaces: createWorkspaceService({ pool, encryptionKey: config.encryptionKey, jobs }),
      changeSets: createChangeSetService({
        pool,
        encryptionKey: config.encryptionKey,
        airtable: parts.airtable,
        jobs,
      }),
      conversations: createConversationService({ pool, client: parts.temporal.client, jobs }),
      syncs: createSyncService({
        pool,
        temporal: parts.temporal,
        airtable: parts.airtable,
        encryptionKey: config.encryptionKey,
        logger,
      }),
      apiKeys,
      mcp: createMcpService({
        pool,
        encryptionKey: config.encryptionKey,
        airtable: parts.airtable,
        jobs,
        apiKeys,
        temporalClient: parts.temporal.client,
        logger,
        settings: { ...mcpSettingsFromEnv(), ...parts.mcp },
      }),
    },
    pool,
    temporalClient: parts.temporal.client,
    config,
    logger,
  };
}

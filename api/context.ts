import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { AppConfig } from '../core/config';
import type { Logger } from '../core/logger';
import type { ConversationService } from '../domain/agent/service';
import type { ApiKeyService } from '../domain/api-keys/service';
import type { ChangeSetService } from '../domain/change-sets/service';
import type { JobService } from '../domain/jobs/service';
import type { McpService } from '../domain/mcp/service';
import type { SyncService } from '../domain/syncs/service';
import type { Sessions } from '../domain/users/sessions';
import type { WorkspaceService } from '../domain/workspaces/service';

/** The domain services the routes call; built once by the composition root (`api/main.ts`, or tests). */
export interface ApiServices {
  sessions: Sessions;
  workspaces: WorkspaceService;
  jobs: JobService;
  changeSets: ChangeSetService;
  conversations: ConversationService;
  syncs: SyncService;
  apiKeys: ApiKeyService;
  mcp: McpService;
}

/** What the API needs. */
export interface ApiDeps {
  services: ApiServices;
  /** Readiness checks only: the routes reach Postgres and Temporal through services. */
  pool: Pool;
  temporalClient: Client;
  config: Pick<AppConfig, 'corsOrigins' | 'loginRateLimitPerMinute'>;
  logger: Logger;
}

import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { AirtableAccess } from '../../airtable/access';
import type { Logger } from '../../core/logger';
import type { ApiKeyAccess, ApiKeyService } from '../api-keys/service';
import { createChangeSetService } from '../change-sets/service';
import type { JobService } from '../jobs/service';
import { createMcpServer, invalidKeyError } from './server';
import { DEFAULT_MCP_SETTINGS, type McpSettings } from './settings';
import { createMcpToolRunner, type McpCallEvent } from './tools';

/** What the MCP service needs: the API process's parts. */
export interface McpServiceDeps {
  pool: Pool;
  encryptionKey: Buffer;
  airtable: AirtableAccess;
  jobs: JobService;
  apiKeys: ApiKeyService;
  temporalClient: Client;
  logger: Logger;
  settings?: Partial<McpSettings>;
  onCall?: (event: McpCallEvent) => void;
}

/**
 * The agent's tools over MCP, for one API key's workspace at a time. Both transports use it: the
 * HTTP route builds a server per request for the key that request presented (stateless), the stdio
 * script one server for the process whose key is checked again on every request.
 */
export function createMcpService(deps: McpServiceDeps) {
  const settings = { ...DEFAULT_MCP_SETTINGS, ...deps.settings };
  const runner = createMcpToolRunner({
    pool: deps.pool,
    encryptionKey: deps.encryptionKey,
    airtable: deps.airtable,
    jobs: deps.jobs,
    changeSets: createChangeSetService({
      pool: deps.pool,
      encryptionKey: deps.encryptionKey,
      airtable: deps.airtable,
      jobs: deps.jobs,
    }),
    temporalClient: deps.temporalClient,
    logger: deps.logger.child({ component: 'mcp' }),
    writeWaitMs: settings.writeWaitMs,
    onCall: deps.onCall,
  });

  return {
    runner,
    settings,

    /** What a presented key reaches (Postgres on every call: revocation counts at once). */
    authenticate(secret: string): Promise<ApiKeyAccess | undefined> {
      return deps.apiKeys.authenticate(secret);
    },

    /** A server for one HTTP request, whose key has been authenticated already. */
    serverForRequest(
      access: ApiKeyAccess,
      options: { callId?: string; onDone?: (event: McpCallEvent) => void } = {},
    ): Server {
      return createMcpServer({
        runner,
        access: async () => access,
        callId: () => options.callId,
        onDone: options.onDone,
      });
    },

    /** A server for a long-lived connection (stdio) that checks `secret` again on every request. */
    serverForKey(secret: string): Server {
      return createMcpServer({
        runner,
        access: async () => {
          const access = await deps.apiKeys.authenticate(secret);
          if (!access) throw invalidKeyError();
          return access;
        },
      });
    },
  };
}

export type McpService = ReturnType<typeof createMcpService>;

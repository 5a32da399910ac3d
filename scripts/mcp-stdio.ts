import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { isJSONRPCRequest, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { createAirtableAccess } from '../airtable/access';
import { composeApi } from '../api/compose';
import { loadConfig } from '../core/config';
import { REDACTED_PATHS } from '../core/logger';
import { createPool } from '../db/pool';
import { temporalConnectionOptions } from '../temporal/connection';
import { dataConverter } from '../temporal/data-converter';
import { taskQueues } from '../temporal/task-queues';

/**
 * `npm run mcp`: the MCP server over stdio, for desktop clients that start their servers as
 * processes. The workspace API key comes from `AIRTABLE_OPS_API_KEY`. Two ways to reach the platform:
 *
 * - `AIRTABLE_OPS_MCP_URL` set (e.g. `https://ops.example.com/mcp`): a bridge, relaying every
 *   message to that `POST /mcp` endpoint with the key. Needs nothing but the URL and the key.
 * - otherwise: the same server the API runs (`domain/mcp`), in this process, on the platform's
 *   Postgres and Temporal (`DATABASE_URL`, `TEMPORAL_ADDRESS`, `APP_ENCRYPTION_KEY`, … as for
 *   `npm run api`; the local defaults reach a platform started with `npm start` on this machine).
 *   The key is checked again on every request, so revoking it stops this process's calls at once.
 *
 * stdout carries the protocol only: logs go to stderr.
 */
const logger = pino(
  {
    name: 'mcp-stdio',
    level: process.env.LOG_LEVEL ?? 'warn',
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  },
  pino.destination(2),
);

async function main(): Promise<void> {
  const secret = process.env.AIRTABLE_OPS_API_KEY?.trim();
  if (!secret) {
    logger.fatal('AIRTABLE_OPS_API_KEY is not set: create a key with POST /api/v1/workspaces/:id/api-keys');
    process.exit(2);
  }
  const url = process.env.AIRTABLE_OPS_MCP_URL;
  if (url) await bridge(new URL(url), secret);
  else await inProcess(secret);
}

/** The API's own MCP server, on this process's pool, Temporal client and Airtable pacer. */
async function inProcess(secret: string): Promise<void> {
  const config = loadConfig();
  const pool = createPool(config.databaseUrl, { max: 4 });
  const address = config.temporal.address ?? `127.0.0.1:${config.temporal.devServerPort}`;
  const connection = await Connection.connect(temporalConnectionOptions({ ...config.temporal, address }));
  const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter });
  const { services } = composeApi({
    pool,
    temporal: { client, taskQueue: taskQueues(config.taskQueuePrefix).platform },
    airtable: createAirtableAccess(pool, config.airtable),
    config,
    logger,
  });
  if (!(await services.mcp.authenticate(secret))) {
    logger.fatal('AIRTABLE_OPS_API_KEY is not a valid API key (or it has been revoked)');
    await Promise.allSettled([pool.end(), connection.close()]);
    process.exit(2);
  }
  const server = services.mcp.serverForKey(secret);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => (transport.onclose = resolve));
  process.stdin.once('end', () => void server.close());
  await server.connect(transport);
  logger.info('MCP server on stdio');
  await closed;
  await Promise.allSettled([pool.end(), connection.close()]);
  process.exit(0);
}

/** Relays stdio to a remote `POST /mcp` (stateless Streamable HTTP) with the key in the header. */
async function bridge(url: URL, secret: string): Promise<void> {
  const local = new StdioServerTransport();
  const remote = new StreamableHTTPClientTransport(url, {
    requestInit: { headers: { Authorization: `Bearer ${secret}` } },
  });
  local.onmessage = (message: JSONRPCMessage) => {
    remote.send(message).catch((err: unknown) => {
      logger.error({ err }, 'the MCP endpoint refused a message');
      // A request must get an answer, or the desktop client waits for ever.
      if (isJSONRPCRequest(message))
        void local.send({
          jsonrpc: '2.0',
          id: message.id,
          error: { code: -32000, message: `The MCP endpoint ${url.origin} refused the call: ${String(err)}` },
        });
    });
  };
  remote.onmessage = (message) => void local.send(message);
  remote.onerror = (err) => logger.warn({ err }, 'MCP endpoint');
  const closed = new Promise<void>((resolve) => (local.onclose = resolve));
  process.stdin.once('end', () => void local.close());
  await remote.start();
  await local.start();
  logger.info({ url: url.toString() }, 'relaying stdio to the MCP endpoint');
  await closed;
  await remote.close();
  process.exit(0);
}

main().catch((err) => {
  logger.fatal({ err }, 'the MCP stdio server failed');
  process.exit(1);
});

import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../core/config';
import { createLogger } from '../core/logger';
import { migrate } from '../db/migrate';
import { createPool } from '../db/pool';
import { temporalConnectionOptions } from '../temporal/connection';
import { dataConverter } from '../temporal/data-converter';
import { taskQueues } from '../temporal/task-queues';
import { createAirtableAccess } from '../airtable/access';
import { listenForApiKeyAccessChanges } from '../domain/api-keys/access-cache';
import { createApp } from './app';
import { listen } from './http-server';
import { composeApi } from './compose';

/**
 * The API process. Connects to TEMPORAL_ADDRESS, or to the dev server `npm start` runs.
 * On SIGINT/SIGTERM it stops accepting connections, lets in-flight requests finish, then closes.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, name: 'api' });
  const address = config.temporal.address ?? `127.0.0.1:${config.temporal.devServerPort}`;
  await migrate(config.databaseUrl, logger);
  const pool = createPool(config.databaseUrl);
  const connection = await Connection.connect(temporalConnectionOptions({ ...config.temporal, address }));
  const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter });
  // The process's one pacer and schema cache, shared by every request.
  const airtable = createAirtableAccess(pool, config.airtable);
  // Revocations and workspace changes, from every process, for the API keys' checks kept in memory.
  const accessChanges = listenForApiKeyAccessChanges(config.databaseUrl, logger);
  const deps = composeApi({
    pool,
    temporal: { client, taskQueue: taskQueues(config.taskQueuePrefix).platform },
    airtable,
    config,
    logger,
    accessChanges,
    maxStepsPerTurn: config.agent.maxStepsPerTurn,
  });
  const app = createApp(deps);
  const sweep = () =>
    deps.services.jobs
      .abandonStalePending()
      .catch((err: unknown) => logger.error({ err }, 'could not sweep jobs left pending'));
  await sweep();
  const sweeper = setInterval(() => void sweep(), 60_000);

  const server = await listen(app, config.port, config.host);
  logger.info({ url: `http://${config.host}:${config.port}` }, 'API listening');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(sweeper);
    logger.info({ signal }, 'API shutting down');
    const forced = setTimeout(() => process.exit(1), 10_000).unref();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await Promise.allSettled([pool.end(), connection.close(), accessChanges.close()]);
    clearTimeout(forced);
    logger.info('API stopped');
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

import { DefaultLogger, NativeConnection, Runtime, type LogLevel } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../core/config';
import { createLogger } from '../core/logger';
import { createAirtableAccess } from '../airtable/access';
import { agentSettings } from '../core/agent-config';
import { createGeminiModel } from '../domain/agent/llm';
import { createPool } from '../db/pool';
import { migrate } from '../db/migrate';
import { temporalConnectionOptions } from '../temporal/connection';
import { dataConverter } from '../temporal/data-converter';
import { taskQueues } from '../temporal/task-queues';
import { createPlatformWorker } from './worker';
import { collectProcessMetrics } from '../core/metrics';
import { meteredModel } from '../domain/agent/metered-model';
import { freePort } from '../temporal/dev-server';
import { startWorkerMetricsServer, workerMetricsAddress } from './metrics-server';

/**
 * The worker process: carries out every workflow and activity of the platform. Run several for
 * capacity; they share the work through Temporal and the Airtable pacing through Postgres.
 * Connects to TEMPORAL_ADDRESS, or to the dev server `npm start` runs (127.0.0.1:TEMPORAL_PORT).
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, name: 'worker' });
  // The SDK's own lines (workflow and activity logs included) go through the same JSON logger.
  const sdkLevel: LogLevel = (['trace', 'debug', 'info', 'warn', 'error'] as const).includes(
    config.logLevel as 'info',
  )
    ? (config.logLevel.toUpperCase() as LogLevel)
    : 'ERROR';
  // Temporal's SDK metrics (the core's Prometheus exporter, on loopback) join ours on the metrics port.
  const metricsAddress = workerMetricsAddress();
  const sdkMetricsPort = metricsAddress ? await freePort() : undefined;
  Runtime.install({
    logger: new DefaultLogger(sdkLevel, ({ level, message, meta }) => {
      const method = level.toLowerCase() as 'trace' | 'debug' | 'info' | 'warn' | 'error';
      logger[method]({ ...meta, sdk: true }, message);
    }),
    ...(sdkMetricsPort
      ? {
          telemetryOptions: {
            metrics: {
              prometheus: {
                bindAddress: `127.0.0.1:${sdkMetricsPort}`,
                countersTotalSuffix: true,
                useSecondsForDurations: true,
              },
            },
          },
        }
      : {}),
  });
  collectProcessMetrics({ component: 'worker' });
  const metricsServer = metricsAddress
    ? await startWorkerMetricsServer({
        ...metricsAddress,
        sdkMetricsUrl: `http://127.0.0.1:${sdkMetricsPort}/metrics`,
        logger,
      })
    : undefined;
  const address = config.temporal.address ?? `127.0.0.1:${config.temporal.devServerPort}`;
  const pool = createPool(config.databaseUrl);
  await migrate(config.databaseUrl, logger);

  const connectionOptions = temporalConnectionOptions({ ...config.temporal, address });
  const connection = await NativeConnection.connect(connectionOptions);
  const clientConnection = await Connection.connect(connectionOptions);
  const temporalClient = new Client({
    connection: clientConnection,
    namespace: config.temporal.namespace,
    dataConverter,
  });
  const taskQueue = taskQueues(config.taskQueuePrefix).platform;
  const airtable = createAirtableAccess(pool, config.airtable);
  if (!config.gemini.apiKey)
    logger.warn('GEMINI_API_KEY is not set: conversations will say the agent has no model');
  const worker = await createPlatformWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue,
    // One pacer and one schema cache for every activity of this process.
    deps: {
      pool,
      encryptionKey: config.encryptionKey,
      airtable,
      temporalClient,
      model: config.gemini.apiKey
        ? meteredModel(
            createGeminiModel({ apiKey: config.gemini.apiKey, baseUrl: config.gemini.baseUrl }),
            config.gemini.prices,
          )
        : undefined,
      agentSettings: agentSettings(config),
    },
    // A bundle prebuilt at image build time (or by the test setup) skips bundling at start.
    workflowBundle: process.env.TEMPORAL_WORKFLOW_BUNDLE
      ? { codePath: process.env.TEMPORAL_WORKFLOW_BUNDLE }
      : undefined,
  });

  // The SDK's runtime shuts the worker down on SIGINT/SIGTERM, letting activities finish within shutdownGraceTime.
  logger.info({ address, namespace: config.temporal.namespace, taskQueue }, 'worker started');
  await worker.run();
  await airtable.meter.flush().catch((err: unknown) => logger.warn({ err }, 'could not save request counts'));
  metricsServer?.close();
  await Promise.all([connection.close(), clientConnection.close(), pool.end()]);
  logger.info('worker stopped');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

import { Client } from '@temporalio/client';
import { createAirtableAccess } from '../airtable/access';
import { createApp } from '../api/app';
import { listen } from '../api/http-server';
import { composeApi } from '../api/compose';
import { loadConfig } from '../core/config';
import { createLogger } from '../core/logger';
import { createPool } from '../db/pool';

/**
 * The API as `api/main.ts` builds it (config from the environment, one pool, the real app), for
 * bench/auth-load.ts, which starts it as a child process so the load generator does not share its
 * CPU time. No Temporal server: auth and workspace listing never reach it, so the client is a lazy
 * one that never connects. Tells its parent its port and, when asked, the hashing gate's figures.
 *   node --import tsx bench/auth-api-process.ts   (with DATABASE_URL, JWT_SECRET, … set; IPC channel)
 */
async function main(): Promise<void> {
  if (!process.send) throw new Error('start me from bench/auth-load.ts (I need an IPC channel)');
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, name: 'api' });
  const pool = createPool(config.databaseUrl);
  const deps = composeApi({
    pool,
    temporal: {
      client: new Client({ namespace: config.temporal.namespace }),
      taskQueue: 'bench-auth-unused',
    },
    airtable: createAirtableAccess(pool, config.airtable),
    config,
    logger,
  });
  const app = createApp(deps);
  const server = await listen(app, 0, '127.0.0.1');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.send({
    ready: {
      port,
      settings: {
        maxConcurrentHashes: config.maxConcurrentHashes,
        maxQueuedHashes: config.maxQueuedHashes,
        maxHashWaitMs: config.maxHashWaitMs,
        loginRateLimitPerMinute: config.loginRateLimitPerMinute,
        registerRateLimitPerMinute: config.registerRateLimitPerMinute,
        refreshRateLimitPerMinute: config.refreshRateLimitPerMinute,
        trustProxy: config.trustProxy,
      },
    },
  });
  process.on('message', (message) => {
    if (message === 'stats') process.send!({ stats: deps.services.sessions.hashingStats() });
    if (message === 'stop') {
      server.close();
      server.closeAllConnections();
      void pool.end().finally(() => process.exit(0));
    }
  });
  process.on('disconnect', () => process.exit(0));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

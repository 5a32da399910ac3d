import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { recreateDatabase } from '../../db/admin';
import { migrate } from '../../db/migrate';
import { ensureConsoleBuilt } from '../../scripts/build-console';
import { resolveTemporalCli } from '../../temporal/cli';
import { startDevServer, type DevServer } from '../../temporal/dev-server';
import { TEST_ENV } from './env';

declare global {
  var __TEST_DEV_SERVER__: DevServer | undefined;
}

/**
 * Once per `npm test`: a fresh test database, one Temporal dev server (in memory, headless, the
 * platform's search attributes registered) and one workflow bundle. Test files reach them through
 * the environment variables in {@link TEST_ENV}.
 */
export default async function globalSetup(): Promise<void> {
  const databaseUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/airtable_ops_test';
  await recreateDatabase(databaseUrl);
  await migrate(databaseUrl);
  process.env[TEST_ENV.databaseUrl] = databaseUrl;
  // One payload encryption key for the run (temporal/codec.ts): every test file, and every worker
  // and `npm start` they spawn, must read each other's payloads.
  process.env.PAYLOAD_ENCRYPTION_KEYS ??= `test:${randomBytes(32).toString('base64')}`;
  // The web console's bundle (test/console serves it); rebuilt only when its sources changed.
  await ensureConsoleBuilt();

  if (process.env.TEST_SKIP_TEMPORAL === '1') return;

  const cli = await resolveTemporalCli();
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'airtable-ops-test-'));
  const server = await startDevServer({
    cliPath: cli.path,
    port: 0,
    uiPort: false,
    logFile: path.join(workDir, 'temporal.log'),
  });
  globalThis.__TEST_DEV_SERVER__ = server;
  process.env[TEST_ENV.temporalAddress] = server.address;
  process.env[TEST_ENV.temporalCli] = cli.path;

  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} },
  });
  const bundlePath = path.join(workDir, 'workflow-bundle.js');
  writeFileSync(bundlePath, code);
  process.env[TEST_ENV.workflowBundle] = bundlePath;
}

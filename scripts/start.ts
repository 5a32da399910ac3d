import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { loadConfig, PROJECT_ROOT } from '../core/config';
import { createLogger } from '../core/logger';
import { migrate } from '../db/migrate';
import { ensureTemporal } from '../temporal/environment';
import { localCodecToken } from '../temporal/codec';
import { ensureConsoleBuilt } from './build-console';

/**
 * `npm start`: the whole platform on one machine. Starts the Temporal dev server (unless
 * TEMPORAL_ADDRESS is set), applies migrations, then runs the worker and the API as child
 * processes, restarting the worker if it dies. Ctrl-C stops everything in reverse order.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, name: 'start' });
  // The local Web UI shows payloads decrypted, through the API's codec server and a local codec token.
  const codecToken = localCodecToken(config.dataDir);
  const apiHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const temporal = await ensureTemporal(config, logger, {
    uiCodecEndpoint: `http://${apiHost}:${config.port}/codec/t/${codecToken}`,
  });
  await migrate(config.databaseUrl, logger);
  // The web console's bundle, built when missing or older than its sources; without it the API runs on.
  await ensureConsoleBuilt().then(
    ({ built }) => built && logger.info('web console built'),
    (err: unknown) => logger.error({ err }, 'could not build the web console; GET / answers 503'),
  );

  const childEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    CODEC_TOKEN: codecToken,
  };
  let stopping = false;

  // Node itself with tsx as a loader (not the tsx wrapper), so signals reach the component directly.
  const run = (entry: string): ChildProcess =>
    spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, entry)], {
      cwd: PROJECT_ROOT,
      env: childEnv,
      stdio: 'inherit',
    });

  let worker = run('workers/main.ts');
  let restarts = 0;
  const superviseWorker = (child: ChildProcess) =>
    child.once('exit', (code, signal) => {
      if (stopping) return;
      const delay = Math.min(30_000, 1_000 * 2 ** Math.min(restarts++, 5));
      logger.error({ code, signal, restartInMs: delay }, 'worker exited; restarting it');
      setTimeout(() => {
        if (stopping) return;
        worker = run('workers/main.ts');
        superviseWorker(worker);
      }, delay);
    });
  superviseWorker(worker);

  const api = run('api/main.ts');
  api.once('exit', (code) => {
    if (!stopping) {
      logger.error({ code }, 'API exited; stopping the platform');
      void shutdown('api-exit', code ?? 1);
    }
  });

  logger.info(
    {
      api: `http://${config.host}:${config.port}`,
      temporalUi: temporal.uiUrl ?? '(external cluster: use its own UI)',
      temporal: temporal.address,
    },
    'platform starting',
  );
  process.stdout.write(
    `\n  API:             http://${config.host}:${config.port}  (GET /readyz)\n` +
      `  Console:         http://${config.host}:${config.port}/\n` +
      `  Temporal Web UI: ${temporal.uiUrl ?? `external cluster at ${temporal.address}`}\n  Stop with Ctrl-C.\n\n`,
  );

  const exitOf = (child: ChildProcess) =>
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => child.once('exit', () => resolve()));

  async function shutdown(signal: string, exitCode = 0): Promise<void> {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping the platform');
    const forced = setTimeout(() => {
      api.kill('SIGKILL');
      worker.kill('SIGKILL');
    }, 20_000).unref();
    api.kill('SIGTERM');
    worker.kill('SIGTERM');
    await Promise.all([exitOf(api), exitOf(worker)]);
    clearTimeout(forced);
    await temporal.devServer?.stop();
    logger.info('platform stopped');
    process.exit(exitCode);
  }
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

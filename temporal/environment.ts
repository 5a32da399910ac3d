import path from 'node:path';
import type { AppConfig } from '../core/config';
import type { Logger } from '../core/logger';
import { resolveTemporalCli } from './cli';
import { startDevServer, type DevServer } from './dev-server';

/** Where Temporal is, and the dev server if this process started one. */
export interface TemporalEnvironment {
  address: string;
  namespace: string;
  uiUrl?: string;
  devServer?: DevServer;
}

/**
 * `TEMPORAL_ADDRESS` set: use that cluster and start nothing. Unset: run the embedded dev server
 * with its state in `.data/temporal.db`, so a restart finds the workflows of the last run.
 */
export async function ensureTemporal(
  config: AppConfig,
  logger: Logger,
  options: { uiCodecEndpoint?: string } = {},
): Promise<TemporalEnvironment> {
  const { temporal } = config;
  if (temporal.address) return { address: temporal.address, namespace: temporal.namespace };
  const cli = await resolveTemporalCli(logger);
  logger.info({ cli: cli.path, source: cli.source }, 'using the Temporal CLI');
  const devServer = await startDevServer({
    cliPath: cli.path,
    port: temporal.devServerPort,
    uiPort: temporal.uiPort,
    dbFilename: path.join(config.dataDir, 'temporal.db'),
    namespace: temporal.namespace,
    logFile: path.join(config.dataDir, 'temporal-server.log'),
    logger,
    uiCodecEndpoint: options.uiCodecEndpoint,
  });
  return { address: devServer.address, namespace: temporal.namespace, uiUrl: devServer.uiUrl, devServer };
}

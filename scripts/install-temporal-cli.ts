import { createLogger } from '../core/logger';
import { resolveTemporalCli, TEMPORAL_CLI_VERSION } from '../temporal/cli';

/** `npm run temporal:install`: finds or installs the pinned Temporal CLI and prints where it is. */
async function main(): Promise<void> {
  const logger = createLogger({ name: 'temporal-cli' });
  const cli = await resolveTemporalCli(logger);
  logger.info({ path: cli.path, source: cli.source, pinned: TEMPORAL_CLI_VERSION }, 'Temporal CLI ready');
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

import { loadConfig } from '../core/config';
import { createLogger } from '../core/logger';
import { migrate } from '../db/migrate';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, name: 'migrate' });
  const applied = await migrate(config.databaseUrl, logger);
  logger.info({ applied: applied.length }, 'database is up to date');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

import path from 'node:path';
import { escapeIdentifier } from 'pg';
import { runner } from 'node-pg-migrate';
import type { Logger } from '../core/logger';
import { onDatabaseServer } from './admin';

const MIGRATIONS_DIR = path.join(__dirname, 'migrations');

/**
 * Creates the database named in `databaseUrl` when it does not exist yet, by connecting to the
 * server's `postgres` database. Two processes racing here both succeed.
 */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  await onDatabaseServer(databaseUrl, async (admin, name) => {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return;
    await admin.query(`CREATE DATABASE ${escapeIdentifier(name)}`).catch((err: { code?: string }) => {
      if (err.code !== '42P04') throw err; // created meanwhile by another process
    });
  });
}

/**
 * Brings the schema up to date. node-pg-migrate holds an advisory lock while it runs, so the API
 * and worker may both call this at start-up.
 */
export async function migrate(databaseUrl: string, logger?: Logger): Promise<string[]> {
  await ensureDatabase(databaseUrl);
  const applied = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    count: Infinity,
    checkOrder: true,
    // The API and every worker migrate at start; whoever is second waits instead of failing.
    advisoryLockMode: 'wait',
    log: (msg: string) => logger?.debug({ migration: msg }, 'migration'),
  });
  const names = applied.map((m) => m.name);
  if (names.length) logger?.info({ migrations: names }, 'applied database migrations');
  return names;
}

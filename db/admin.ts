import { Client, escapeIdentifier } from 'pg';

/**
 * Runs `work` on a connection to the `postgres` database of the server `databaseUrl` is on, with
 * the name of the database `databaseUrl` names: creating or dropping a database needs a
 * connection to another one.
 */
export async function onDatabaseServer(
  databaseUrl: string,
  work: (admin: Client, name: string) => Promise<void>,
): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!name) throw new Error(`DATABASE_URL names no database: ${url.origin}`);
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await work(admin, name);
  } finally {
    await admin.end();
  }
}

/** Drops the database `databaseUrl` names (cutting its connections) and creates it empty: a run starts clean. */
export async function recreateDatabase(databaseUrl: string): Promise<void> {
  await onDatabaseServer(databaseUrl, async (admin, name) => {
    await admin.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(name)} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${escapeIdentifier(name)}`);
  });
}

/** Drops the database `databaseUrl` names, cutting its connections. */
export async function dropDatabase(databaseUrl: string): Promise<void> {
  await onDatabaseServer(databaseUrl, async (admin, name) => {
    await admin.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(name)} WITH (FORCE)`);
  });
}

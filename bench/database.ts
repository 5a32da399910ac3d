import { Client } from 'pg';

/** Runs `work` on a connection to the `postgres` database of the server `url` names. */
async function onServer(url: string, work: (admin: Client, name: string) => Promise<void>): Promise<void> {
  const admin = new URL(url);
  const name = admin.pathname.slice(1);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await work(client, name);
  } finally {
    await client.end();
  }
}

/** Drops the database `url` names (cutting its connections) and creates it empty: each run starts clean. */
export async function recreateDatabase(url: string): Promise<void> {
  await onServer(url, async (admin, name) => {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${name}"`);
  });
}

/** Drops the database `url` names, cutting its connections. */
export async function dropDatabase(url: string): Promise<void> {
  await onServer(url, async (admin, name) => {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  });
}

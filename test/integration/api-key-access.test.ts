import { randomBytes, randomUUID } from 'node:crypto';
import { createLogger } from '../../core/logger';
import type { NotificationFeed } from '../../db/notifications';
import { createPool, type Pool } from '../../db/pool';
import { listenForApiKeyAccessChanges } from '../../domain/api-keys/access-cache';
import { createApiKeyService } from '../../domain/api-keys/service';
import { insertUser } from '../../domain/users/store';
import {
  getWorkspace,
  insertWorkspaceWithConnection,
  setWorkspaceStatus,
  type Workspace,
} from '../../domain/workspaces/store';
import { eventually, queryCountingPool, type QueryCountingPool } from '../support/helpers';
import { TEST_ENV } from '../support/env';

/**
 * API key checks kept in memory, against the real Postgres: each "process" here is a key service
 * with its own notification connection, as two API processes would have.
 */
describe('API key checks kept between calls', () => {
  const databaseUrl = process.env[TEST_ENV.databaseUrl]!;
  const logger = createLogger({ level: 'silent' });
  let pool: Pool;
  const feeds: NotificationFeed[] = [];
  /** Each process's pool, counting the key lookups it sends to Postgres. */
  const pools = new Map<string, QueryCountingPool>();
  const lookups = (name: string) => pools.get(name)!.count();

  /** An API process's key service, listening for changes on its own connection. */
  async function apiProcess(name: string, hold?: { until?: Promise<void> }) {
    const feed = listenForApiKeyAccessChanges(databaseUrl, logger, {
      applicationName: `test-${name}-${randomUUID().slice(0, 8)}`,
      retryMs: 50,
    });
    feeds.push(feed);
    await eventually(async () => feed.live || undefined, 10_000, 10);
    const counted = queryCountingPool(pool, /FROM api_keys k/, hold);
    pools.set(name, counted);
    return { feed, keys: createApiKeyService({ pool: counted.pool, accessChanges: feed }) };
  }

  /** Resolves with the next notification for `workspaceId` the feed hears. */
  function nextChange(feed: NotificationFeed, workspaceId?: string): Promise<string> {
    return new Promise((resolve) => {
      const stop = feed.subscribe({
        notified: (payload) => {
          if (workspaceId && payload !== workspaceId && payload !== 'marker') return;
          stop();
          resolve(payload);
        },
        reset: () => undefined,
      });
    });
  }

  async function workspaceWithKey(): Promise<{ workspace: Workspace; secret: string; keyId: string }> {
    const userId = randomUUID();
    await insertUser(pool, { id: userId, email: `${userId}@example.com`, name: null, passwordHash: 'x' });
    const id = randomUUID();
    await insertWorkspaceWithConnection(pool, {
      id,
      ownerId: userId,
      name: 'Kept checks',
      baseId: 'appKEPTchecks0001',
      token: 'patKept.0123456789',
      encryptionKey: randomBytes(32),
    });
    await setWorkspaceStatus(pool, id, 'active');
    const workspace = (await getWorkspace(pool, id))!;
    const { apiKey, secret } = await createApiKeyService({ pool }).create(workspace, userId, {
      name: 'agent',
      scopes: ['read'],
    });
    return { workspace, secret, keyId: apiKey.id };
  }

  beforeAll(() => {
    pool = createPool(databaseUrl);
  });
  afterAll(async () => {
    await Promise.all(feeds.map((f) => f.close()));
    await pool.end();
  });

  it('answer a recent check from memory, and refuse a key revoked in another process once that commits', async () => {
    const a = await apiProcess('a');
    const b = await apiProcess('b');
    const { workspace, secret, keyId } = await workspaceWithKey();

    expect((await b.keys.authenticate(secret))?.principal.keyId).toBe(keyId);
    expect((await b.keys.authenticate(secret))?.principal.keyId).toBe(keyId);
    expect(lookups('b')).toBe(1);

    // Revoked through process a: a refuses at once, b once the notification arrives.
    const heard = nextChange(b.feed, workspace.id);
    await a.keys.revoke(workspace, keyId);
    expect(await a.keys.authenticate(secret)).toBeUndefined();
    expect(await heard).toBe(workspace.id);
    expect(await b.keys.authenticate(secret)).toBeUndefined();
    expect(lookups('b')).toBe(2);
  });

  it('check again after a change to the workspace or its connection, not after a key is only used', async () => {
    const c = await apiProcess('c');
    const { workspace, secret } = await workspaceWithKey();
    expect((await c.keys.authenticate(secret))?.workspace.status).toBe('active');

    let heard = nextChange(c.feed, workspace.id);
    await setWorkspaceStatus(pool, workspace.id, 'deprovisioning');
    await heard;
    expect((await c.keys.authenticate(secret))?.workspace.status).toBe('deprovisioning');
    expect(lookups('c')).toBe(2);

    heard = nextChange(c.feed, workspace.id);
    await pool.query(`UPDATE airtable_connections SET token_ciphertext = 'rotated' WHERE workspace_id = $1`, [
      workspace.id,
    ]);
    await heard;
    expect((await c.keys.authenticate(secret))?.connection?.tokenCiphertext).toBe('rotated');
    expect(lookups('c')).toBe(3);

    // Writing when a key was last used notifies nobody: the marker sent after it is heard first.
    heard = nextChange(c.feed, workspace.id);
    await pool.query(`UPDATE api_keys SET last_used_at = now() WHERE workspace_id = $1`, [workspace.id]);
    await pool.query(`SELECT pg_notify('api_key_access_changed', 'marker')`);
    expect(await heard).toBe('marker');
    await c.keys.authenticate(secret);
    expect(lookups('c')).toBe(3);
  });

  it('keep nothing while the notifications are not heard, and keep again once they are', async () => {
    const d = await apiProcess('d');
    const { secret } = await workspaceWithKey();
    await d.keys.authenticate(secret);
    await d.keys.authenticate(secret);
    expect(lookups('d')).toBe(1);

    // The listening connection is cut: what was kept goes, and every check asks Postgres.
    const dropped = new Promise<void>((resolve) => {
      const stop = d.feed.subscribe({ notified: () => undefined, reset: () => (stop(), resolve()) });
    });
    const { rowCount } = await pool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'test-d-%'`,
    );
    expect(rowCount).toBe(1);
    await dropped;
    expect(d.feed.live).toBe(false);
    await d.keys.authenticate(secret);
    await d.keys.authenticate(secret);
    expect(lookups('d')).toBe(3);

    // It comes back on its own; checks are kept again.
    await eventually(async () => d.feed.live || undefined, 10_000, 10);
    await d.keys.authenticate(secret);
    await d.keys.authenticate(secret);
    expect(lookups('d')).toBe(4);
  });

  it('do not keep an answer whose check began before a change', async () => {
    let release!: () => void;
    const hold: { until?: Promise<void> } = {};
    const e = await apiProcess('e', hold);
    const { workspace, secret } = await workspaceWithKey();

    hold.until = new Promise((resolve) => (release = resolve));
    const pending = e.keys.authenticate(secret);
    const heard = nextChange(e.feed, workspace.id);
    await pool.query(`UPDATE workspaces SET name = 'Renamed' WHERE id = $1`, [workspace.id]);
    await heard;
    hold.until = undefined;
    release();
    // The held lookup ran after the rename: its answer is current, but this process cannot know it.
    expect((await pending)?.workspace.name).toBe('Renamed');
    await e.keys.authenticate(secret);
    expect(lookups('e')).toBe(2);
    await e.keys.authenticate(secret);
    expect(lookups('e')).toBe(2);
  });
});

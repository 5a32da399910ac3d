import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Pool } from 'pg';
import { sha256 } from '../../core/crypto';
import { notFound, ServiceError } from '../../core/errors';
import { sharedWhileInFlight } from '../../core/in-flight';
import type { NotificationFeed } from '../../db/notifications';
import type { Workspace } from '../workspaces/store';
import { AccessCache, type AccessCacheOptions } from './access-cache';
import * as store from './store';

export type { ApiKeyScope } from './store';

/** What the API shows of a key: never its secret. */
export interface ApiKeyView {
  id: string;
  name: string;
  scopes: store.ApiKeyScope[];
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** Who is calling with a valid key: one workspace, with the key's scopes. */
export interface ApiKeyPrincipal {
  keyId: string;
  keyName: string;
  workspaceId: string;
  scopes: store.ApiKeyScope[];
}

/**
 * A valid key with what it reaches, read with it in one statement: its workspace as it is now and
 * the workspace's sealed Airtable connection (decrypted only where a tool opens the base).
 */
export interface ApiKeyAccess {
  principal: ApiKeyPrincipal;
  workspace: Workspace;
  connection: { baseId: string; tokenCiphertext: string } | null;
}

/** The recognisable start of every key (secret scanners can look for it). */
export const API_KEY_PREFIX = 'aok_';

/** `aok_<12 hex: the public lookup>_<43 base64url: 32 random bytes>`. */
const KEY_FORMAT = /^aok_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

/** Most keys a workspace may have that are not revoked. */
export const MAX_ACTIVE_KEYS = 100;

/** How stale `lastUsedAt` may get before a request writes it again (one write a minute per key at most). */
const TOUCH_AFTER_MS = 60_000;

function present(key: store.ApiKeyRecord): ApiKeyView {
  return {
    id: key.id,
    name: key.name,
    scopes: key.scopes,
    prefix: key.prefix,
    createdAt: key.createdAt,
    lastUsedAt: key.lastUsedAt,
    revokedAt: key.revokedAt,
  };
}

/** `write` implies `read`; the order is fixed, so `["read","write"]` and `["write"]` are one grant. */
export function normaliseScopes(scopes: readonly store.ApiKeyScope[]): store.ApiKeyScope[] {
  return scopes.includes('write') ? ['read', 'write'] : ['read'];
}

/** What the key service needs. */
export interface ApiKeyServiceDeps {
  pool: Pool;
  /**
   * Postgres's notifications of changes to what keys reach (`api_key_access_changed`). With them,
   * a valid key's answer is kept up to a minute (while the channel is heard); without them, every
   * request is checked against Postgres. @default none: nothing is kept
   */
  accessChanges?: NotificationFeed;
  accessCache?: AccessCacheOptions;
}

/**
 * Workspace API keys: created (the secret shown once, its SHA-256 digest stored), listed without
 * secrets, revoked at once. A request authenticates against Postgres, or against an answer of the
 * last minute that no change has invalidated since (see {@link AccessCache}): a revoked key
 * fails on its very next request in this process, and in the others as the revocation commits.
 */
export function createApiKeyService(deps: ApiKeyServiceDeps) {
  const { pool } = deps;
  const cache = deps.accessChanges && new AccessCache<ApiKeyAccess>(deps.accessChanges, deps.accessCache);
  /** When this process last wrote each key's `lastUsedAt`: a burst of calls writes it once, not per call. */
  const touched = new Map<string, number>();
  /**
   * Checks in flight, by the presented key's digest: calls that arrive while one is being checked
   * share its answer (a burst of 100 calls is one query, not 100 queued on the pool ahead of the
   * calls' own work). A call that arrives after the check has answered starts a new one, so a
   * revocation still counts for every call that arrives after it is committed and checked.
   */
  const checking = sharedWhileInFlight<string, ApiKeyAccess | undefined>();

  async function check(digest: string, lookup: string): Promise<ApiKeyAccess | undefined> {
    const key = await store.findApiKeyByLookup(pool, lookup);
    if (!key) return undefined;
    const expected = Buffer.from(key.secretHash, 'hex');
    const actual = Buffer.from(digest, 'hex');
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return undefined;
    if (key.revokedAt) return undefined;
    const now = Date.now();
    const stale = !key.lastUsedAt || now - key.lastUsedAt.getTime() > TOUCH_AFTER_MS;
    if (stale && now - (touched.get(key.id) ?? 0) > TOUCH_AFTER_MS) {
      touched.set(key.id, now);
      if (touched.size > 10_000) touched.delete(touched.keys().next().value!);
      // Not waited for: when a key was last used is for people to read, not for this call.
      store.touchApiKey(pool, key.id).catch(() => touched.delete(key.id));
    }
    return {
      principal: { keyId: key.id, keyName: key.name, workspaceId: key.workspaceId, scopes: key.scopes },
      workspace: key.workspace,
      connection: key.connection,
    };
  }

  return {
    async create(
      workspace: Workspace,
      userId: string,
      input: { name: string; scopes: store.ApiKeyScope[] },
    ): Promise<{ apiKey: ApiKeyView; secret: string }> {
      if ((await store.countActiveApiKeys(pool, workspace.id)) >= MAX_ACTIVE_KEYS)
        throw new ServiceError(
          409,
          'too_many_api_keys',
          `A workspace may have at most ${MAX_ACTIVE_KEYS} API keys; revoke one first`,
        );
      const lookup = randomBytes(6).toString('hex');
      const secret = `${API_KEY_PREFIX}${lookup}_${randomBytes(32).toString('base64url')}`;
      const key = await store.insertApiKey(pool, {
        id: randomUUID(),
        workspaceId: workspace.id,
        createdBy: userId,
        name: input.name,
        scopes: normaliseScopes(input.scopes),
        lookup,
        secretHash: sha256(secret),
      });
      return { apiKey: present(key), secret };
    },

    async list(workspace: Workspace): Promise<ApiKeyView[]> {
      return (await store.listApiKeys(pool, workspace.id)).map(present);
    },

    /** Revokes a key of the workspace (again is fine); another workspace's key is as missing as none. */
    async revoke(workspace: Workspace, keyId: string): Promise<ApiKeyView> {
      if (!/^[0-9a-f-]{36}$/i.test(keyId)) throw notFound('API key');
      const key = await store.revokeApiKey(pool, workspace.id, keyId);
      if (!key) throw notFound('API key');
      // Not left to the notification: the caller's next request may come before it does.
      cache?.forgetWorkspace(workspace.id);
      return present(key);
    },

    /**
     * What a presented key reaches, or undefined when it is malformed, unknown or revoked. The key is
     * found by its public part, then its digest compared in constant time. A recent answer for
     * the same digest that no change has invalidated is answered from memory.
     */
    async authenticate(presented: string): Promise<ApiKeyAccess | undefined> {
      const match = KEY_FORMAT.exec(presented);
      if (!match) return undefined;
      const digest = sha256(presented);
      const kept = cache?.get(digest);
      if (kept) return kept;
      const began = cache?.begin();
      // Checks begun before a change are not shared with the calls that arrive after it.
      return checking(`${began?.generation ?? 0}:${digest}`, async () => {
        const access = await check(digest, match[1]!);
        if (access && began) cache!.keep(digest, access, began);
        return access;
      });
    },
  };
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;

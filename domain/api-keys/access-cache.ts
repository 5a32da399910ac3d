import type { Logger } from '../../core/logger';
import {
  listenForNotifications,
  type NotificationFeed,
  type NotificationFeedOptions,
} from '../../db/notifications';

/**
 * The channel Postgres notifies (payload: a workspace id) when a key, its workspace or the
 * workspace's Airtable connection changes (triggers of migration 1732350000800).
 */
export const API_KEY_ACCESS_CHANNEL = 'api_key_access_changed';

/** Listens to {@link API_KEY_ACCESS_CHANNEL} on a connection of its own; close it at shutdown. */
export function listenForApiKeyAccessChanges(
  databaseUrl: string,
  logger: Logger,
  options?: NotificationFeedOptions,
): NotificationFeed {
  return listenForNotifications(databaseUrl, API_KEY_ACCESS_CHANNEL, logger, options);
}

/** Options of {@link AccessCache}. */
export interface AccessCacheOptions {
  /**
   * How long an answer is kept at most, notification or not: the bound for a notification lost
   * while the connection seemed well (its heartbeat finds a dead one within 20 s). @default 60000
   */
  maxAgeMs?: number;
  /** @default 10000 */
  maxEntries?: number;
}

/**
 * What valid keys reach, kept up to a minute per presented key so a burst of MCP calls costs one
 * check, and only while the process listens to {@link API_KEY_ACCESS_CHANNEL}: every change to a
 * key, workspace or connection drops that workspace's answers in every process as it commits, and
 * losing the channel drops them all (a change may have gone unheard). An answer whose check began
 * before a drop is not kept: it may predate the change.
 */
export class AccessCache<Access extends { workspace: { id: string } }> {
  private readonly entries = new Map<string, { access: Access; checkedAt: number }>();
  /** Counts the drops: a check that began under another one began before a change. */
  private generation = 0;
  private readonly maxAgeMs: number;
  private readonly maxEntries: number;

  constructor(
    private readonly changes: NotificationFeed,
    options: AccessCacheOptions = {},
  ) {
    this.maxAgeMs = options.maxAgeMs ?? 60_000;
    this.maxEntries = options.maxEntries ?? 10_000;
    changes.subscribe({
      notified: (workspaceId) => this.forgetWorkspace(workspaceId),
      reset: () => this.forgetAll(),
    });
  }

  /** The kept answer for a key's digest, if the channel is heard and the answer is recent. */
  get(digest: string): Access | undefined {
    const entry = this.entries.get(digest);
    if (!entry) return undefined;
    if (this.changes.live && performance.now() - entry.checkedAt < this.maxAgeMs) return entry.access;
    this.entries.delete(digest);
    return undefined;
  }

  /** Marks the start of a check: pass it to {@link keep} with the answer. */
  begin(): { generation: number; at: number } {
    return { generation: this.generation, at: performance.now() };
  }

  /** Keeps a valid key's answer, unless something was dropped since its check began. */
  keep(digest: string, access: Access, check: { generation: number; at: number }): void {
    if (!this.changes.live || check.generation !== this.generation) return;
    this.entries.delete(digest);
    this.entries.set(digest, { access, checkedAt: check.at });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Drops the answers for one workspace (a change to it, its connection or one of its keys). */
  forgetWorkspace(workspaceId: string): void {
    this.generation++;
    for (const [digest, entry] of this.entries)
      if (entry.access.workspace.id === workspaceId) this.entries.delete(digest);
  }

  forgetAll(): void {
    this.generation++;
    this.entries.clear();
  }
}

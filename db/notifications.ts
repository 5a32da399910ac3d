import { Client, escapeIdentifier } from 'pg';
import type { Logger } from '../core/logger';

/** What a subscriber of a {@link NotificationFeed} is told. */
export interface NotificationListener {
  /** One notification's payload. */
  notified(payload: string): void;
  /**
   * The feed was lost or has just been (re)established: notifications may have been missed, so
   * anything kept on their strength is to be dropped.
   */
  reset(): void;
}

/** Postgres notifications on one channel, on a connection of their own that comes back after a loss. */
export interface NotificationFeed {
  /** Whether the channel is being listened to now: only then does a missing notification mean no change. */
  readonly live: boolean;
  /** Tells `listener` about every notification from now on; the returned function stops it. */
  subscribe(listener: NotificationListener): () => void;
  /** Stops listening and closes the connection. */
  close(): Promise<void>;
}

/** Options of {@link listenForNotifications}. */
export interface NotificationFeedOptions {
  /** The first wait before connecting again after a loss; doubled up to `maxRetryMs`. @default 500 */
  retryMs?: number;
  /** @default 15000 */
  maxRetryMs?: number;
  /** How the connection shows in `pg_stat_activity`. @default 'airtable-ops notifications' */
  applicationName?: string;
  /**
   * How often the connection is asked a `SELECT 1` while listening: one that does not answer within
   * `heartbeatMs` counts as lost, so a connection that died silently (no error, no end) is found. @default 10000
   */
  heartbeatMs?: number;
}

/**
 * Listens to `channel` on a connection of its own (a pooled connection would be handed to others
 * and lose the LISTEN). After a loss it connects again, with backoff, for as long as it is open;
 * subscribers are told `reset` on the loss and again once listening resumes.
 */
export function listenForNotifications(
  databaseUrl: string,
  channel: string,
  logger: Logger,
  options: NotificationFeedOptions = {},
): NotificationFeed {
  const retryMs = options.retryMs ?? 500;
  const maxRetryMs = options.maxRetryMs ?? 15_000;
  const listeners = new Set<NotificationListener>();
  let live = false;
  let closed = false;
  let client: Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  let delay = retryMs;
  const heartbeatMs = options.heartbeatMs ?? 10_000;
  let heartbeat: NodeJS.Timeout | undefined;
  const log = logger.child({ component: 'notifications', channel });

  const tell = (each: (listener: NotificationListener) => void) => {
    for (const listener of listeners) each(listener);
  };

  /** Closes a connection no longer used; an 'error' after that has nobody to tell (unhandled, it would end the process). */
  const retire = (current: Client) => {
    current.removeAllListeners();
    current.on('error', () => undefined);
    return current.end().catch(() => undefined);
  };

  const lost = (current: Client, err?: Error) => {
    if (client !== current) return;
    client = undefined;
    const wasLive = live;
    live = false;
    clearInterval(heartbeat);
    void retire(current);
    if (wasLive) tell((l) => l.reset());
    if (closed) return;
    log.warn({ err, retryInMs: delay }, 'lost the notification connection; connecting again');
    retry = setTimeout(connect, delay);
    retry.unref();
    delay = Math.min(delay * 2, maxRetryMs);
  };

  const connect = () => {
    retry = undefined;
    if (closed) return;
    const current = new Client({
      connectionString: databaseUrl,
      keepAlive: true,
      application_name: options.applicationName ?? 'airtable-ops notifications',
    });
    client = current;
    current.on('error', (err) => lost(current, err));
    current.on('end', () => lost(current));
    current.on('notification', (message) => {
      if (message.channel === channel) tell((l) => l.notified(message.payload ?? ''));
    });
    current
      .connect()
      .then(() => current.query(`LISTEN ${escapeIdentifier(channel)}`))
      .then(() => {
        if (client !== current) return;
        live = true;
        delay = retryMs;
        heartbeat = setInterval(() => {
          const answer = current.query('SELECT 1');
          const silent = setTimeout(
            () => lost(current, new Error('no answer to the heartbeat')),
            heartbeatMs,
          );
          answer.then(
            () => clearTimeout(silent),
            (err: Error) => {
              clearTimeout(silent);
              lost(current, err);
            },
          );
        }, heartbeatMs);
        heartbeat.unref();
        // Whatever changed while nobody listened is unknown.
        tell((l) => l.reset());
      })
      .catch((err: Error) => lost(current, err));
  };

  connect();

  return {
    get live() {
      return live;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      clearInterval(heartbeat);
      const current = client;
      client = undefined;
      live = false;
      if (current) await retire(current);
    },
  };
}

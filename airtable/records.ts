import http from 'node:http';
import https from 'node:https';
import Airtable from 'airtable';
import { sha256 } from '../core/crypto';
import { sharedWhileInFlight } from '../core/in-flight';
import { airtableFetch } from './http';
import { AirtableApiError } from './errors';
import { paced, type AirtablePacer, type Readiness } from './pacing';

/** A record as Airtable returns it. */
export interface AirtableRecord {
  id: string;
  createdTime: string;
  fields: Record<string, unknown>;
}

/** Parameters of one page of a listing. */
export interface ListPageParams {
  /** @default 100 (Airtable's maximum) */
  pageSize?: number;
  /** The cursor from the previous page; absent for the first page. */
  offset?: string;
  fields?: string[];
  filterByFormula?: string;
  sort?: Array<{ field: string; direction?: 'asc' | 'desc' }>;
  view?: string;
  returnFieldsByFieldId?: boolean;
}

/** Airtable's batch size for writes. */
export const WRITE_BATCH_SIZE = 10;

/** Options of {@link createAirtableRecords}. */
export interface AirtableRecordsOptions {
  endpointUrl: string;
  token: string;
  baseId: string;
  pacer: AirtablePacer;
  /** @default 30000 */
  timeoutMs?: number;
  /** Aborts waiting and in-flight requests (activity cancellation). */
  signal?: AbortSignal;
}

/** Splits `items` into chunks of at most `size`. */
export function chunk<T>(items: readonly T[], size = WRITE_BATCH_SIZE): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/**
 * Record access for one base through the official client (`noRetryIfRateLimited`, so a 429 comes
 * back to us instead of being retried inside Airtable's 30 s penalty), paced across processes.
 * Upserts go over direct HTTP, because the client drops `createdRecords`/`updatedRecords`.
 * Every method sends exactly one request: chunking and paging are the caller's, so each request
 * can be journaled and each page checkpointed.
 */
export function createAirtableRecords(options: AirtableRecordsOptions) {
  const { baseId, token, pacer, signal } = options;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const base = airtableBase(options.endpointUrl, token, baseId, timeoutMs);

  /** A request through the official client leaves on an idle connection of its agent, opened if need be. */
  const connection: Readiness = {
    ready: () => hasIdleConnection(options.endpointUrl),
    prepare: () => openConnection(options.endpointUrl),
  };

  /**
   * Paces, sends, and turns any failure into an AirtableApiError (penalizing the base on a 429).
   * `viaClient`: the request goes through the official client, whose connections
   * {@link hasIdleConnection} can see.
   */
  async function send<T>(operation: string, request: () => Promise<T>, viaClient = true): Promise<T> {
    return paced(
      pacer,
      baseId,
      token,
      signal,
      async (start) => {
        // On an open connection the request leaves at once; a new one would first have to connect.
        const leavesNow = viaClient && hasIdleConnection(options.endpointUrl);
        try {
          const response = request();
          if (leavesNow) start.left();
          return await response;
        } catch (err) {
          throw toApiError(err);
        }
      },
      viaClient ? connection : undefined,
      operation,
    );
  }

  const tablePath = (table: string) => `/${encodeURIComponent(table)}`;

  return {
    /** One page of records; `offset` in the answer means more remain. */
    async listPage(
      table: string,
      params: ListPageParams = {},
    ): Promise<{ records: AirtableRecord[]; offset?: string }> {
      const body: Record<string, unknown> = { pageSize: params.pageSize ?? 100 };
      if (params.offset) body.offset = params.offset;
      if (params.fields) body.fields = params.fields;
      if (params.filterByFormula) body.filterByFormula = params.filterByFormula;
      if (params.sort) body.sort = params.sort;
      if (params.view) body.view = params.view;
      if (params.returnFieldsByFieldId) body.returnFieldsByFieldId = true;
      // The POST variant: long formulas and field lists never hit the 16,000-character URL limit.
      const response = await send('list_records', () =>
        base.makeRequest({ method: 'POST', path: `${tablePath(table)}/listRecords`, body }),
      );
      return response.body as { records: AirtableRecord[]; offset?: string };
    },

    /** Creates up to 10 records in one request. */
    async create(
      table: string,
      records: Array<{ fields: Record<string, unknown> }>,
      typecast = false,
    ): Promise<AirtableRecord[]> {
      assertBatch(records.length);
      const response = await send('create_records', () =>
        base.makeRequest({ method: 'POST', path: tablePath(table), body: { records, typecast } }),
      );
      return (response.body as { records: AirtableRecord[] }).records;
    },

    /** Updates up to 10 records; `replace` clears every field not sent (PUT). */
    async update(
      table: string,
      records: Array<{ id: string; fields: Record<string, unknown> }>,
      options: { typecast?: boolean; replace?: boolean } = {},
    ): Promise<AirtableRecord[]> {
      assertBatch(records.length);
      const response = await send('update_records', () =>
        base.makeRequest({
          method: options.replace ? 'PUT' : 'PATCH',
          path: tablePath(table),
          body: { records, typecast: options.typecast ?? false },
        }),
      );
      return (response.body as { records: AirtableRecord[] }).records;
    },

    /** Upserts up to 10 records matched on `fieldsToMergeOn` (1–3 fields). */
    async upsert(
      table: string,
      records: Array<{ fields: Record<string, unknown> }>,
      fieldsToMergeOn: string[],
      typecast = false,
    ): Promise<{ records: AirtableRecord[]; createdRecords: string[]; updatedRecords: string[] }> {
      assertBatch(records.length);
      return send(
        'upsert_records',
        () =>
          airtableFetch(
            { endpointUrl: options.endpointUrl, token, timeoutMs, signal },
            'PATCH',
            `/v0/${encodeURIComponent(baseId)}${tablePath(table)}`,
            { records, typecast, performUpsert: { fieldsToMergeOn } },
          ),
        false,
      );
    },

    /** Deletes up to 10 records by id. */
    async destroy(table: string, ids: string[]): Promise<string[]> {
      assertBatch(ids.length);
      const response = await send('delete_records', () =>
        base.makeRequest({ method: 'DELETE', path: tablePath(table), qs: { records: ids } }),
      );
      return (response.body as { records: Array<{ id: string }> }).records.map((r) => r.id);
    },
  };
}

export type AirtableRecords = ReturnType<typeof createAirtableRecords>;

// One client per (endpoint, token, base, timeout) for the life of the process: a fresh client's first
// request is slower (connection and lazy set-up), and that delay between the paced start and the
// arrival at Airtable is exactly what could squeeze six requests into one second.
const clients = new Map<string, ReturnType<Airtable['base']>>();
function airtableBase(endpointUrl: string, token: string, baseId: string, timeoutMs: number) {
  const key = JSON.stringify([endpointUrl, sha256(token), baseId, timeoutMs]);
  let base = clients.get(key);
  if (!base) {
    base = new Airtable({
      apiKey: token,
      endpointUrl,
      requestTimeout: timeoutMs,
      noRetryIfRateLimited: true,
    }).base(baseId);
    if (clients.size > 1000) clients.delete(clients.keys().next().value!);
    clients.set(key, base);
  }
  return base;
}

/**
 * Whether the client's HTTP agent (node-fetch uses Node's global agent) holds an idle keep-alive
 * connection to `endpointUrl`, which the next request will take.
 */
function hasIdleConnection(endpointUrl: string): boolean {
  const url = new URL(endpointUrl);
  const secure = url.protocol === 'https:';
  const agent = secure ? https.globalAgent : http.globalAgent;
  const name = agent.getName({ host: url.hostname, port: Number(url.port) || (secure ? 443 : 80) });
  return agent.freeSockets[name]?.some((socket) => !socket.destroyed) ?? false;
}

/**
 * Opens a connection to `endpointUrl` in the client's agent, where it stays idle for the next
 * request: a request Airtable refuses (a made-up token, `/v0/meta/whoami`: outside any base) counts
 * against nothing. The first one of a process also takes the client's lazy set-up out of the paced path.
 */
function openConnection(endpointUrl: string): Promise<void> {
  // Requests that find no idle connection at once (a burst after a quiet spell) share one opening:
  // a hundred warm-up requests would only queue the burst's first starts behind them.
  return opening(endpointUrl, () =>
    airtableBase(endpointUrl, 'warm-up', 'meta', 10_000)
      .makeRequest({ method: 'GET', path: '/whoami' })
      .then(
        () => undefined,
        () => undefined,
      ),
  );
}

/** Connections being opened, by endpoint. */
const opening = sharedWhileInFlight<string, void>();

function assertBatch(size: number): void {
  if (size < 1 || size > WRITE_BATCH_SIZE)
    throw new RangeError(`A write request takes 1 to ${WRITE_BATCH_SIZE} records, not ${size}`);
}

/** The client's AirtableError (and our own) as one error type with the HTTP status. */
function toApiError(err: unknown): AirtableApiError {
  if (err instanceof AirtableApiError) return err;
  const e = err as { statusCode?: number; error?: string; message?: string };
  if (typeof e?.statusCode === 'number') return new AirtableApiError(e.statusCode, e.error, e.message ?? '');
  return new AirtableApiError(0, undefined, err instanceof Error ? err.message : String(err));
}

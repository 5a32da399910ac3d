import { createHash, randomInt } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RecordReader, collaboratorForToken } from './cells';
import { createComment, deleteComment, listComments, updateComment, type CommentCall } from './comments';
import { buildDemoSeed } from './demo';
import { ApiError, errors, typedError } from './errors';
import { RateLimiter } from './limits';
import {
  createField,
  createTable,
  getBaseSchema,
  listBases,
  updateField,
  updateTable,
  type MetaCall,
} from './meta';
import { IdFactory, SeededRandom } from './random';
import {
  ListIterators,
  createRecords,
  deleteRecord,
  deleteRecords,
  getRecord,
  listParamsFromBody,
  listParamsFromQuery,
  listRecords,
  renderRecord,
  updateRecord,
  updateRecords,
  type RecordCall,
} from './records';
import { loadSeed, restoreState, serializeState, type PersistedState } from './seed';
import { EmulatorStore, type BaseState, type Collaborator, type TableState } from './store';
import type {
  EmulatorFaultRule,
  EmulatorFaults,
  EmulatorLatency,
  EmulatorOperation,
  EmulatorLimits,
  EmulatorRecord,
  EmulatorRequestLogEntry,
  EmulatorSeed,
  EmulatorTokenGrant,
  EmulatorUiActor,
  EmulatorUiEdit,
  EmulatorUiEditResult,
  EmulatorUiFieldChange,
  EmulatorWebhook,
  EmulatorWebhookOptions,
  WebhookErrorCode,
} from './types';
import { uiDeleteField, uiDeleteTable, uiEditRecords, uiUpdateField, type UiCall } from './ui';
import {
  ACTION_SOURCES,
  DEFAULT_MAX_RECORDS_PER_PAYLOAD,
  WebhookRegistry,
  type PersistedWebhooks,
} from './webhooks';

/** How to start an emulator. */
export interface AirtableEmulatorOptions {
  /** @default 0 (a free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /**
   * Accepted tokens. A string token sees every base; `{token, bases}` sees only those base ids.
   * @default one generated token `pat…` (printed by the CLI)
   */
  tokens?: EmulatorTokenGrant[];
  /** @default the generated demo base ({@link buildDemoSeed}) */
  seed?: EmulatorSeed;
  /** Real Airtable limits, on by default. @default { enabled: true, perBasePerSecond: 5, perTokenPerSecond: 50, penaltyMs: 30000 } */
  limits?: EmulatorLimits;
  /** Added to every answer: a fixed ms value or a [min, max] range (uniform). @default 0 */
  latencyMs?: EmulatorLatency;
  /** @default no faults */
  faults?: EmulatorFaults;
  /**
   * Load state from this JSON file when it exists (the seed is then ignored), and save state to it
   * after every write (debounced) and on close.
   * @default no persistence
   */
  persistPath?: string;
  /** Deterministic RNG seed for faults, latency, generated ids and the generated token. @default random */
  randomSeed?: number;
  /** Largest accepted request body; bigger ones get 413. @default 2097152 (2 MiB) */
  maxBodyBytes?: number;
  /** Webhook knobs (payload splitting, notification pings). */
  webhooks?: EmulatorWebhookOptions;
}

/** A running emulator. */
export interface AirtableEmulator {
  /** e.g. `http://127.0.0.1:54321`, for `endpointUrl` / `AIRTABLE_ENDPOINT_URL`. */
  readonly url: string;
  readonly port: number;
  /** Every accepted token. */
  readonly tokens: string[];
  /** The seed actually used for the RNG (log it to replay a run). */
  readonly randomSeed: number;
  /** Answered and dropped API requests, oldest first (the last 50,000). */
  readonly requestLog: ReadonlyArray<EmulatorRequestLogEntry>;
  clearRequestLog(): void;
  /** Replaces the injected faults. */
  setFaults(faults: EmulatorFaults): void;
  /** Replaces the limits (unset values take the defaults) and forgets counts and penalties. */
  setLimits(limits: EmulatorLimits): void;
  setLatency(latency: EmulatorLatency): void;
  /** Direct state access for tests: a table's records as the API shows them (JSON cells, by name). */
  listRecords(baseId: string, tableIdOrName: string): EmulatorRecord[];
  /** The emulator's clock (epoch ms): real time plus whatever {@link advanceTime} added. */
  now(): number;
  /**
   * Moves the emulator's clock forward (webhook expiry, payload pruning, record times); returns the
   * new time. The rate limiter and the request log keep real time.
   */
  advanceTime(ms: number): number;
  /** A base's webhooks with every payload they keep (does not extend their life). */
  webhooks(baseId: string): EmulatorWebhook[];
  /**
   * Appends an error payload `{error: true, code}` to a webhook; `disable` (default: true, except for
   * `INTERNAL_ERROR`) turns the hook off (`isHookEnabled: false`).
   */
  injectWebhookError(
    baseId: string,
    webhookId: string,
    code: WebhookErrorCode,
    options?: { disable?: boolean },
  ): EmulatorWebhook;
  /** Replaces the webhook knobs (unset ones take their defaults). */
  setWebhookOptions(options: EmulatorWebhookOptions): void;
  /** Record edits as a user in the UI makes them: one action (source `client`), any number of records. */
  uiEdit(baseId: string, tableIdOrName: string, edits: EmulatorUiEdit): EmulatorUiEditResult;
  /** Creates a field from the UI (as the meta API would, source `client`); returns the field. */
  uiCreateField(
    baseId: string,
    tableIdOrName: string,
    field: {
      name: string;
      type: string;
      description?: string;
      options?: Record<string, unknown>;
    } & EmulatorUiActor,
  ): Record<string, unknown>;
  /** Renames, describes, re-options or retypes a field from the UI; returns the field. */
  uiUpdateField(
    baseId: string,
    tableIdOrName: string,
    fieldIdOrName: string,
    change: EmulatorUiFieldChange,
  ): Record<string, unknown>;
  /** Deletes a field from the UI (the Web API cannot). */
  uiDeleteField(
    baseId: string,
    tableIdOrName: string,
    fieldIdOrName: string,
    actor?: EmulatorUiActor,
  ): { id: string; deleted: true };
  /** Creates a table from the UI (as the meta API would, source `client`); returns the table. */
  uiCreateTable(
    baseId: string,
    table: { name: string; description?: string; fields: unknown[] } & EmulatorUiActor,
  ): Record<string, unknown>;
  /** Renames or describes a table from the UI; returns the table. */
  uiUpdateTable(
    baseId: string,
    tableIdOrName: string,
    change: { name?: string; description?: string } & EmulatorUiActor,
  ): Record<string, unknown>;
  /** Deletes a table and its records from the UI (the Web API cannot). */
  uiDeleteTable(
    baseId: string,
    tableIdOrName: string,
    actor?: EmulatorUiActor,
  ): { id: string; deleted: true };
  /** Stops listening, cuts open connections and writes the state file. */
  close(): Promise<void>;
}

export const URL_LENGTH_LIMIT = 16_000;
const DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024;
const REQUEST_LOG_CAP = 50_000;
const SAVE_DEBOUNCE_MS = 100;

/** The state file: the store, plus the webhooks and the clock. */
type SavedState = PersistedState & { webhooks?: PersistedWebhooks; clockOffsetMs?: number };

interface TokenEntry {
  token: string;
  bases: Set<string> | null;
  label: string;
  user: Collaborator;
}

interface Answer {
  status: number;
  body?: unknown;
}

function tokenLabel(token: string): string {
  return `tok_${createHash('sha256').update(token).digest('hex').slice(0, 8)}`;
}

function checkRate(value: unknown, name: string): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1))
    throw new TypeError(`${name} must be a number from 0 to 1`);
  return value;
}

type ActiveFaults = Required<Omit<EmulatorFaults, 'rules'>> & { rules: Array<Required<EmulatorFaultRule>> };

const OPERATIONS = new Set<EmulatorOperation>([
  'list',
  'get',
  'create',
  'update',
  'upsert',
  'delete',
  'meta',
  'comment',
  'webhook',
]);

function normalizeFaults(faults: EmulatorFaults): ActiveFaults {
  if (typeof faults !== 'object' || faults === null) throw new TypeError('faults must be an object');
  const slowMs = faults.slowMs ?? 10_000;
  if (typeof slowMs !== 'number' || !(slowMs >= 0)) throw new TypeError('slowMs must be a number >= 0');
  if (faults.rules !== undefined && !Array.isArray(faults.rules))
    throw new TypeError('rules must be an array');
  return {
    serverErrorRate: checkRate(faults.serverErrorRate, 'serverErrorRate'),
    rateLimitRate: checkRate(faults.rateLimitRate, 'rateLimitRate'),
    slowRate: checkRate(faults.slowRate, 'slowRate'),
    dropRate: checkRate(faults.dropRate, 'dropRate'),
    slowMs,
    rules: (faults.rules ?? []).map(normalizeFaultRule),
  };
}

function normalizeFaultRule(rule: EmulatorFaultRule): Required<EmulatorFaultRule> {
  if (typeof rule !== 'object' || rule === null) throw new TypeError('each rule must be an object');
  const count = (value: unknown, name: string, fallback: number) => {
    if (value === undefined) return fallback;
    if (!Number.isInteger(value) || (value as number) < 0)
      throw new TypeError(`${name} must be an integer >= 0`);
    return value as number;
  };
  if (rule.operation !== undefined && !OPERATIONS.has(rule.operation))
    throw new TypeError(`operation must be one of ${[...OPERATIONS].join(', ')}`);
  if (rule.effect !== undefined && rule.effect !== 'error' && rule.effect !== 'drop')
    throw new TypeError('effect must be "error" or "drop"');
  const status = count(rule.status, 'status', 422);
  if (status < 400 || status > 599) throw new TypeError('status must be from 400 to 599');
  return {
    operation: rule.operation ?? ('' as EmulatorOperation),
    table: typeof rule.table === 'string' ? rule.table : '',
    skip: count(rule.skip, 'skip', 0),
    times: count(rule.times, 'times', 1),
    effect: rule.effect ?? 'error',
    status,
    type:
      typeof rule.type === 'string' ? rule.type : status >= 500 ? 'SERVER_ERROR' : 'INVALID_VALUE_FOR_COLUMN',
    message: typeof rule.message === 'string' ? rule.message : 'Injected fault',
    matched: 0,
  };
}

/** The operation a record or meta request performs, as fault rules name it. */
function operationOf(method: string, segments: string[], body: unknown): EmulatorOperation {
  if (segments[1] === 'meta') return 'meta';
  if (segments[1] === 'bases') return 'webhook';
  if (segments[4] === 'comments') return 'comment';
  if (method === 'GET') return segments.length > 3 ? 'get' : 'list';
  if (method === 'POST') return segments[3] === 'listRecords' ? 'list' : 'create';
  if (method === 'DELETE') return 'delete';
  const upsert = typeof body === 'object' && body !== null && 'performUpsert' in body;
  return upsert ? 'upsert' : 'update';
}

function normalizeLatency(latency: unknown): EmulatorLatency {
  if (typeof latency === 'number' && latency >= 0) return latency;
  if (Array.isArray(latency) && latency.length === 2) {
    const [min, max] = latency as unknown[];
    if (typeof min === 'number' && typeof max === 'number' && min >= 0 && max >= min) return [min, max];
  }
  throw new TypeError('latency is a number of ms >= 0 or a [min, max] range');
}

function normalizeLimits(limits: unknown): EmulatorLimits {
  if (typeof limits !== 'object' || limits === null || Array.isArray(limits))
    throw new TypeError('limits must be an object');
  const { enabled, perBasePerSecond, perTokenPerSecond, penaltyMs } = limits as EmulatorLimits;
  if (enabled !== undefined && typeof enabled !== 'boolean') throw new TypeError('enabled must be a boolean');
  for (const [name, value] of Object.entries({ perBasePerSecond, perTokenPerSecond, penaltyMs })) {
    if (value !== undefined && (typeof value !== 'number' || !(value >= 0)))
      throw new TypeError(`${name} must be a number >= 0`);
  }
  return { enabled, perBasePerSecond, perTokenPerSecond, penaltyMs };
}

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** A user as `actionMetadata.sourceMetadata.user` shows it. */
function userMetadata(user: Collaborator): Record<string, unknown> {
  return { user: { id: user.id, email: user.email, permissionLevel: 'create', name: user.name } };
}

function normalizeWebhookOptions(options: unknown): { maxRecordsPerPayload: number; sendPings: boolean } {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new TypeError('webhook options must be an object');
  const { maxRecordsPerPayload, sendPings } = options as EmulatorWebhookOptions;
  if (
    maxRecordsPerPayload !== undefined &&
    (!Number.isInteger(maxRecordsPerPayload) || (maxRecordsPerPayload as number) < 1)
  )
    throw new TypeError('maxRecordsPerPayload must be an integer >= 1');
  if (sendPings !== undefined && typeof sendPings !== 'boolean')
    throw new TypeError('sendPings must be a boolean');
  return {
    maxRecordsPerPayload: maxRecordsPerPayload ?? DEFAULT_MAX_RECORDS_PER_PAYLOAD,
    sendPings: sendPings ?? true,
  };
}

function generateToken(random: SeededRandom): string {
  let hex = '';
  for (let i = 0; i < 64; i++) hex += '0123456789abcdef'[random.int(0, 15)];
  return `pat${random.chars(14)}.${hex}`;
}

/** Starts an Airtable Web API emulator on loopback. */
export async function startAirtableEmulator(
  options: AirtableEmulatorOptions = {},
): Promise<AirtableEmulator> {
  const randomSeed = options.randomSeed ?? randomInt(0, 2 ** 31);
  const idRandom = new SeededRandom(randomSeed);
  const faultRandom = new SeededRandom(randomSeed ^ 0x5bd1e995);
  const latencyRandom = new SeededRandom(randomSeed ^ 0x27d4eb2f);
  const tokenRandom = new SeededRandom(randomSeed ^ 0x165667b1);
  const webhookRandom = new SeededRandom(randomSeed ^ 0x2545f491);

  const grants: EmulatorTokenGrant[] =
    options.tokens && options.tokens.length > 0 ? options.tokens : [generateToken(tokenRandom)];
  const tokens = new Map<string, TokenEntry>();
  for (const grant of grants) {
    const token = typeof grant === 'string' ? grant : grant.token;
    if (typeof token !== 'string' || token === '')
      throw new TypeError('every token must be a non-empty string');
    tokens.set(token, {
      token,
      bases: typeof grant === 'string' ? null : new Set(grant.bases),
      label: tokenLabel(token),
      user: collaboratorForToken(token),
    });
  }

  const store = new EmulatorStore(new IdFactory(idRandom));
  const seedUser = collaboratorForToken([...tokens.keys()][0]!);
  // The emulator's clock: real time plus what advanceTime() added (webhook expiry and pruning).
  let clockOffsetMs = 0;
  const now = (): number => Date.now() + clockOffsetMs;
  let scheduleSave: () => void = () => {};
  const webhookOptions = normalizeWebhookOptions(options.webhooks ?? {});
  const webhooks = new WebhookRegistry({
    store,
    ids: store.ids,
    random: webhookRandom,
    now,
    ...webhookOptions,
    onChange: () => scheduleSave(),
  });
  store.onCommit = (txn, action) => webhooks.commit(txn, action);
  store.onSchemaWillChange = (txn, action) => webhooks.schemaWillChange(txn, action);
  const startedAt = Date.now();
  if (options.persistPath && existsSync(options.persistPath)) {
    const saved = JSON.parse(readFileSync(options.persistPath, 'utf8')) as SavedState;
    restoreState(store, saved);
    webhooks.restore(saved.webhooks);
    if (typeof saved.clockOffsetMs === 'number') clockOffsetMs = saved.clockOffsetMs;
  } else {
    loadSeed(store, options.seed ?? buildDemoSeed(), startedAt, seedUser);
  }

  const limiter = new RateLimiter(options.limits ? normalizeLimits(options.limits) : {});
  let faults = normalizeFaults(options.faults ?? {});
  let latency = normalizeLatency(options.latencyMs ?? 0);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const iterators = new ListIterators(store.ids);
  const requestLog: EmulatorRequestLogEntry[] = [];
  const sleepers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  let closed = false;

  // Persistence: writes are coalesced, and the file is replaced atomically.
  let saveTimer: NodeJS.Timeout | undefined;
  const saveNow = (): void => {
    if (!options.persistPath) return;
    if (saveTimer) clearTimeout(saveTimer);
    saveTimer = undefined;
    const temporary = `${options.persistPath}.${process.pid}.tmp`;
    const state: SavedState = { ...serializeState(store), webhooks: webhooks.serialize(), clockOffsetMs };
    writeFileSync(temporary, JSON.stringify(state));
    renameSync(temporary, options.persistPath);
  };
  if (options.persistPath) {
    scheduleSave = () => {
      if (!saveTimer && !closed) saveTimer = setTimeout(saveNow, SAVE_DEBOUNCE_MS);
    };
    store.onChange = scheduleSave;
    saveNow();
  }

  const sleep = (ms: number): Promise<void> =>
    ms <= 0
      ? Promise.resolve()
      : new Promise((resolve) => {
          const sleeper = {
            timer: setTimeout(() => {
              sleepers.delete(sleeper);
              resolve();
            }, ms),
            resolve,
          };
          sleepers.add(sleeper);
        });

  const drawLatency = (): number => {
    if (typeof latency === 'number') return latency;
    const [min, max] = latency;
    return min + latencyRandom.next() * (max - min);
  };

  const canSee = (entry: TokenEntry, baseId: string): boolean =>
    entry.bases === null || entry.bases.has(baseId);

  function readBody(req: IncomingMessage): Promise<{ text: string } | { tooLarge: true }> {
    return new Promise((resolve, reject) => {
      const declared = Number(req.headers['content-length'] ?? 0);
      let size = 0;
      let tooLarge = declared > maxBodyBytes;
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBodyBytes) tooLarge = true;
        if (!tooLarge) chunks.push(chunk);
      });
      req.on('end', () =>
        resolve(tooLarge ? { tooLarge: true } : { text: Buffer.concat(chunks).toString('utf8') }),
      );
      req.on('error', reject);
    });
  }

  function baseFor(entry: TokenEntry, baseId: string): BaseState {
    const base = store.bases.get(baseId);
    if (!base || !canSee(entry, baseId)) throw errors.permissionOrModelNotFound();
    return base;
  }

  /**
   * Who a comment may mention: the users of the tokens that see the base, and every collaborator
   * the base shows (record creators and editors, collaborator cells, comment authors).
   */
  function baseUsers(base: BaseState): Collaborator[] {
    const users: Collaborator[] = [];
    for (const entry of tokens.values()) if (canSee(entry, base.id)) users.push(entry.user);
    const collaboratorFields = new Set<string>();
    for (const table of base.tables)
      for (const field of table.fields)
        if (field.type === 'singleCollaborator' || field.type === 'multipleCollaborators')
          collaboratorFields.add(field.id);
    const add = (value: unknown): void => {
      if (Array.isArray(value)) for (const item of value) add(item);
      else if (typeof value === 'object' && value !== null) {
        const { id, email, name } = value as Partial<Collaborator>;
        if (typeof id === 'string' && typeof email === 'string')
          users.push({ id, email, name: typeof name === 'string' ? name : email });
      }
    };
    for (const record of base.records.values()) {
      users.push(record.createdBy);
      if (record.lastModifiedBy) users.push(record.lastModifiedBy);
      for (const fieldId of collaboratorFields) add(record.cells[fieldId]);
      for (const comment of record.comments) users.push(comment.author);
    }
    return users;
  }

  /** A listing's answer, once its records are found. */
  async function listing(records: Promise<{ records: unknown[]; offset?: string }>): Promise<Answer> {
    return { status: 200, body: await records };
  }

  function route(
    method: string,
    segments: string[],
    query: URLSearchParams,
    body: unknown,
    entry: TokenEntry,
    now: number,
  ): Answer | Promise<Answer> {
    if (segments[0] !== 'v0') throw errors.recordNotFound();
    if (segments[1] === 'meta') return routeMeta(method, segments.slice(2), query, body, entry);
    if (segments[1] === 'bases') return routeWebhooks(method, segments.slice(2), query, body, entry);
    const [, baseId, tableName, recordId, ...rest] = segments;
    if (!baseId || !tableName) throw errors.recordNotFound();
    if (rest.length > 0 && (rest[0] !== 'comments' || rest.length > 2)) throw errors.recordNotFound();
    const base = baseFor(entry, baseId);
    const table = store.findTable(base, tableName);
    if (!table) throw errors.permissionOrModelNotFound();
    if (rest.length > 0) {
      const commentCall: CommentCall = {
        store,
        base,
        table,
        user: entry.user,
        now,
        query,
        body,
        users: () => baseUsers(base),
      };
      const commentId = rest[1];
      const answer = (value: unknown): Answer => ({ status: 200, body: value });
      if (commentId === undefined && method === 'GET') return answer(listComments(commentCall, recordId!));
      if (commentId === undefined && method === 'POST') return answer(createComment(commentCall, recordId!));
      if (commentId !== undefined && method === 'PATCH')
        return answer(updateComment(commentCall, recordId!, commentId));
      if (commentId !== undefined && method === 'DELETE')
        return answer(deleteComment(commentCall, recordId!, commentId));
      throw errors.recordNotFound();
    }
    const call: RecordCall = { store, base, table, user: entry.user, now, query, body };
    if (recordId === undefined) {
      switch (method) {
        case 'GET':
          return listing(listRecords(call, listParamsFromQuery(query), iterators));
        case 'POST':
          return { status: 200, body: createRecords(call) };
        case 'PATCH':
          return { status: 200, body: updateRecords(call, false) };
        case 'PUT':
          return { status: 200, body: updateRecords(call, true) };
        case 'DELETE':
          return { status: 200, body: deleteRecords(call) };
        default:
          throw errors.recordNotFound();
      }
    }
    if (recordId === 'listRecords' && method === 'POST') {
      return listing(listRecords(call, listParamsFromBody(body, query), iterators));
    }
    switch (method) {
      case 'GET':
        return { status: 200, body: getRecord(call, recordId) };
      case 'PATCH':
        return { status: 200, body: updateRecord(call, recordId, false) };
      case 'PUT':
        return { status: 200, body: updateRecord(call, recordId, true) };
      case 'DELETE':
        return { status: 200, body: deleteRecord(call, recordId) };
      default:
        throw errors.recordNotFound();
    }
  }

  /** `/v0/bases/{baseId}/webhooks[/{webhookId}[/refresh|/payloads]]`. */
  function routeWebhooks(
    method: string,
    segments: string[],
    query: URLSearchParams,
    body: unknown,
    entry: TokenEntry,
  ): Answer {
    const [baseId, resource, webhookId, action, ...rest] = segments;
    if (!baseId || resource !== 'webhooks' || rest.length > 0) throw errors.metaNotFound();
    const base = baseFor(entry, baseId);
    const ok = (value: unknown): Answer => ({ status: 200, body: value });
    if (webhookId === undefined) {
      if (method === 'GET') return ok(webhooks.list(base));
      if (method === 'POST') return ok(webhooks.create(base, body));
      throw errors.metaNotFound();
    }
    if (action === undefined && method === 'DELETE') return ok(webhooks.remove(base, webhookId));
    if (action === 'refresh' && method === 'POST') return ok(webhooks.refresh(base, webhookId));
    if (action === 'payloads' && method === 'GET') return ok(webhooks.listPayloads(base, webhookId, query));
    throw errors.metaNotFound();
  }

  function routeMeta(
    method: string,
    segments: string[],
    query: URLSearchParams,
    body: unknown,
    entry: TokenEntry,
  ): Answer {
    const call: MetaCall = { store, query, body };
    if (segments.length === 1 && segments[0] === 'whoami' && method === 'GET') {
      return {
        status: 200,
        body: {
          id: entry.user.id,
          email: entry.user.email,
          scopes: [
            'data.records:read',
            'data.records:write',
            'data.recordComments:read',
            'data.recordComments:write',
            'schema.bases:read',
            'schema.bases:write',
            'webhook:manage',
          ],
        },
      };
    }
    if (segments[0] !== 'bases') throw errors.metaNotFound();
    if (segments.length === 1) {
      if (method !== 'GET') throw errors.metaNotFound();
      return { status: 200, body: listBases(call, (id) => canSee(entry, id)) };
    }
    const base = baseFor(entry, segments[1]!);
    const [, , tables, tableRef, fields, fieldId, ...rest] = segments;
    if (tables !== 'tables' || rest.length > 0) throw errors.metaNotFound();
    if (tableRef === undefined) {
      if (method === 'GET') return { status: 200, body: getBaseSchema(call, base) };
      if (method === 'POST') return { status: 200, body: createTable(call, base) };
      throw errors.metaNotFound();
    }
    const table = store.findTable(base, tableRef);
    if (fields === undefined) {
      // There is no endpoint to delete a table: DELETE falls through to "no such route".
      if (method !== 'PATCH') throw errors.metaNotFound();
      if (!table) throw errors.permissionOrModelNotFound();
      return { status: 200, body: updateTable(call, base, table) };
    }
    if (fields !== 'fields') throw errors.metaNotFound();
    if (fieldId === undefined) {
      if (method !== 'POST') throw errors.metaNotFound();
      if (!table) throw errors.permissionOrModelNotFound();
      return { status: 200, body: createField(call, base, table) };
    }
    // Nor to delete a field.
    if (method !== 'PATCH') throw errors.metaNotFound();
    if (!table) throw errors.permissionOrModelNotFound();
    const field = table.fields.find((f) => f.id === fieldId);
    if (!field) throw errors.permissionOrModelNotFound();
    return { status: 200, body: updateField(call, table, field) };
  }

  /** The first fault rule that fires for this request, counting it against every rule it matches. */
  function matchFaultRule(method: string, segments: string[], body: unknown) {
    if (faults.rules.length === 0) return undefined;
    const operation = operationOf(method, segments, body);
    const base = segments[1] === 'meta' ? undefined : store.bases.get(segments[1] ?? '');
    const table = base && segments[2] ? store.findTable(base, segments[2]) : undefined;
    let fired: Required<EmulatorFaultRule> | undefined;
    for (const rule of faults.rules) {
      if (rule.operation && rule.operation !== operation) continue;
      if (rule.table && rule.table !== table?.id && rule.table !== table?.name) continue;
      const seen = rule.matched;
      (rule as { matched: number }).matched = seen + 1;
      if (!fired && seen >= rule.skip && seen < rule.skip + rule.times) fired = rule;
    }
    return fired;
  }

  /** Everything between arrival and answer for `/v0/…`; returns the answer and whether to drop it. */
  async function processApiRequest(
    req: IncomingMessage,
    arrivedAt: number,
    log: Partial<EmulatorRequestLogEntry>,
  ): Promise<Answer & { drop?: boolean }> {
    const rawUrl = req.url ?? '/';
    const fullLength = `http://${req.headers.host ?? ''}${rawUrl}`.length;
    const bodyPromise = readBody(req);
    if (fullLength >= URL_LENGTH_LIMIT) return { status: 414, body: errors.urlTooLong(fullLength).body };

    const authorization = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    const entry = match ? tokens.get(match[1]!) : undefined;
    if (!entry) throw errors.authenticationRequired();
    log.tokenId = entry.label;

    const queryIndex = rawUrl.indexOf('?');
    const pathname = queryIndex < 0 ? rawUrl : rawUrl.slice(0, queryIndex);
    const query = new URLSearchParams(queryIndex < 0 ? '' : rawUrl.slice(queryIndex + 1));
    let segments: string[];
    try {
      segments = pathname
        .split('/')
        .filter((s) => s !== '')
        .map((s) => decodeURIComponent(s));
    } catch {
      throw errors.recordNotFound();
    }
    const baseId =
      segments[1] === 'meta'
        ? segments[2] === 'bases'
          ? segments[3]
          : undefined
        : segments[1] === 'bases'
          ? segments[2]
          : segments[1];
    if (baseId) log.baseId = baseId;
    const countedBase = baseId && store.bases.has(baseId) && canSee(entry, baseId) ? baseId : undefined;

    if (!limiter.admit(arrivedAt, entry.label, countedBase)) throw errors.rateLimited();
    if (faults.rateLimitRate > 0 && faultRandom.next() < faults.rateLimitRate) throw errors.rateLimited();
    if (faults.serverErrorRate > 0 && faultRandom.next() < faults.serverErrorRate) throw errors.serverError();
    const drop = faults.dropRate > 0 && faultRandom.next() < faults.dropRate;
    const slow = faults.slowRate > 0 && faultRandom.next() < faults.slowRate;

    const received = await bodyPromise;
    if ('tooLarge' in received) throw errors.requestTooLarge();
    let body: unknown;
    if (req.method !== 'GET' && req.method !== 'DELETE' && received.text.trim() !== '') {
      try {
        body = JSON.parse(received.text);
      } catch {
        throw errors.invalidBody();
      }
    }

    const rule = matchFaultRule(req.method ?? 'GET', segments, body);
    if (rule?.effect === 'error') throw typedError(rule.status, rule.type, rule.message);

    await sleep(drawLatency() + (slow ? faults.slowMs : 0));
    if (closed) return { status: 0, drop: true };
    const at = now();
    // Writes of this request are reported to webhooks as the token's user through the public API.
    store.action = countedBase
      ? { baseId: countedBase, source: 'publicApi', sourceMetadata: userMetadata(entry.user), at }
      : undefined;
    let routed: Answer | Promise<Answer>;
    try {
      // Only listings answer later (a long filter lets other requests in); they write nothing, so
      // the writer of this request is forgotten once the route returns.
      routed = route(req.method ?? 'GET', segments, query, body, entry, at);
    } finally {
      store.action = undefined;
    }
    const answer = await routed;
    return { ...answer, drop: drop || rule?.effect === 'drop' };
  }

  function send(res: ServerResponse, status: number, body: unknown): void {
    if (res.headersSent || res.destroyed) return;
    if (body === undefined) {
      res.writeHead(status).end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrivedAt = Date.now();
    const log: Partial<EmulatorRequestLogEntry> = {};
    let answer: Answer & { drop?: boolean };
    try {
      answer = await processApiRequest(req, arrivedAt, log);
    } catch (err) {
      if (err instanceof ApiError) answer = { status: err.status, body: err.body };
      else {
        answer = {
          status: 500,
          body: { error: { type: 'SERVER_ERROR', message: 'The emulator failed to handle this request.' } },
        };
        process.emitWarning(
          `airtable emulator: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        );
      }
    }
    if (answer.drop) {
      req.socket.destroy();
    } else {
      if (answer.status === 413 || answer.status === 414) res.setHeader('Connection', 'close');
      send(res, answer.status, answer.body);
    }
    requestLog.push({
      at: arrivedAt,
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      ...(log.baseId ? { baseId: log.baseId } : {}),
      ...(log.tokenId ? { tokenId: log.tokenId } : {}),
      status: answer.drop ? 0 : answer.status,
      durationMs: Date.now() - arrivedAt,
    });
    if (requestLog.length > REQUEST_LOG_CAP) requestLog.splice(0, requestLog.length - REQUEST_LOG_CAP);
  }

  async function handleControl(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!isLoopback(req.socket.remoteAddress))
      return send(res, 403, {
        error: { type: 'FORBIDDEN', message: 'The control API answers loopback callers only' },
      });
    const url = new URL(req.url ?? '/', 'http://emulator');
    const received = await readBody(req);
    let body: unknown;
    if ('text' in received && received.text.trim() !== '') {
      try {
        body = JSON.parse(received.text);
      } catch {
        return send(res, 400, {
          error: { type: 'INVALID_REQUEST_BODY', message: 'Could not parse request body' },
        });
      }
    }
    const method = req.method ?? 'GET';
    const segments = url.pathname
      .split('/')
      .filter((s) => s !== '')
      .slice(1)
      .map(decodeURIComponent);
    const bad = (err: unknown) =>
      send(res, 400, {
        error: { type: 'INVALID_CONTROL_REQUEST', message: err instanceof Error ? err.message : String(err) },
      });
    try {
      switch (`${method} ${segments[0] ?? ''}`) {
        case 'GET health':
          return send(res, 200, {
            status: 'ok',
            url: emulator.url,
            bases: [...store.bases.keys()],
            randomSeed,
          });
        case 'GET log': {
          const since = Number(url.searchParams.get('since') ?? 0);
          return send(res, 200, {
            entries: requestLog.filter((e) => e.at >= (Number.isFinite(since) ? since : 0)),
          });
        }
        case 'DELETE log':
          requestLog.length = 0;
          return send(res, 204, undefined);
        case 'GET faults':
          return send(res, 200, faults);
        case 'PUT faults':
          faults = normalizeFaults((body ?? {}) as EmulatorFaults);
          return send(res, 200, faults);
        case 'GET limits':
          return send(res, 200, limiter.current);
        case 'PUT limits':
          limiter.configure(normalizeLimits(body ?? {}));
          return send(res, 200, limiter.current);
        case 'GET latency':
          return send(res, 200, { latencyMs: latency });
        case 'PUT latency': {
          const value =
            typeof body === 'object' && body !== null && !Array.isArray(body)
              ? (body as { latencyMs?: unknown }).latencyMs
              : body;
          latency = normalizeLatency(value);
          return send(res, 200, { latencyMs: latency });
        }
        case 'GET records': {
          if (!segments[1] || !segments[2]) return send(res, 404, { error: { type: 'NOT_FOUND' } });
          return send(res, 200, { records: emulator.listRecords(segments[1], segments[2]) });
        }
        case 'GET clock':
          if (segments.length !== 1) break;
          return send(res, 200, { now: new Date(now()).toISOString(), offsetMs: clockOffsetMs });
        case 'POST clock': {
          if (segments[1] !== 'advance' || segments.length !== 2) break;
          const ms =
            typeof body === 'object' && body !== null && !Array.isArray(body)
              ? (body as { ms?: unknown }).ms
              : body;
          emulator.advanceTime(ms as number);
          return send(res, 200, { now: new Date(now()).toISOString(), offsetMs: clockOffsetMs });
        }
        case 'GET webhook-options':
          return send(res, 200, webhookSettings());
        case 'PUT webhook-options':
          emulator.setWebhookOptions((body ?? {}) as EmulatorWebhookOptions);
          return send(res, 200, webhookSettings());
        case 'GET webhooks':
          if (!segments[1] || segments.length !== 2) break;
          return send(res, 200, { webhooks: emulator.webhooks(segments[1]) });
        case 'POST webhooks': {
          if (segments.length !== 4 || segments[3] !== 'error') break;
          const { code, disable } = (body ?? {}) as { code?: unknown; disable?: unknown };
          const webhook = emulator.injectWebhookError(segments[1]!, segments[2]!, code as WebhookErrorCode, {
            disable: disable as boolean | undefined,
          });
          return send(res, 200, { webhook });
        }
        case 'POST bases':
        case 'PATCH bases':
        case 'DELETE bases': {
          const answer = uiControl(method, segments.slice(1), body);
          if (answer === undefined) break;
          return send(res, 200, answer);
        }
        default:
          break;
      }
      return send(res, 404, { error: { type: 'NOT_FOUND' } });
    } catch (err) {
      if (err instanceof ApiError) return send(res, err.status, err.body);
      if (err instanceof TypeError || err instanceof RangeError) return bad(err);
      if (err instanceof Error && /^No (base|table|field|webhook)/.test(err.message))
        return send(res, 404, { error: { type: 'NOT_FOUND', message: err.message } });
      throw err;
    }
  }

  const webhookSettings = (): Required<EmulatorWebhookOptions> => ({
    maxRecordsPerPayload: webhooks.maxRecordsPerPayload,
    sendPings: webhooks.sendPings,
  });

  /** Who acts in a UI-like change, and the `actionMetadata` its payloads show. */
  function readActor(actor: EmulatorUiActor | undefined): {
    source: string;
    user: Collaborator;
    sourceMetadata: Record<string, unknown>;
  } {
    if (actor !== undefined && (typeof actor !== 'object' || actor === null))
      throw new TypeError('the actor is an object {source?, user?, sourceMetadata?}');
    const source = actor?.source ?? 'client';
    if (!ACTION_SOURCES.includes(source))
      throw new TypeError(`source must be one of ${ACTION_SOURCES.join(', ')}`);
    let user = seedUser;
    if (actor?.user !== undefined) {
      const { id, email, name } = actor.user as { id?: unknown; email?: unknown; name?: unknown };
      if (typeof email !== 'string' || email === '') throw new TypeError('user needs an email');
      if (id !== undefined && typeof id !== 'string') throw new TypeError('user.id must be a string');
      if (name !== undefined && typeof name !== 'string') throw new TypeError('user.name must be a string');
      user = { id: id ?? collaboratorForToken(email).id, email, name: name ?? email.split('@')[0]! };
    }
    const metadata = actor?.sourceMetadata;
    if (
      metadata !== undefined &&
      (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata))
    )
      throw new TypeError('sourceMetadata must be an object');
    return { source, user, sourceMetadata: metadata ? structuredClone(metadata) : userMetadata(user) };
  }

  /** Runs a UI-like change of a base as one reported action. */
  function asUi<T>(
    baseId: string,
    actor: EmulatorUiActor | undefined,
    work: (call: Omit<UiCall, 'table'>) => T,
  ): T {
    const base = store.bases.get(baseId);
    if (!base) throw new Error(`No base ${baseId}`);
    const { source, user, sourceMetadata } = readActor(actor);
    const at = now();
    store.action = { baseId, source, sourceMetadata, at };
    try {
      return work({ store, base, user, now: at });
    } finally {
      store.action = undefined;
    }
  }

  function tableOf(base: BaseState, tableIdOrName: string): TableState {
    const table = store.findTable(base, tableIdOrName);
    if (!table) throw new Error(`No table ${tableIdOrName} in base ${base.id}`);
    return table;
  }

  /** The body without the actor keys, for the meta functions (which refuse unknown keys). */
  function withoutActor(body: unknown): { actor: EmulatorUiActor; rest: Record<string, unknown> } {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return { actor: {}, rest: {} };
    const { source, user, sourceMetadata, ...rest } = body as Record<string, unknown> & EmulatorUiActor;
    return { actor: { source, user, sourceMetadata }, rest };
  }

  /** `/__emulator/bases/{baseId}/tables[/{table}[/ui-edit|/fields[/{field}]]]`; undefined = no such route. */
  function uiControl(method: string, segments: string[], body: unknown): unknown {
    const [baseId, tables, tableRef, sub, fieldRef, ...rest] = segments;
    if (!baseId || tables !== 'tables' || rest.length > 0) return undefined;
    const { actor, rest: fields } = withoutActor(body);
    if (tableRef === undefined) {
      return method === 'POST' ? emulator.uiCreateTable(baseId, { ...fields, ...actor } as never) : undefined;
    }
    if (sub === undefined) {
      if (method === 'PATCH') return emulator.uiUpdateTable(baseId, tableRef, { ...fields, ...actor });
      if (method === 'DELETE') return emulator.uiDeleteTable(baseId, tableRef, actor);
      return undefined;
    }
    if (sub === 'ui-edit' && fieldRef === undefined && method === 'POST')
      return emulator.uiEdit(baseId, tableRef, (body ?? {}) as EmulatorUiEdit);
    if (sub !== 'fields') return undefined;
    if (fieldRef === undefined)
      return method === 'POST'
        ? emulator.uiCreateField(baseId, tableRef, { ...fields, ...actor } as never)
        : undefined;
    if (method === 'PATCH')
      return emulator.uiUpdateField(baseId, tableRef, fieldRef, (body ?? {}) as EmulatorUiFieldChange);
    if (method === 'DELETE') return emulator.uiDeleteField(baseId, tableRef, fieldRef, actor);
    return undefined;
  }

  const server = http.createServer({ maxHeaderSize: 256 * 1024 }, (req, res) => {
    const path = req.url ?? '/';
    const handler = path === '/__emulator' || path.startsWith('/__emulator/') ? handleControl : handleApi;
    handler(req, res).catch((err: unknown) => {
      process.emitWarning(`airtable emulator: ${err instanceof Error ? err.message : String(err)}`);
      send(res, 500, {
        error: { type: 'SERVER_ERROR', message: 'The emulator failed to handle this request.' },
      });
    });
  });
  // Keep-alive sockets must not hold close() up.
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = options.host ?? '127.0.0.1';
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;

  const emulator: AirtableEmulator = {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    tokens: [...tokens.keys()],
    randomSeed,
    get requestLog() {
      return requestLog;
    },
    clearRequestLog() {
      requestLog.length = 0;
    },
    setFaults(next) {
      faults = normalizeFaults(next);
    },
    setLimits(next) {
      limiter.configure(normalizeLimits(next));
    },
    setLatency(next) {
      latency = normalizeLatency(next);
    },
    listRecords(baseId, tableIdOrName) {
      const base = store.bases.get(baseId);
      if (!base) throw new Error(`No base ${baseId}`);
      const table = store.findTable(base, tableIdOrName);
      if (!table) throw new Error(`No table ${tableIdOrName} in base ${baseId}`);
      const reader = new RecordReader(store, base, now());
      return table.records.map(
        (record) =>
          structuredClone(
            renderRecord(reader, table, record, { cellFormat: 'json' }),
          ) as unknown as EmulatorRecord,
      );
    },
    now,
    advanceTime(ms) {
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0)
        throw new TypeError('advanceTime takes a number of ms >= 0');
      clockOffsetMs += ms;
      webhooks.maintain();
      scheduleSave();
      return now();
    },
    webhooks(baseId) {
      if (!store.bases.has(baseId)) throw new Error(`No base ${baseId}`);
      return webhooks.describe(baseId);
    },
    injectWebhookError(baseId, webhookId, code, injectOptions = {}) {
      if (!store.bases.has(baseId)) throw new Error(`No base ${baseId}`);
      return webhooks.injectError(baseId, webhookId, code, injectOptions.disable);
    },
    setWebhookOptions(next) {
      const normalized = normalizeWebhookOptions(next);
      webhooks.maxRecordsPerPayload = normalized.maxRecordsPerPayload;
      webhooks.sendPings = normalized.sendPings;
    },
    uiEdit(baseId, tableIdOrName, edits) {
      const { source, user, sourceMetadata } = (edits ?? {}) as EmulatorUiEdit;
      return asUi(baseId, { source, user, sourceMetadata }, (call) =>
        uiEditRecords({ ...call, table: tableOf(call.base, tableIdOrName) }, edits),
      );
    },
    uiCreateField(baseId, tableIdOrName, field) {
      const { actor, rest } = withoutActor(field);
      return asUi(baseId, actor, (call) =>
        describeCreated(
          createField(
            { store, query: new URLSearchParams(), body: rest },
            call.base,
            tableOf(call.base, tableIdOrName),
          ),
        ),
      );
    },
    uiUpdateField(baseId, tableIdOrName, fieldIdOrName, change) {
      const { source, user, sourceMetadata } = (change ?? {}) as EmulatorUiFieldChange;
      return asUi(baseId, { source, user, sourceMetadata }, (call) => {
        const table = tableOf(call.base, tableIdOrName);
        const field = store.findField(table, fieldIdOrName);
        if (!field) throw new Error(`No field ${fieldIdOrName} in table ${table.name}`);
        return uiUpdateField({ ...call, table }, field, change) as Record<string, unknown>;
      });
    },
    uiDeleteField(baseId, tableIdOrName, fieldIdOrName, actor) {
      return asUi(baseId, actor, (call) => {
        const table = tableOf(call.base, tableIdOrName);
        const field = store.findField(table, fieldIdOrName);
        if (!field) throw new Error(`No field ${fieldIdOrName} in table ${table.name}`);
        return uiDeleteField({ ...call, table }, field);
      });
    },
    uiCreateTable(baseId, table) {
      const { actor, rest } = withoutActor(table);
      return asUi(baseId, actor, (call) =>
        describeCreated(createTable({ store, query: new URLSearchParams(), body: rest }, call.base)),
      );
    },
    uiUpdateTable(baseId, tableIdOrName, change) {
      const { actor, rest } = withoutActor(change);
      return asUi(baseId, actor, (call) =>
        describeCreated(
          updateTable(
            { store, query: new URLSearchParams(), body: rest },
            call.base,
            tableOf(call.base, tableIdOrName),
          ),
        ),
      );
    },
    uiDeleteTable(baseId, tableIdOrName, actor) {
      return asUi(baseId, actor, (call) =>
        uiDeleteTable({ ...call, table: tableOf(call.base, tableIdOrName) }),
      );
    },
    async close() {
      if (closed) return;
      closed = true;
      webhooks.close();
      for (const sleeper of sleepers) {
        clearTimeout(sleeper.timer);
        sleeper.resolve();
      }
      sleepers.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (options.persistPath) saveNow();
    },
  };
  return emulator;
}

/** The meta functions answer `unknown`; the emulator object hands their JSON on as it is. */
function describeCreated(value: unknown): Record<string, unknown> {
  return value as Record<string, unknown>;
}

export { typedError };

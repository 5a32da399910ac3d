/** Injected misbehaviour. Each rate is a share of requests, 0..1, drawn independently per request. */
export interface EmulatorFaults {
  /** Answer 500 without touching state. @default 0 */
  serverErrorRate?: number;
  /** Answer 429 without touching state and without starting a penalty. @default 0 */
  rateLimitRate?: number;
  /** Hold the answer `slowMs` longer. @default 0 */
  slowRate?: number;
  /** Extra delay of a slow answer. @default 10000 */
  slowMs?: number;
  /**
   * Apply the request, then destroy the socket without an answer: the caller cannot tell whether a
   * write happened, which is exactly the case a non-idempotent client has to reconcile. @default 0
   */
  dropRate?: number;
  /**
   * Deterministic faults for chosen requests, checked in order after the random ones; each rule
   * counts the requests it matches. @default []
   */
  rules?: EmulatorFaultRule[];
}

/** What a record request does, for matching {@link EmulatorFaultRule}s. */
export type EmulatorOperation =
  | 'list'
  | 'get'
  | 'create'
  | 'update'
  | 'upsert'
  | 'delete'
  | 'meta'
  /** Any call under `/{recordId}/comments` (list, create, update, delete a comment). */
  | 'comment'
  /** Any call under `/v0/bases/{baseId}/webhooks`. */
  | 'webhook';

/**
 * A fault aimed at particular requests, e.g. "fail the second update of Tasks with a 422" or "apply
 * the first create of Projects, then cut the connection".
 */
export interface EmulatorFaultRule {
  /** @default any operation */
  operation?: EmulatorOperation;
  /** Table name or id (whichever the request path uses). @default any table */
  table?: string;
  /** Let this many matching requests through before firing. @default 0 */
  skip?: number;
  /** Fire on this many matching requests, then let the rest through. @default 1 */
  times?: number;
  /**
   * `error`: answer `status` with `{"error":{"type","message"}}` and apply nothing;
   * `drop`: apply the request, then destroy the socket (an unknown outcome). @default 'error'
   */
  effect?: 'error' | 'drop';
  /** @default 422 */
  status?: number;
  /** @default 'INVALID_VALUE_FOR_COLUMN' (422) or 'SERVER_ERROR' (5xx) */
  type?: string;
  /** @default 'Injected fault' */
  message?: string;
  /** How many matching requests the rule has seen (read-only; reset when faults are replaced). */
  readonly matched?: number;
}

/** Airtable's rate limits. */
export interface EmulatorLimits {
  /** @default true */
  enabled?: boolean;
  /** Requests per sliding second per base (record and meta calls on that base). @default 5 */
  perBasePerSecond?: number;
  /** Requests per sliding second per token. @default 50 */
  perTokenPerSecond?: number;
  /** How long a base or token is refused after going over. @default 30000 */
  penaltyMs?: number;
}

/** A fixed delay in ms, or a `[min, max]` range drawn uniformly per request. */
export type EmulatorLatency = number | [number, number];

/** A token that sees every base, or one limited to some base ids. */
export type EmulatorTokenGrant = string | { token: string; bases: string[] };

/** One field of a seed table. The first field of a table is its primary field. */
export interface EmulatorSeedField {
  /** @default generated `fld…` */
  id?: string;
  name: string;
  type: string;
  description?: string;
  /**
   * As in the meta API. Links may name their table by id or name (`linkedTableId`) and their
   * inverse field by id or name (`inverseLinkFieldId`); formulas may use `{Field Name}`.
   */
  options?: Record<string, unknown>;
}

/** A comment of a seed record. */
export interface EmulatorSeedComment {
  /** @default generated `com…` */
  id?: string;
  /** May mention users as `@[usr…]` or `@[email]`. */
  text: string;
  /** @default the user of the first token */
  author?: { id?: string; email: string; name?: string };
  /** ISO time. @default the record's createdTime */
  createdTime?: string;
  /** ISO time of the last edit. @default none (`lastUpdatedTime: null`) */
  lastUpdatedTime?: string;
  /** Makes it a threaded reply to another comment of the same record (by id). */
  parentCommentId?: string;
}

/** One record of a seed table; `fields` are written as the Web API accepts them (with typecast). */
export interface EmulatorSeedRecord {
  /** @default generated `rec…` */
  id?: string;
  /** ISO time. @default the time the emulator loads the seed */
  createdTime?: string;
  fields: Record<string, unknown>;
  /** Comments, oldest first. @default none */
  comments?: EmulatorSeedComment[];
  /**
   * Shorthand for comments without content: when larger than `comments.length`, placeholder comments
   * ("Seeded comment N", by the first token's user) are added until the record has this many.
   * @default 0
   */
  commentCount?: number;
}

/** An extra view. Every table gets a "Grid view" of all records in creation order anyway. */
export interface EmulatorSeedView {
  id?: string;
  name: string;
  /** @default 'grid' */
  type?: string;
  /** Records the view shows. @default all */
  filterByFormula?: string;
  /** The view's order. @default creation order */
  sort?: Array<{ field: string; direction?: 'asc' | 'desc' }>;
}

export interface EmulatorSeedTable {
  /** @default generated `tbl…` */
  id?: string;
  name: string;
  description?: string;
  fields: EmulatorSeedField[];
  records: EmulatorSeedRecord[];
  /** @default only "Grid view" */
  views?: EmulatorSeedView[];
}

export interface EmulatorSeedBase {
  id: string;
  name: string;
  tables: EmulatorSeedTable[];
}

/** What the emulator serves at start-up (the format of `--seed FILE`). */
export interface EmulatorSeed {
  bases: EmulatorSeedBase[];
}

/** One answered (or dropped) API request. Control calls under `/__emulator/` are not logged. */
export interface EmulatorRequestLogEntry {
  /** Epoch ms when the request arrived. */
  at: number;
  method: string;
  /** Path and query as received. */
  path: string;
  baseId?: string;
  /** A short non-secret label of the token (`tok_` and a hash prefix), never the token. */
  tokenId?: string;
  /** 0 when the answer was dropped. */
  status: number;
  durationMs: number;
}

/** A record as the Web API returns it with `cellFormat=json`, fields keyed by name. */
export interface EmulatorRecord {
  id: string;
  createdTime: string;
  fields: Record<string, unknown>;
}

/** What a webhook watches (`filters.dataTypes`). */
export type WebhookDataType = 'tableData' | 'tableFields' | 'tableMetadata';

/** `filters.changeTypes`. */
export type WebhookChangeType = 'add' | 'remove' | 'update';

/** Where a change came from (`actionMetadata.source`, `filters.fromSources`). */
export type WebhookActionSource =
  | 'client'
  | 'publicApi'
  | 'formSubmission'
  | 'formPageSubmission'
  | 'automation'
  | 'system'
  | 'sync'
  | 'anonymousUser'
  | 'unknown';

/** The `code` of an error payload. */
export type WebhookErrorCode = 'INVALID_FILTERS' | 'INVALID_HOOK' | 'INTERNAL_ERROR';

/** A webhook's specification, as created and as listed. Tables, views and fields are named by id. */
export interface WebhookSpecification {
  options: {
    filters: {
      dataTypes: WebhookDataType[];
      /** A table id or a view id. */
      recordChangeScope?: string;
      changeTypes?: WebhookChangeType[];
      fromSources?: WebhookActionSource[];
      sourceOptions?: Record<string, unknown>;
      watchDataInFieldIds?: string[];
      watchSchemasOfFieldIds?: string[];
    };
    includes?: {
      includeCellValuesInFieldIds?: string[] | 'all';
      includePreviousCellValues?: boolean;
      includePreviousFieldDefinitions?: boolean;
    };
  };
}

/** Cells of one record, keyed by field id, in the webhooks' (V2) cell format. */
export interface WebhookCellValues {
  cellValuesByFieldId: Record<string, unknown>;
}

/** What changed in one table (`changedTablesById[tableId]`); only the parts that apply are present. */
export interface WebhookTableChanges {
  changedMetadata?: {
    current: { name?: string; description?: string | null };
    previous?: { name?: string; description?: string | null };
  };
  createdFieldsById?: Record<string, { name: string; type: string }>;
  changedFieldsById?: Record<
    string,
    { current: Record<string, unknown>; previous?: Record<string, unknown> }
  >;
  destroyedFieldIds?: string[];
  createdRecordsById?: Record<string, WebhookCellValues & { createdTime: string }>;
  changedRecordsById?: Record<
    string,
    { current: WebhookCellValues; previous?: WebhookCellValues; unchanged?: WebhookCellValues }
  >;
  destroyedRecordIds?: string[];
  /** Only when `recordChangeScope` is a view id: the record changes of that view. */
  changedViewsById?: Record<
    string,
    Pick<WebhookTableChanges, 'createdRecordsById' | 'changedRecordsById' | 'destroyedRecordIds'>
  >;
}

/** A table created by the action (`createdTablesById[tableId]`). */
export interface WebhookCreatedTable {
  metadata?: { name: string; description: string | null };
  fieldsById?: Record<string, { name: string; type: string }>;
  recordsById?: Record<string, WebhookCellValues & { createdTime: string }>;
}

/** One payload of `GET …/webhooks/{id}/payloads`. */
export interface WebhookChangePayload {
  timestamp: string;
  baseTransactionNumber: number;
  actionMetadata: { source: WebhookActionSource | string; sourceMetadata: Record<string, unknown> };
  payloadFormat: 'v0';
  changedTablesById?: Record<string, WebhookTableChanges>;
  createdTablesById?: Record<string, WebhookCreatedTable>;
  destroyedTableIds?: string[];
}

/** An error payload; the hook may then be disabled (`isHookEnabled: false`). */
export interface WebhookErrorPayload {
  error: true;
  code: WebhookErrorCode;
}

export type WebhookPayload = WebhookChangePayload | WebhookErrorPayload;

/** `lastNotificationResult` of a listed webhook. */
export type WebhookNotificationResult =
  | { success: true; completionTimestamp: string; durationMs: number; retryNumber: number }
  | {
      success: false;
      error: { message: string };
      completionTimestamp: string;
      durationMs: number;
      retryNumber: number;
      willBeRetried: boolean;
    };

/** A webhook as `GET /v0/bases/{baseId}/webhooks` lists it. */
export interface WebhookListing {
  id: string;
  areNotificationsEnabled: boolean;
  cursorForNextPayload: number;
  isHookEnabled: boolean;
  lastSuccessfulNotificationTime: string | null;
  notificationUrl: string | null;
  expirationTime: string;
  specification: WebhookSpecification;
  lastNotificationResult: WebhookNotificationResult | null;
}

/** A webhook as the emulator's test API shows it: the listing plus every payload it still keeps. */
export interface EmulatorWebhook extends WebhookListing {
  baseId: string;
  createdTime: string;
  /** True once `expirationTime` has passed (the hook then stays listed, disabled, for 7 more days). */
  expired: boolean;
  /** Kept payloads, oldest first, each with its cursor number and the emulator time it was made. */
  payloads: Array<{ cursor: number; createdTime: string; payload: WebhookPayload }>;
}

/** Webhook knobs. */
export interface EmulatorWebhookOptions {
  /**
   * Record changes (created, changed and destroyed records, over all tables) per payload: a larger
   * action is split over several payloads that share `timestamp` and `baseTransactionNumber`.
   * @default 100
   */
  maxRecordsPerPayload?: number;
  /** POST the notification ping to `notificationUrl` after new payloads. @default true */
  sendPings?: boolean;
}

/** Who acts in a UI-like edit (`client` source by default). */
export interface EmulatorUiActor {
  /** @default 'client' */
  source?: WebhookActionSource;
  /** The user shown in `actionMetadata.sourceMetadata.user`. @default the first token's user */
  user?: { id?: string; email: string; name?: string };
  /** Replaces `actionMetadata.sourceMetadata` altogether. @default `{user}` */
  sourceMetadata?: Record<string, unknown>;
}

/** Record edits made the way a user in Airtable's UI makes them: one action, no 10-record limit. */
export interface EmulatorUiEdit extends EmulatorUiActor {
  /** Cells by field name or id. */
  creates?: Array<{ fields: Record<string, unknown> }>;
  /** `replace: true` clears every editable field not given (like PUT). */
  updates?: Array<{ id: string; fields: Record<string, unknown>; replace?: boolean }>;
  /** Record ids. */
  deletes?: string[];
  /** Convert values as a paste in the UI would (creates select options, …). @default true */
  typecast?: boolean;
}

export interface EmulatorUiEditResult {
  created: EmulatorRecord[];
  updated: EmulatorRecord[];
  deleted: string[];
}

/** A field change made in the UI: rename, describe, change options, or change the type. */
export interface EmulatorUiFieldChange extends EmulatorUiActor {
  name?: string;
  description?: string;
  /** A new type converts the cells as Airtable's UI does, best effort (cells that do not convert are cleared). */
  type?: string;
  options?: Record<string, unknown>;
}

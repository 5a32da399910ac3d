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
  | 'comment';

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

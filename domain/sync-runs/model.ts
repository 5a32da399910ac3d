// The sync-run model: how a workspace's mirror names Airtable's tables and fields, what a run does
// and what it reports. Types only, so workflows may import it.

/** The Postgres types a mirror column can have. */
export type MirrorColumnType = 'text' | 'numeric' | 'boolean' | 'date' | 'timestamptz' | 'text[]' | 'jsonb';

/** One Airtable field as a mirror column. */
export interface MirrorColumn {
  /** The column's name (snake_case of the field's name, made unique in its table). */
  column: string;
  type: MirrorColumnType;
  /** The Airtable field type it came from (computed fields: the type, not the result's). */
  fieldType: string;
  /** The field's name in Airtable when the mirror last migrated. */
  name: string;
}

/** One Airtable table as a mirror table. */
export interface MirrorTable {
  /** The table's name in the mirror schema. */
  table: string;
  /** The table's name in Airtable when the mirror last migrated. */
  name: string;
  /** Keyed by Airtable field id. */
  columns: Record<string, MirrorColumn>;
}

/** A mirror's tables, keyed by Airtable table id. */
export type MirrorTables = Record<string, MirrorTable>;

/** Why a run copies every table instead of applying the webhook's payloads. */
export type FullSyncReason =
  | 'first-run'
  | 'resync-requested'
  | 'periodic-reconcile'
  | 'cursor-lost'
  | 'hook-missing'
  | 'hook-expired'
  | 'hook-disabled'
  | 'hook-error'
  | 'payloads-pruned'
  | 'schema-unsettled';

export type SyncRunMode = 'full' | 'incremental';

/** What a run did, as its job's result and the sync's last runs show it. */
export interface SyncRunCounts {
  tables: number;
  created: number;
  updated: number;
  deleted: number;
  payloads: number;
}

/** Input of the `syncRun` workflow: ids only (the schedule's action holds them). */
export interface SyncRunInput {
  syncId: string;
  workspaceId: string;
  userId: string;
}

/** What a `syncRun` ends with. */
export type SyncRunResult =
  | ({
      status: 'completed';
      mode: SyncRunMode;
      reason?: FullSyncReason;
      lagMs: number | null;
    } & SyncRunCounts)
  | { status: 'skipped'; reason: string };

/** What the run's `progress` query answers. */
export interface SyncRunProgress {
  mode: SyncRunMode | null;
  phase: 'starting' | 'reading-changes' | 'copying' | 'applying' | 'done';
  tablesCopied: number;
  tablesToCopy: number;
  recordsCopied: number;
}

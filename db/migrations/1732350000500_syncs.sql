-- Up Migration

-- A scheduled sync of a workspace's base into its Postgres mirror: one Temporal Schedule
-- (schedule_id, `workspace-<workspace id>-sync-<id>`), at most one per workspace.
CREATE TABLE syncs (
  id uuid PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  schedule_id text NOT NULL UNIQUE,
  -- Airtable table ids the sync copies; NULL: every table of the base.
  table_ids text[],
  -- {"every":"15m"} or {"cron":"0 * * * *","timezone":"Europe/Paris"}
  schedule jsonb NOT NULL,
  full_reconcile_seconds integer NOT NULL,
  -- Set by POST /syncs/:id/resync; the next run copies everything and clears it.
  resync_requested_at timestamptz,
  -- The Airtable webhook the sync reads its changes from, and when Airtable said it expires.
  webhook_id text,
  webhook_expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX syncs_one_per_workspace ON syncs (workspace_id);

-- Where the sync stands in its webhook's payloads: the next payload to apply. Written in the same
-- transaction as the changes it covers. No row: the cursor is lost, and the next run reconciles fully.
CREATE TABLE sync_cursors (
  sync_id uuid PRIMARY KEY REFERENCES syncs (id) ON DELETE CASCADE,
  webhook_id text NOT NULL,
  cursor bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- A workspace's mirror: its schema, its read-only role, and the names the mirror gives to each
-- Airtable table and field ({tableId: {table, name, columns: {fieldId: {column, type, fieldType}}}}).
CREATE TABLE sync_mirrors (
  workspace_id uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
  schema_name text NOT NULL UNIQUE,
  role_name text NOT NULL UNIQUE,
  tables jsonb NOT NULL DEFAULT '{}',
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per run of a sync (its job id is the workflow id the schedule gave it).
CREATE TABLE sync_runs (
  job_id text PRIMARY KEY,
  sync_id uuid NOT NULL REFERENCES syncs (id) ON DELETE CASCADE,
  mode text CHECK (mode IN ('full', 'incremental')),
  reason text,
  status text NOT NULL DEFAULT 'running'
    CHECK (status IN ('running', 'completed', 'failed', 'cancelled', 'skipped')),
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  tables integer NOT NULL DEFAULT 0,
  created integer NOT NULL DEFAULT 0,
  updated integer NOT NULL DEFAULT 0,
  deleted integer NOT NULL DEFAULT 0,
  payloads integer NOT NULL DEFAULT 0,
  -- How long the oldest change this run applied waited before it was visible in Postgres.
  lag_ms bigint,
  -- The base schema a full run copied with (read before its copy), for its apply step.
  base_schema jsonb,
  -- The webhook cursor read before a full run's copy: the cursor its apply step stores.
  start_cursor bigint,
  error text
);
CREATE INDEX sync_runs_sync_idx ON sync_runs (sync_id, started_at DESC);

-- Down Migration

DROP TABLE sync_runs;
DROP TABLE sync_mirrors;
DROP TABLE sync_cursors;
DROP TABLE syncs;

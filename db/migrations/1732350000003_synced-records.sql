-- Up Migration

-- Records copied from a workspace's Airtable base, one row per record, as the last sync run saw them.
CREATE TABLE synced_records (
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  table_id text NOT NULL,
  record_id text NOT NULL,
  fields jsonb NOT NULL,
  created_time timestamptz NOT NULL,
  sync_run_id text NOT NULL,
  synced_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, table_id, record_id)
);

-- Down Migration

DROP TABLE synced_records;

-- Up Migration

-- A change set as submitted and validated. Its records live in change_set_chunks, not in the
-- workflow's input or history: a 10,000-record set would otherwise fill the history.
CREATE TABLE change_sets (
  id text PRIMARY KEY, -- the job id, which is also the workflow id
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  base_id text NOT NULL,
  -- [{table, tableId, action, typecast, fieldsToMergeOn?, records}] without the records' values
  steps jsonb NOT NULL,
  record_count integer NOT NULL,
  -- The activity attempt allowed to write (a fencing token): a stalled attempt that Temporal has
  -- already replaced cannot start another request once a newer attempt has claimed the set.
  writer text,
  outcome jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX change_sets_workspace_idx ON change_sets (workspace_id, created_at);

-- The journal: one row per request of at most 10 records, in the order they are applied.
--   state:      pending → sending (intent recorded, before-images kept) → applied | rejected
--   undo_state: none → undoing (intent recorded) → undone | stuck
-- Every transition is written before (intent) or after (outcome) the Airtable call it brackets, so a
-- crash at any instant leaves a row that says what may have happened and what to check.
CREATE TABLE change_set_chunks (
  change_set_id text NOT NULL REFERENCES change_sets (id) ON DELETE CASCADE,
  step integer NOT NULL,
  chunk integer NOT NULL,
  base_id text NOT NULL,
  records jsonb NOT NULL,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'applied', 'rejected')),
  -- how many times the request was sent: a chunk rejected on its first send changed nothing
  sends integer NOT NULL DEFAULT 0,
  sent_at timestamptz,
  -- {recordId: fields} as they were before this chunk (updates, deletes, upsert matches)
  before jsonb,
  created_ids text[],
  updated_ids text[],
  error text,
  undo_state text NOT NULL DEFAULT 'none' CHECK (undo_state IN ('none', 'undoing', 'undone', 'stuck')),
  undo_sent_at timestamptz,
  -- old record id → new record id, for deleted records recreated by compensation
  recreated jsonb,
  recreated_ids text[],
  undo_error text,
  PRIMARY KEY (change_set_id, step, chunk)
);
-- Reconciliation must not claim a record some journal already owns.
CREATE INDEX change_set_chunks_created_idx ON change_set_chunks USING gin (created_ids);
CREATE INDEX change_set_chunks_recreated_idx ON change_set_chunks USING gin (recreated_ids);
CREATE INDEX change_set_chunks_base_idx ON change_set_chunks (base_id);

-- Down Migration

DROP TABLE change_set_chunks;
DROP TABLE change_sets;

-- Up Migration

-- Workspace settings the agent honours, and a user's preferences (used when the agent writes dates).
ALTER TABLE workspaces
  ADD COLUMN approval_policy text NOT NULL DEFAULT 'writes',
  ADD COLUMN monthly_budget_usd numeric(14, 6),
  ADD COLUMN model text;
ALTER TABLE users ADD COLUMN preferences jsonb NOT NULL DEFAULT '{}'::jsonb;

-- A conversation with the agent: one long-lived workflow (its id is the conversation id). Everything
-- said and done lives here, so the workflow's history holds ids and counters only.
CREATE TABLE conversations (
  id text PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  title text NOT NULL,
  status text NOT NULL DEFAULT 'idle',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_workspace_idx ON conversations (workspace_id, user_id, created_at);

-- Messages in order. `content` is a model turn exactly as Gemini sent it (thought signatures kept),
-- or the function responses we sent back; `text` is what people read.
CREATE TABLE conversation_messages (
  id text PRIMARY KEY,
  conversation_id text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  seq bigserial NOT NULL,
  turn_id text,
  role text NOT NULL,
  text text,
  content jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversation_messages_order_idx ON conversation_messages (conversation_id, seq);

-- Every tool call the model asked for, and what became of it.
CREATE TABLE conversation_tool_calls (
  id text PRIMARY KEY,
  conversation_id text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  message_id text NOT NULL REFERENCES conversation_messages (id) ON DELETE CASCADE,
  turn_id text NOT NULL,
  call_index int NOT NULL,
  call_ref text,
  name text NOT NULL,
  args jsonb NOT NULL,
  status text NOT NULL DEFAULT 'pending',
  result jsonb,
  job_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversation_tool_calls_message_idx ON conversation_tool_calls (message_id, call_index);

-- Approvals of tool calls that change the base; every decision is kept (who, when, note).
CREATE TABLE conversation_approvals (
  id text PRIMARY KEY,
  conversation_id text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  tool_call_id text NOT NULL UNIQUE REFERENCES conversation_tool_calls (id) ON DELETE CASCADE,
  tool text NOT NULL,
  args jsonb NOT NULL,
  preview jsonb NOT NULL,
  status text NOT NULL DEFAULT 'pending',
  expires_at timestamptz NOT NULL,
  decided_by uuid,
  decided_at timestamptz,
  note text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversation_approvals_pending_idx ON conversation_approvals (conversation_id) WHERE status = 'pending';

-- One row per model call, keyed by the call (turn and step): usage is counted once, whatever retries.
CREATE TABLE llm_usage (
  call_id text PRIMARY KEY,
  conversation_id text REFERENCES conversations (id) ON DELETE SET NULL,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  model text NOT NULL,
  model_version text,
  input_tokens int NOT NULL,
  output_tokens int NOT NULL,
  thinking_tokens int NOT NULL,
  cost_usd numeric(14, 6) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX llm_usage_workspace_month_idx ON llm_usage (workspace_id, created_at);

-- What happened in a conversation, in order, for the live event stream (ids let a client resume).
CREATE TABLE conversation_events (
  id bigserial PRIMARY KEY,
  conversation_id text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  dedupe_key text,
  type text NOT NULL,
  data jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversation_events_idx ON conversation_events (conversation_id, id);
CREATE UNIQUE INDEX conversation_events_dedupe_idx ON conversation_events (conversation_id, dedupe_key);

-- Files the agent produced for its user (CSV exports), downloaded through the API.
CREATE TABLE conversation_exports (
  id text PRIMARY KEY,
  conversation_id text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  filename text NOT NULL,
  content_type text NOT NULL,
  body text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Airtable requests per base and day (counted by each process, flushed every few seconds), for the
-- usage answer. Per base, not per workspace: that is what Airtable limits and what the adapter knows.
CREATE TABLE airtable_request_counts (
  base_id text NOT NULL,
  day date NOT NULL,
  requests bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (base_id, day)
);

-- Down Migration

DROP TABLE airtable_request_counts;
DROP TABLE conversation_exports;
DROP TABLE conversation_events;
DROP TABLE llm_usage;
DROP TABLE conversation_approvals;
DROP TABLE conversation_tool_calls;
DROP TABLE conversation_messages;
DROP TABLE conversations;
ALTER TABLE users DROP COLUMN preferences;
ALTER TABLE workspaces DROP COLUMN model, DROP COLUMN monthly_budget_usd, DROP COLUMN approval_policy;

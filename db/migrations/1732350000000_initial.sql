-- Up Migration

CREATE TABLE users (
  id uuid PRIMARY KEY,
  email text NOT NULL,
  name text,
  password_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Refresh tokens are stored as SHA-256 digests only; a family links every rotation of one login,
-- so presenting a spent token can revoke the whole family (a stolen token gets one use at most).
CREATE TABLE refresh_tokens (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  family_id uuid NOT NULL,
  token_hash text NOT NULL UNIQUE,
  expires_at timestamptz NOT NULL,
  spent_at timestamptz,
  revoked_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

CREATE TABLE workspaces (
  id uuid PRIMARY KEY,
  owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name text NOT NULL,
  status text NOT NULL CHECK (status IN ('provisioning', 'active', 'failed', 'deprovisioning')),
  error text,
  airtable_base_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workspaces_owner_idx ON workspaces (owner_id, created_at);

-- The Airtable token, sealed with AES-256-GCM under APP_ENCRYPTION_KEY (associated data: the
-- workspace id). Activities read it by workspace id, so it never travels through Temporal.
CREATE TABLE airtable_connections (
  workspace_id uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
  base_id text NOT NULL,
  token_ciphertext text NOT NULL,
  verified_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- The base schema as last read from the meta API; change sets validate against it.
CREATE TABLE workspace_schemas (
  workspace_id uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
  base_id text NOT NULL,
  tables jsonb NOT NULL,
  fetched_at timestamptz NOT NULL DEFAULT now()
);

-- One row per workflow started through the API: the ownership index for /jobs/:id. Temporal stays
-- the source of truth for a job's state; status here is a cache the API refreshes.
-- workspace_id has no foreign key: a deprovisioning job outlives its workspace.
CREATE TABLE jobs (
  id text PRIMARY KEY,
  kind text NOT NULL,
  workspace_id uuid,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  status text NOT NULL DEFAULT 'pending',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_workspace_idx ON jobs (workspace_id);
CREATE INDEX jobs_user_idx ON jobs (user_id, created_at);

-- Down Migration

DROP TABLE jobs;
DROP TABLE workspace_schemas;
DROP TABLE airtable_connections;
DROP TABLE workspaces;
DROP TABLE refresh_tokens;
DROP TABLE users;

-- Up Migration

-- Workspace API keys, for MCP clients (`POST /mcp`). The secret is shown once when the key is
-- created and kept only as its SHA-256 digest; `lookup` is the random public part of the key
-- (`aok_<lookup>_<secret>`), so a presented key is found by it and its digest compared in constant
-- time. A revoked key keeps its row (who made it, when it was last used) and is refused at once.
CREATE TABLE api_keys (
  id uuid PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  created_by uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name text NOT NULL,
  scopes text[] NOT NULL CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['read', 'write']::text[]),
  lookup text NOT NULL UNIQUE,
  secret_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX api_keys_workspace_idx ON api_keys (workspace_id, created_at);

-- Down Migration

DROP TABLE api_keys;

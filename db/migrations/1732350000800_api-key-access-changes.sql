-- Up Migration

-- What an API key reaches (the key itself, its workspace, the workspace's Airtable connection) may be
-- held in memory by each API process for a few seconds, so a burst of MCP calls costs one check. A
-- change to any of it notifies every process on the channel `api_key_access_changed` (payload: the
-- workspace id), at commit, which drops what it holds for that workspace: a revoked key, a suspended
-- or deleted workspace, a rotated token count for the next call, in every process. Only the columns
-- the check reads trigger it on api_keys (not `last_used_at`, which every check may write).
CREATE FUNCTION notify_api_key_access_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  workspace uuid;
BEGIN
  IF TG_TABLE_NAME = 'workspaces' THEN
    workspace := CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END;
  ELSE
    workspace := CASE WHEN TG_OP = 'DELETE' THEN OLD.workspace_id ELSE NEW.workspace_id END;
  END IF;
  PERFORM pg_notify('api_key_access_changed', workspace::text);
  RETURN NULL;
END
$$;

CREATE TRIGGER api_keys_access_changed
  AFTER UPDATE OF workspace_id, scopes, secret_hash, revoked_at, name OR DELETE ON api_keys
  FOR EACH ROW EXECUTE FUNCTION notify_api_key_access_changed();
CREATE TRIGGER workspaces_access_changed
  AFTER UPDATE OR DELETE ON workspaces
  FOR EACH ROW EXECUTE FUNCTION notify_api_key_access_changed();
CREATE TRIGGER airtable_connections_access_changed
  AFTER INSERT OR UPDATE OR DELETE ON airtable_connections
  FOR EACH ROW EXECUTE FUNCTION notify_api_key_access_changed();

-- Down Migration

DROP TRIGGER airtable_connections_access_changed ON airtable_connections;
DROP TRIGGER workspaces_access_changed ON workspaces;
DROP TRIGGER api_keys_access_changed ON api_keys;
DROP FUNCTION notify_api_key_access_changed();

import type { Pool } from 'pg';

/**
 * The records a completed change set wrote, read from its journal (`change_set_chunks`, written by
 * domain/change-sets): created and updated record ids in step order, so a client learns the ids of
 * what it created, as `airtable-mcp-server` answers with the records it wrote.
 */
export async function appliedRecords(
  pool: Pool,
  changeSetId: string,
): Promise<{ created?: string[]; updated?: string[] }> {
  const { rows } = await pool.query<{ created: string[] | null; updated: string[] | null }>(
    `SELECT created_ids AS created, updated_ids AS updated FROM change_set_chunks
     WHERE change_set_id = $1 AND state = 'applied' ORDER BY step, chunk`,
    [changeSetId],
  );
  const created = rows.flatMap((r) => r.created ?? []);
  const updated = rows.flatMap((r) => r.updated ?? []);
  return {
    ...(created.length ? { created } : {}),
    ...(updated.length ? { updated } : {}),
  };
}

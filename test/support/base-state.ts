import type { AirtableEmulator, EmulatorRecord } from '@airtable-ops/airtable-emulator';

// Comparing a whole base before and after a job: what "left the base as it was" means in tests.

/** Every table of a base as records `{id, fields}`, link lists sorted (their order is not data). */
export type BaseState = Record<string, Array<{ id: string; fields: Record<string, unknown> }>>;

export function readBase(emulator: AirtableEmulator, baseId: string, tables: string[]): BaseState {
  const state: BaseState = {};
  for (const table of tables) {
    state[table] = emulator
      .listRecords(baseId, table)
      .map((r: EmulatorRecord) => ({ id: r.id, fields: normalizeFields(r.fields) }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }
  return state;
}

/**
 * The state `before` with recreated records under their new ids (`idMap`: old → new), so it can be
 * compared with the state after a compensation that recreated deleted records.
 */
export function renameRecords(before: BaseState, idMap: Record<string, string>): BaseState {
  const rename = (id: string) => idMap[id] ?? id;
  const out: BaseState = {};
  for (const [table, records] of Object.entries(before)) {
    out[table] = records
      .map((r) => ({
        id: rename(r.id),
        fields: normalizeFields(
          Object.fromEntries(
            Object.entries(r.fields).map(([k, v]) => [
              k,
              Array.isArray(v) && v.every((x) => typeof x === 'string' && x.startsWith('rec'))
                ? v.map(rename)
                : v,
            ]),
          ),
        ),
      }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }
  return out;
}

function normalizeFields(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(fields).map(([k, v]) => [
      k,
      Array.isArray(v) && v.every((x) => typeof x === 'string') ? [...(v as string[])].sort() : v,
    ]),
  );
}

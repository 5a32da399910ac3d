import { airtableFetch, type AirtableHttpOptions } from './http';
import { paced, type AirtablePacer } from './pacing';

/** What a meta-API call needs: the meta API counts against a base's 5 requests per second like records. */
export interface AirtableMetaOptions extends AirtableHttpOptions {
  pacer: AirtablePacer;
}

/** One paced call of the meta API about `baseId`. */
function metaFetch<T>(
  options: AirtableMetaOptions,
  baseId: string,
  method: 'GET' | 'POST' | 'PATCH',
  path: string,
  body?: unknown,
): Promise<T> {
  const url = `/v0/meta/bases/${encodeURIComponent(baseId)}/tables${path}`;
  return paced(
    options.pacer,
    baseId,
    options.token,
    options.signal,
    () => airtableFetch<T>(options, method, url, body),
    undefined,
    method === 'GET' ? 'read_schema' : 'write_schema',
  );
}

/** A field as the meta API describes it. */
export interface AirtableFieldSchema {
  id: string;
  name: string;
  type: string;
  description?: string;
  options?: Record<string, unknown>;
}

/** A table as the meta API describes it. */
export interface AirtableTableSchema {
  id: string;
  name: string;
  description?: string;
  primaryFieldId: string;
  fields: AirtableFieldSchema[];
  views: Array<{ id: string; name: string; type: string }>;
}

/** `GET /v0/meta/bases/{baseId}/tables`: the schema of a base, which also proves the token can read it. */
export async function getBaseSchema(
  options: AirtableMetaOptions,
  baseId: string,
): Promise<AirtableTableSchema[]> {
  const body = await metaFetch<{ tables: AirtableTableSchema[] }>(options, baseId, 'GET', '');
  return body.tables;
}

/** `POST /v0/meta/bases/{baseId}/tables`: creates a table (the first field becomes its primary field). */
export async function createTable(
  options: AirtableMetaOptions,
  baseId: string,
  table: { name: string; description?: string; fields: Array<Omit<AirtableFieldSchema, 'id'>> },
): Promise<AirtableTableSchema> {
  return metaFetch(options, baseId, 'POST', '', table);
}

/** `POST …/tables/{tableId}/fields`: adds a field. There is no endpoint to delete one. */
export async function createField(
  options: AirtableMetaOptions,
  baseId: string,
  tableId: string,
  field: Omit<AirtableFieldSchema, 'id'>,
): Promise<AirtableFieldSchema> {
  return metaFetch(options, baseId, 'POST', `/${encodeURIComponent(tableId)}/fields`, field);
}

/** `PATCH …/fields/{fieldId}`: renames a field or changes its description or options. */
export async function updateField(
  options: AirtableMetaOptions,
  baseId: string,
  tableId: string,
  fieldId: string,
  changes: { name?: string; description?: string; options?: Record<string, unknown> },
): Promise<AirtableFieldSchema> {
  return metaFetch(
    options,
    baseId,
    'PATCH',
    `/${encodeURIComponent(tableId)}/fields/${encodeURIComponent(fieldId)}`,
    changes,
  );
}

/** `PATCH /v0/meta/bases/{baseId}/tables/{tableId}`: renames a table or changes its description. */
export async function updateTable(
  options: AirtableMetaOptions,
  baseId: string,
  tableId: string,
  changes: { name?: string; description?: string },
): Promise<AirtableTableSchema> {
  return metaFetch(options, baseId, 'PATCH', `/${encodeURIComponent(tableId)}`, changes);
}

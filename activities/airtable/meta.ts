import { airtableFetch, type AirtableHttpOptions } from './http';

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
  options: AirtableHttpOptions,
  baseId: string,
): Promise<AirtableTableSchema[]> {
  const body = await airtableFetch<{ tables: AirtableTableSchema[] }>(
    options,
    'GET',
    `/v0/meta/bases/${encodeURIComponent(baseId)}/tables`,
  );
  return body.tables;
}

/** `POST /v0/meta/bases/{baseId}/tables`: creates a table (the first field becomes its primary field). */
export async function createTable(
  options: AirtableHttpOptions,
  baseId: string,
  table: { name: string; description?: string; fields: Array<Omit<AirtableFieldSchema, 'id'>> },
): Promise<AirtableTableSchema> {
  return airtableFetch(options, 'POST', `/v0/meta/bases/${encodeURIComponent(baseId)}/tables`, table);
}

/** `POST …/tables/{tableId}/fields`: adds a field. There is no endpoint to delete one. */
export async function createField(
  options: AirtableHttpOptions,
  baseId: string,
  tableId: string,
  field: Omit<AirtableFieldSchema, 'id'>,
): Promise<AirtableFieldSchema> {
  return airtableFetch(
    options,
    'POST',
    `/v0/meta/bases/${encodeURIComponent(baseId)}/tables/${encodeURIComponent(tableId)}/fields`,
    field,
  );
}

/** `PATCH …/fields/{fieldId}`: renames a field or changes its description or options. */
export async function updateField(
  options: AirtableHttpOptions,
  baseId: string,
  tableId: string,
  fieldId: string,
  changes: { name?: string; description?: string; options?: Record<string, unknown> },
): Promise<AirtableFieldSchema> {
  return airtableFetch(
    options,
    'PATCH',
    `/v0/meta/bases/${encodeURIComponent(baseId)}/tables/${encodeURIComponent(tableId)}/fields/${encodeURIComponent(fieldId)}`,
    changes,
  );
}

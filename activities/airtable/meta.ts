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
export async function getBaseSchema(options: AirtableHttpOptions, baseId: string): Promise<AirtableTableSchema[]> {
  const body = await airtableFetch<{ tables: AirtableTableSchema[] }>(
    options,
    'GET',
    `/v0/meta/bases/${encodeURIComponent(baseId)}/tables`,
  );
  return body.tables;
}

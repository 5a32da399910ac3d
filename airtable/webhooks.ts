import { airtableFetch } from './http';
import type { AirtableMetaOptions } from './meta';
import { paced } from './pacing';

// Airtable's webhooks API (direct HTTP: the official client has no webhook calls), paced with every
// other request of the process. Polled only: the sync creates its hooks without a notification URL
// and lists their payloads from a cursor it keeps in Postgres.

/** Airtable's most payloads per listing request. */
export const WEBHOOK_PAYLOAD_PAGE_LIMIT = 50;

/** What a webhook reports: `filters.dataTypes` and the optional filters and includes (ids only). */
export interface WebhookSpecification {
  options: {
    filters: {
      dataTypes: Array<'tableData' | 'tableFields' | 'tableMetadata'>;
      recordChangeScope?: string;
      changeTypes?: Array<'add' | 'remove' | 'update'>;
      fromSources?: string[];
      watchDataInFieldIds?: string[];
      watchSchemasOfFieldIds?: string[];
    };
    includes?: {
      includeCellValuesInFieldIds?: string[] | 'all';
      includePreviousCellValues?: boolean;
      includePreviousFieldDefinitions?: boolean;
    };
  };
}

/** A webhook as `GET …/webhooks` lists it. */
export interface AirtableWebhook {
  id: string;
  areNotificationsEnabled: boolean;
  cursorForNextPayload: number;
  isHookEnabled: boolean;
  lastSuccessfulNotificationTime: string | null;
  notificationUrl: string | null;
  expirationTime: string | null;
  specification: WebhookSpecification;
  lastNotificationResult?: unknown;
}

/** Cells keyed by field id. */
export type CellValuesByFieldId = Record<string, unknown>;

/** A field as a payload describes it (created, or the current/previous side of a change). */
export interface WebhookFieldDefinition {
  name?: string;
  type?: string;
  options?: Record<string, unknown>;
}

/** What one payload says about one table. */
export interface WebhookTableChanges {
  createdRecordsById?: Record<string, { createdTime: string; cellValuesByFieldId?: CellValuesByFieldId }>;
  changedRecordsById?: Record<
    string,
    {
      current: { cellValuesByFieldId?: CellValuesByFieldId };
      previous?: { cellValuesByFieldId?: CellValuesByFieldId };
      unchanged?: { cellValuesByFieldId?: CellValuesByFieldId };
    }
  >;
  destroyedRecordIds?: string[];
  createdFieldsById?: Record<string, WebhookFieldDefinition>;
  changedFieldsById?: Record<string, { current: WebhookFieldDefinition; previous?: WebhookFieldDefinition }>;
  destroyedFieldIds?: string[];
  changedMetadata?: { current: { name?: string; description?: string }; previous?: Record<string, unknown> };
  changedViewsById?: Record<string, unknown>;
  createdViewsById?: Record<string, unknown>;
  destroyedViewIds?: string[];
}

/** One payload: a base transaction (or part of one), or an error the hook ran into. */
export interface WebhookPayload {
  timestamp: string;
  baseTransactionNumber: number;
  actionMetadata?: { source: string; sourceMetadata?: Record<string, unknown> };
  payloadFormat: 'v0';
  changedTablesById?: Record<string, WebhookTableChanges>;
  createdTablesById?: Record<
    string,
    {
      metadata?: { name?: string; description?: string };
      fieldsById?: Record<string, WebhookFieldDefinition>;
      recordsById?: Record<string, { createdTime: string; cellValuesByFieldId?: CellValuesByFieldId }>;
    }
  >;
  destroyedTableIds?: string[];
  /** An error payload: the hook could not go on (`INVALID_FILTERS`, `INVALID_HOOK`, `INTERNAL_ERROR`). */
  error?: boolean;
  code?: string;
}

/** One listing of payloads: keep `cursor`, and list again while `mightHaveMore`. */
export interface WebhookPayloadPage {
  payloads: WebhookPayload[];
  cursor: number;
  mightHaveMore: boolean;
}

function webhooksPath(baseId: string, rest = ''): string {
  return `/v0/bases/${encodeURIComponent(baseId)}/webhooks${rest}`;
}

function webhookFetch<T>(
  options: AirtableMetaOptions,
  baseId: string,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<T> {
  return paced(
    options.pacer,
    baseId,
    options.token,
    options.signal,
    () => airtableFetch<T>(options, method, path, body),
    undefined,
    method === 'GET' ? 'read_webhooks' : 'write_webhooks',
  );
}

/**
 * `POST /v0/bases/{baseId}/webhooks` without a notification URL: payloads are polled. Answers the
 * hook's id and expiry; the MAC secret (only for verifying pings, which a polled hook never gets) is
 * dropped here, so it never reaches a caller, a log or a workflow history.
 */
export async function createWebhook(
  options: AirtableMetaOptions,
  baseId: string,
  specification: WebhookSpecification,
): Promise<{ id: string; expirationTime: string | null }> {
  const created = await webhookFetch<{ id: string; expirationTime?: string | null }>(
    options,
    baseId,
    'POST',
    webhooksPath(baseId),
    { specification },
  );
  return { id: created.id, expirationTime: created.expirationTime ?? null };
}

/** `GET /v0/bases/{baseId}/webhooks`: the base's hooks (at most 10), with each one's next cursor. */
export async function listWebhooks(options: AirtableMetaOptions, baseId: string): Promise<AirtableWebhook[]> {
  const body = await webhookFetch<{ webhooks: AirtableWebhook[] }>(
    options,
    baseId,
    'GET',
    webhooksPath(baseId),
  );
  return body.webhooks;
}

/** `POST …/webhooks/{id}/refresh`: the hook lives 7 more days. */
export async function refreshWebhook(
  options: AirtableMetaOptions,
  baseId: string,
  webhookId: string,
): Promise<{ expirationTime: string | null }> {
  const body = await webhookFetch<{ expirationTime?: string | null }>(
    options,
    baseId,
    'POST',
    webhooksPath(baseId, `/${encodeURIComponent(webhookId)}/refresh`),
  );
  return { expirationTime: body?.expirationTime ?? null };
}

/** `DELETE …/webhooks/{id}`. */
export async function deleteWebhook(
  options: AirtableMetaOptions,
  baseId: string,
  webhookId: string,
): Promise<void> {
  await webhookFetch<unknown>(
    options,
    baseId,
    'DELETE',
    webhooksPath(baseId, `/${encodeURIComponent(webhookId)}`),
  );
}

/** `GET …/webhooks/{id}/payloads?cursor=N&limit=L`: one page of payloads from `cursor` (1 is the first). */
export async function listWebhookPayloads(
  options: AirtableMetaOptions,
  baseId: string,
  webhookId: string,
  page: { cursor: number; limit?: number },
): Promise<WebhookPayloadPage> {
  const query = new URLSearchParams({
    cursor: String(page.cursor),
    limit: String(page.limit ?? WEBHOOK_PAYLOAD_PAGE_LIMIT),
  });
  return webhookFetch<WebhookPayloadPage>(
    options,
    baseId,
    'GET',
    webhooksPath(baseId, `/${encodeURIComponent(webhookId)}/payloads?${query}`),
  );
}

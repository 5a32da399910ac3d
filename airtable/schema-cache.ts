import {
  createField,
  createTable,
  getBaseSchema,
  updateField,
  updateTable,
  type AirtableFieldSchema,
  type AirtableMetaOptions,
  type AirtableTableSchema,
} from './meta';

/** Options of {@link SchemaCache}. */
export interface SchemaCacheOptions {
  /** How long a schema read from Airtable is trusted; edits made in Airtable's UI show up after this. @default 300000 */
  ttlMs?: number;
  /** @default Date.now */
  now?: () => number;
}

/**
 * Base schemas per worker process. A schema costs one of the base's five requests per second, and
 * validation needs it for every change set, so it is read once per TTL. Schema changes the
 * platform makes itself go through this class and drop the cached entry at once.
 */
export class SchemaCache {
  private readonly entries = new Map<string, { tables: AirtableTableSchema[]; expiresAt: number }>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(options: SchemaCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? 300_000;
    this.now = options.now ?? Date.now;
  }

  /** The schema of `baseId`, from the cache while fresh. */
  async get(http: AirtableMetaOptions, baseId: string): Promise<AirtableTableSchema[]> {
    const cached = this.entries.get(baseId);
    if (cached && cached.expiresAt > this.now()) return cached.tables;
    const tables = await getBaseSchema(http, baseId);
    this.entries.set(baseId, { tables, expiresAt: this.now() + this.ttlMs });
    return tables;
  }

  invalidate(baseId: string): void {
    this.entries.delete(baseId);
  }

  async createTable(
    http: AirtableMetaOptions,
    baseId: string,
    table: Parameters<typeof createTable>[2],
  ): Promise<AirtableTableSchema> {
    try {
      return await createTable(http, baseId, table);
    } finally {
      // Even a failed call may have landed (timeout after Airtable applied it).
      this.invalidate(baseId);
    }
  }

  async createField(
    http: AirtableMetaOptions,
    baseId: string,
    tableId: string,
    field: Omit<AirtableFieldSchema, 'id'>,
  ) {
    try {
      return await createField(http, baseId, tableId, field);
    } finally {
      this.invalidate(baseId);
    }
  }

  async updateField(
    http: AirtableMetaOptions,
    baseId: string,
    tableId: string,
    fieldId: string,
    changes: Parameters<typeof updateField>[4],
  ) {
    try {
      return await updateField(http, baseId, tableId, fieldId, changes);
    } finally {
      this.invalidate(baseId);
    }
  }

  async updateTable(
    http: AirtableMetaOptions,
    baseId: string,
    tableId: string,
    changes: Parameters<typeof updateTable>[3],
  ): Promise<AirtableTableSchema> {
    try {
      return await updateTable(http, baseId, tableId, changes);
    } finally {
      this.invalidate(baseId);
    }
  }
}

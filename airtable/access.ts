import type { Pool } from 'pg';
import type { AirtableMetaOptions } from './meta';
import { PostgresPacer, type AirtablePacer, type PacerOptions } from './pacing';
import { createAirtableRecords, type AirtableRecords } from './records';
import { meteredPacer, RequestMeter } from './request-meter';
import { SchemaCache, type SchemaCacheOptions } from './schema-cache';

/**
 * Everything a process needs to reach Airtable: where it is, and the two stateful helpers every
 * caller must share (one pacer, so the process books its requests in one place; one schema cache,
 * so a schema change the platform makes is seen by every caller at once). Built once per process
 * at its composition root (`workers/main.ts`, `api/main.ts`) and injected.
 */
export interface AirtableAccess {
  /** API root, e.g. `https://api.airtable.com` or an emulator. */
  endpointUrl: string;
  /** Timeout of one request. @default 30000 */
  requestTimeoutMs: number;
  pacer: AirtablePacer;
  schemas: SchemaCache;
  /** Counts requests per base and day for usage. */
  meter: RequestMeter;
}

/** Options of {@link createAirtableAccess}. */
export interface AirtableAccessOptions {
  endpointUrl: string;
  /** @default 30000 */
  requestTimeoutMs?: number;
  /** @default a {@link PostgresPacer} on the pool with these options */
  pacer?: AirtablePacer | PacerOptions;
  /** @default a {@link SchemaCache} with these options */
  schemas?: SchemaCache | SchemaCacheOptions;
}

/** The process's one {@link AirtableAccess}. */
export function createAirtableAccess(pool: Pool, options: AirtableAccessOptions): AirtableAccess {
  const pacer = options.pacer;
  const schemas = options.schemas;
  const meter = new RequestMeter(pool);
  return {
    endpointUrl: options.endpointUrl,
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    pacer: meteredPacer(isPacer(pacer) ? pacer : new PostgresPacer(pool, pacer), meter),
    schemas: schemas instanceof SchemaCache ? schemas : new SchemaCache(schemas),
    meter,
  };
}

function isPacer(value: AirtablePacer | PacerOptions | undefined): value is AirtablePacer {
  return typeof (value as AirtablePacer | undefined)?.acquire === 'function';
}

/** A base and the token that opens it. */
export interface BaseCredentials {
  baseId: string;
  token: string;
}

/** Record access to one base, paced with everything else in the process. */
export function baseRecords(
  access: AirtableAccess,
  credentials: BaseCredentials,
  signal?: AbortSignal,
): AirtableRecords {
  return createAirtableRecords({
    endpointUrl: access.endpointUrl,
    token: credentials.token,
    baseId: credentials.baseId,
    pacer: access.pacer,
    timeoutMs: access.requestTimeoutMs,
    signal,
  });
}

/** Options of meta-API calls with `token`, paced with everything else in the process. */
export function metaOptions(
  access: AirtableAccess,
  token: string,
  signal?: AbortSignal,
): AirtableMetaOptions {
  return {
    endpointUrl: access.endpointUrl,
    token,
    timeoutMs: access.requestTimeoutMs,
    signal,
    pacer: access.pacer,
  };
}

import { ApiError, GoogleGenAI } from '@google/genai';
import type { GeminiEmulator, GoogleErrorBody } from '../src';

export const FLASH = 'gemini-2.5-flash';
export const GEMINI_3 = 'gemini-3-flash-preview';

/** The official client pointed at the emulator (no retries: the SDK retries only when told to). */
export function clientFor(
  emulator: GeminiEmulator,
  options: { key?: string; scope?: string } = {},
): GoogleGenAI {
  return new GoogleGenAI({
    apiKey: options.key ?? emulator.key,
    httpOptions: {
      baseUrl: emulator.url,
      ...(options.scope ? { headers: { 'x-emulator-scope': options.scope } } : {}),
    },
  });
}

/** A raw POST to a model method, for what the SDK would not send. */
export async function post(
  emulator: GeminiEmulator,
  path: string,
  body: unknown,
  headers: Record<string, string> = { 'x-goog-api-key': emulator.key },
): Promise<{ status: number; contentType: string | null; json: () => Promise<unknown>; text: string }> {
  const response = await fetch(`${emulator.url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    text,
    json: async () => JSON.parse(text) as unknown,
  };
}

/** What a call threw: the SDK's ApiError, with the Google error body parsed from its message. */
export async function apiErrorOf(
  promise: Promise<unknown>,
): Promise<{ error: ApiError; body: GoogleErrorBody }> {
  try {
    await promise;
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return { error: err, body: JSON.parse(err.message) as GoogleErrorBody };
  }
  throw new Error('expected the call to fail');
}

export const listTablesDeclaration = {
  name: 'list_tables',
  description: 'Lists the tables of a base.',
  parametersJsonSchema: {
    type: 'object',
    properties: { baseId: { type: 'string' } },
    required: ['baseId'],
    additionalProperties: false,
    $schema: 'http://json-schema.org/draft-07/schema#',
  },
};

export const listRecordsDeclaration = {
  name: 'list_records',
  description: 'Lists records of a table.',
  parametersJsonSchema: {
    type: 'object',
    properties: { baseId: { type: 'string' }, tableId: { type: 'string' }, maxRecords: { type: 'number' } },
    required: ['baseId', 'tableId'],
  },
};

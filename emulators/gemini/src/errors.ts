/**
 * Every non-2xx answer of the emulator, in Google's `{"error":{"code","message","status"}}` shape.
 * Handlers throw it; the server turns it into the response, so no path leaks a stack or an HTML page.
 */
import type { GoogleErrorBody, GoogleStatus } from './types';

export const STATUS_NAMES: Readonly<Record<number, GoogleStatus>> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'UNIMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

const CODES: Readonly<Record<GoogleStatus, number>> = {
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ABORTED: 409,
  RESOURCE_EXHAUSTED: 429,
  CANCELLED: 499,
  INTERNAL: 500,
  UNIMPLEMENTED: 501,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
};

/** The messages Google sends for each status (as seen from the Gemini API). */
export const DEFAULT_MESSAGES: Readonly<Record<number, string>> = {
  400: 'Request contains an invalid argument.',
  401: 'Request had invalid authentication credentials.',
  403: 'The caller does not have permission',
  404: 'Requested entity was not found.',
  409: 'The operation was aborted.',
  429: 'Resource has been exhausted (e.g. check quota).',
  499: 'The operation was cancelled.',
  500: 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
  501: 'Operation is not implemented, or supported, or enabled.',
  503: 'The model is overloaded. Please try again later.',
  504: 'Deadline expired before operation could complete.',
};

export const THOUGHT_SIGNATURE_MESSAGE = 'Function call is missing a thought_signature in functionCall parts';

export class GeminiError extends Error {
  constructor(
    readonly status: number,
    readonly body: GoogleErrorBody,
  ) {
    super(body.error.message);
  }
}

/** HTTP code of a status given as a code or a Google status name; throws on anything else. */
export function statusCode(status: number | string): number {
  if (typeof status === 'number') {
    if (!Number.isInteger(status) || status < 400 || status > 599)
      throw new TypeError('status must be an HTTP error code from 400 to 599');
    return status;
  }
  const code = CODES[status as GoogleStatus];
  if (code === undefined) throw new TypeError(`unknown status ${JSON.stringify(status)}`);
  return code;
}

/** `"32s"` from `"32s"`, `32` or `"32"`; throws on anything else. */
export function normalizeRetryDelay(delay: string | number): string {
  if (typeof delay === 'number' && Number.isFinite(delay) && delay >= 0) return `${delay}s`;
  if (typeof delay === 'string') {
    if (/^\d+(\.\d+)?s$/.test(delay)) return delay;
    if (/^\d+(\.\d+)?$/.test(delay)) return `${delay}s`;
  }
  throw new TypeError('retryDelay is a number of seconds or a duration like "32s"');
}

/** An error of any status; 429 gets Google's QuotaFailure, Help and RetryInfo details. */
export function googleError(
  status: number,
  options: { message?: string; retryDelay?: string; model?: string; details?: unknown[] } = {},
): GeminiError {
  const name: string = STATUS_NAMES[status] ?? (status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION');
  const message = options.message ?? DEFAULT_MESSAGES[status] ?? name;
  let details = options.details;
  if (details === undefined && status === 429)
    details = quotaDetails(options.model, options.retryDelay ?? '32s');
  return new GeminiError(status, {
    error: { code: status, message, status: name, ...(details ? { details } : {}) },
  });
}

function quotaDetails(model: string | undefined, retryDelay: string): unknown[] {
  return [
    {
      '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
      violations: [
        {
          quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
          quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier',
          quotaDimensions: { location: 'global', ...(model ? { model } : {}) },
          quotaValue: '10',
        },
      ],
    },
    {
      '@type': 'type.googleapis.com/google.rpc.Help',
      links: [
        {
          description: 'Learn more about Gemini API quotas',
          url: 'https://ai.google.dev/gemini-api/docs/rate-limits',
        },
      ],
    },
    { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay },
  ];
}

/** A 400 listing field violations the way Google's JSON parser reports them. */
export function fieldViolations(violations: Array<{ field: string; description: string }>): GeminiError {
  return googleError(400, {
    message: violations.map((v) => v.description).join('\n'),
    details: [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: violations }],
  });
}

export const errors = {
  invalidArgument: (message: string) => googleError(400, { message }),
  unknownName: (name: string, at?: string) =>
    fieldViolations([
      {
        field: at ?? '',
        description: `Invalid JSON payload received. Unknown name "${name}"${at ? ` at '${at}'` : ''}: Cannot find field.`,
      },
    ]),
  badJson: () => googleError(400, { message: 'Invalid JSON payload received. Unexpected token.' }),
  tooLarge: (limit: number) =>
    googleError(400, { message: `Request payload size exceeds the limit: ${limit} bytes.` }),
  missingKey: () =>
    googleError(403, {
      message:
        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
    }),
  /** A key the emulator does not know: 403 by default (the facts), 400 as Google answers malformed keys. */
  badKey: (status: 400 | 403) =>
    googleError(status, {
      message: 'API key not valid. Please pass a valid API key.',
      details: [
        {
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason: 'API_KEY_INVALID',
          domain: 'googleapis.com',
          metadata: { service: 'generativelanguage.googleapis.com' },
        },
      ],
    }),
  modelNotFound: (model: string, method: string) =>
    googleError(404, {
      message: `models/${model} is not found for API version v1beta, or is not supported for ${method}. Call ListModels to see the list of available models and their supported methods.`,
    }),
  routeNotFound: (path: string) => googleError(404, { message: `The requested URL ${path} was not found.` }),
  missingThoughtSignature: (functionName: string, position: number) =>
    googleError(400, {
      message: `${THOUGHT_SIGNATURE_MESSAGE}. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${functionName}\` , position ${position}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`,
    }),
  emulatorFailure: (message: string) => googleError(500, { message: `Gemini emulator: ${message}` }),
} as const;

// The wire shapes the emulator reads and writes (a subset of the Gemini API's JSON), and the public
// types of its options, scripts, faults and request log. Written from the API's documentation, not
// imported from `@google/genai`, so a wrong assumption in the platform's client code is not mirrored.

/** One piece of a turn. Exactly one data field (`text`, `functionCall`, `functionResponse`, …) is set. */
export interface WirePart {
  text?: string;
  thought?: boolean;
  /** Opaque; the model's reasoning state, to be sent back exactly as received. */
  thoughtSignature?: string;
  functionCall?: WireFunctionCall;
  functionResponse?: WireFunctionResponse;
  inlineData?: { mimeType?: string; data?: string };
  fileData?: { mimeType?: string; fileUri?: string };
  [key: string]: unknown;
}

export interface WireFunctionCall {
  id?: string;
  name: string;
  args?: Record<string, unknown>;
}

export interface WireFunctionResponse {
  id?: string;
  name: string;
  response?: Record<string, unknown>;
}

export interface WireContent {
  /** `user` or `model`; a missing role counts as `user`. */
  role?: string;
  parts: WirePart[];
}

export interface WireFunctionDeclaration {
  name: string;
  description?: string;
  /** OpenAPI-subset `Schema` (no `additionalProperties`, no `$schema`). */
  parameters?: Record<string, unknown>;
  /** Plain JSON Schema. */
  parametersJsonSchema?: unknown;
  response?: Record<string, unknown>;
  responseJsonSchema?: unknown;
  behavior?: string;
}

export interface WireTool {
  functionDeclarations?: WireFunctionDeclaration[];
  [key: string]: unknown;
}

export type FunctionCallingMode = 'AUTO' | 'ANY' | 'NONE' | 'VALIDATED' | 'MODE_UNSPECIFIED';

/** The body of `generateContent` / `streamGenerateContent` (camelCase, as `@google/genai` sends it). */
export interface GenerateContentRequest {
  contents: WireContent[];
  systemInstruction?: { role?: string; parts: WirePart[] };
  tools?: WireTool[];
  toolConfig?: { functionCallingConfig?: { mode?: FunctionCallingMode; allowedFunctionNames?: string[] } };
  generationConfig?: Record<string, unknown>;
  safetySettings?: unknown[];
  cachedContent?: string;
}

export interface UsageMetadata {
  promptTokenCount: number;
  candidatesTokenCount: number;
  /** Present for thinking models; billed as output. */
  thoughtsTokenCount?: number;
  toolUsePromptTokenCount?: number;
  cachedContentTokenCount?: number;
  totalTokenCount: number;
  promptTokensDetails?: Array<{ modality: string; tokenCount: number }>;
}

export type FinishReason =
  | 'STOP'
  | 'MAX_TOKENS'
  | 'SAFETY'
  | 'RECITATION'
  | 'LANGUAGE'
  | 'OTHER'
  | 'BLOCKLIST'
  | 'PROHIBITED_CONTENT'
  | 'SPII'
  | 'MALFORMED_FUNCTION_CALL'
  | 'UNEXPECTED_TOOL_CALL'
  | 'TOO_MANY_TOOL_CALLS';

export interface GenerateContentResponse {
  candidates: Array<{
    content?: { role: 'model'; parts: WirePart[] };
    finishReason?: FinishReason;
    index: number;
  }>;
  usageMetadata: UsageMetadata;
  modelVersion: string;
  responseId: string;
}

/** Google's error body: `{"error":{"code","message","status","details"?}}`. */
export interface GoogleErrorBody {
  error: { code: number; message: string; status: string; details?: unknown[] };
}

// ---------------------------------------------------------------------------------------------
// Scripts

/** A function call the model makes; `id` is generated when left out. */
export interface ScriptedFunctionCall {
  name: string;
  args?: Record<string, unknown>;
  id?: string;
}

/**
 * A model answer. `text` comes first, then the `functionCalls` (several = parallel calls in one
 * turn). With neither, the candidate has no content (e.g. `{ finishReason: 'SAFETY' }`).
 */
export interface ScriptedReply {
  text?: string;
  functionCalls?: ScriptedFunctionCall[];
  /** @default 'STOP' */
  finishReason?: FinishReason;
  /** Overrides computed token counts (`totalTokenCount` is recomputed unless given). */
  usageMetadata?: Partial<UsageMetadata>;
  /**
   * Attach a thought signature (to the first function call, or to the last text part when there
   * are no calls). @default whether the model is a thinking model (`thinkingModels`)
   */
  thoughtSignature?: boolean;
}

/** An error answer in Google's shape. `status` is the HTTP code or Google's status name. */
export interface ScriptedError {
  error: {
    status: number | GoogleStatus;
    message?: string;
    /** 429 only: the `google.rpc.RetryInfo` delay, e.g. `"32s"` or a number of seconds. */
    retryDelay?: string | number;
    /** Replaces the default `details`. */
    details?: unknown[];
  };
}

export type ScriptedAnswer = ScriptedReply | ScriptedError;

/** What a scripted function sees of the request it answers. */
export interface GeminiRequestView {
  model: string;
  stream: boolean;
  /** The API key the request used. */
  key: string;
  /** The `x-emulator-scope` header, when sent. */
  scope?: string;
  body: GenerateContentRequest;
  /** The text of the latest user content that has text, if any. */
  lastUserText?: string;
  /** The `functionResponse` parts of the last content, when it is a user turn of function responses. */
  functionResponses: WireFunctionResponse[];
  /** Names of every declared function. */
  declaredFunctions: string[];
}

/** A programmatic turn: computes the answer from the request (not available over HTTP). */
export type ScriptedFunction = (request: GeminiRequestView) => ScriptedAnswer | Promise<ScriptedAnswer>;

/** One queued answer. */
export type ScriptedTurn = ScriptedAnswer | ScriptedFunction;

export interface ScriptOptions {
  /**
   * The queue to append to. A request takes its answer from the queue named by its
   * `x-emulator-scope` header, else from the queue named by its API key, else from the shared
   * queue (no scope). @default the shared queue
   */
  scope?: string;
}

// ---------------------------------------------------------------------------------------------
// Faults

/** Google status names the emulator knows (HTTP code → name in `STATUS_NAMES`). */
export type GoogleStatus =
  | 'INVALID_ARGUMENT'
  | 'FAILED_PRECONDITION'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'NOT_FOUND'
  | 'ABORTED'
  | 'RESOURCE_EXHAUSTED'
  | 'CANCELLED'
  | 'INTERNAL'
  | 'UNIMPLEMENTED'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED';

/** "The next `count` requests answer `status`." */
export interface FailNext {
  status: number | GoogleStatus;
  /** @default 1 */
  count?: number;
  /** 429: the RetryInfo delay (`"32s"`, or seconds). @default the emulator's `retryDelay` */
  retryDelay?: string | number;
  message?: string;
}

/** A fixed delay in ms, or a `[min, max]` range drawn uniformly per request. */
export type GeminiLatency = number | [number, number];

/** Injected misbehaviour; `setFaults` replaces all of it. */
export interface GeminiFaults {
  /** Queued failures, used up in order (each `count` times) before anything else is answered. */
  failNext?: FailNext | FailNext[];
  /** Share (0..1) of requests answering a random status of `serverErrorStatuses`. @default 0 */
  serverErrorRate?: number;
  /** @default [500, 503] */
  serverErrorStatuses?: number[];
  /** Added before every model API answer (the first byte of a stream). @default 0 */
  latencyMs?: GeminiLatency;
  /** Pause between stream chunks. @default 0 */
  streamChunkDelayMs?: number;
}

// ---------------------------------------------------------------------------------------------
// Request log

/** Who produced an answer. */
export type AnsweredBy = 'script' | 'assistant' | 'fault' | 'validation' | 'auth' | 'emulator';

/** One answered model API request (control calls under `/__emulator/` are not logged). */
export interface GeminiRequestLogEntry {
  /** Epoch ms at arrival. */
  at: number;
  method: string;
  /** Path and query as received, with a `key=` query value replaced by `REDACTED`. */
  path: string;
  model?: string;
  /** `generateContent`, `streamGenerateContent`, `countTokens`, `get`, `list`. */
  action?: string;
  stream: boolean;
  status: number;
  durationMs: number;
  answeredBy: AnsweredBy;
  /** The `x-emulator-scope` header, when sent. */
  scope?: string;
  /** The parsed JSON body (or the raw text when it was not JSON). */
  body?: unknown;
  /** The answer: the JSON body, or the list of chunks of a stream. */
  response?: unknown;
}

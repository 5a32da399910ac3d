import { ApiError, GoogleGenAI, type Content, type FunctionDeclaration } from '@google/genai';
import type { ModelPrice } from '../../core/agent-config';

// The language model behind the agent, behind an interface of our own: Gemini through the official
// `@google/genai` client today; tests and benchmarks can put anything that answers alike behind it.

/** One call of the model. */
export interface ModelRequest {
  model: string;
  systemInstruction: string;
  contents: Content[];
  tools: FunctionDeclaration[];
  signal?: AbortSignal;
}

/** The model's answer: its turn exactly as sent (thought signatures included), and what it cost. */
export interface ModelResponse {
  content: Content;
  modelVersion?: string;
  finishReason?: string;
  usage: { inputTokens: number; outputTokens: number; thinkingTokens: number };
}

/** A language model. */
export interface LanguageModel {
  generate(request: ModelRequest): Promise<ModelResponse>;
}

/** A refusal or failure of the model's API, classified for retries. */
export class ModelError extends Error {
  override name = 'ModelError';
  constructor(
    message: string,
    /** HTTP status; 0 for network errors and timeouts. */
    readonly status: number,
    /** What Google asked us to wait (429's RetryInfo), in ms. */
    readonly retryDelayMs?: number,
  ) {
    super(message);
  }

  /** 429, 5xx and network errors pass; 400 (bad request) and 403 (bad key) will not. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

/** Options of {@link createGeminiModel}. */
export interface GeminiOptions {
  apiKey: string;
  /** @default Google's endpoint */
  baseUrl?: string;
  /** @default 60000 */
  timeoutMs?: number;
}

/** Gemini through `@google/genai`. The SDK does not retry (Temporal's activity retries do). */
export function createGeminiModel(options: GeminiOptions): LanguageModel {
  const client = new GoogleGenAI({
    apiKey: options.apiKey,
    httpOptions: {
      ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
      timeout: options.timeoutMs ?? 60_000,
    },
  });
  return {
    async generate(request) {
      let response;
      try {
        response = await client.models.generateContent({
          model: request.model,
          contents: request.contents,
          config: {
            systemInstruction: request.systemInstruction,
            ...(request.tools.length > 0 ? { tools: [{ functionDeclarations: request.tools }] } : {}),
            abortSignal: request.signal,
          },
        });
      } catch (err) {
        throw toModelError(err);
      }
      const candidate = response.candidates?.[0];
      const usage = response.usageMetadata;
      return {
        content: candidate?.content ?? { role: 'model', parts: [] },
        modelVersion: response.modelVersion,
        finishReason: candidate?.finishReason,
        usage: {
          inputTokens: usage?.promptTokenCount ?? 0,
          outputTokens: usage?.candidatesTokenCount ?? 0,
          thinkingTokens: usage?.thoughtsTokenCount ?? 0,
        },
      };
    },
  };
}

/** The SDK's ApiError (its message is Google's JSON error body) as a {@link ModelError}. */
export function toModelError(err: unknown): ModelError {
  if (err instanceof ModelError) return err;
  if (err instanceof ApiError) {
    const delay = /"retryDelay"\s*:\s*"(\d+(?:\.\d+)?)s"/.exec(err.message)?.[1];
    let message = err.message;
    try {
      message = (JSON.parse(err.message) as { error?: { message?: string } }).error?.message ?? err.message;
    } catch {
      // not JSON: keep the SDK's text
    }
    return new ModelError(
      message,
      err.status,
      delay === undefined ? undefined : Math.ceil(Number(delay) * 1000),
    );
  }
  return new ModelError(err instanceof Error ? err.message : String(err), 0);
}

export type { ModelPrice };

/**
 * What a call cost. A model missing from the table is priced as the dearest one known, so a
 * budget errs on the safe side.
 */
export function costOf(
  prices: Readonly<Record<string, ModelPrice>>,
  model: string,
  usage: ModelResponse['usage'],
): number {
  const price =
    prices[model] ??
    Object.values(prices).reduce<ModelPrice>(
      (max, p) => (p.outputPerMillion > max.outputPerMillion ? p : max),
      { inputPerMillion: 0, outputPerMillion: 0 },
    );
  return (
    (usage.inputTokens * price.inputPerMillion +
      (usage.outputTokens + usage.thinkingTokens) * price.outputPerMillion) /
    1_000_000
  );
}

/**
 * Turning a model answer (text and/or function calls) into `GenerateContentResponse` bodies: one
 * for `generateContent`, a list of chunks for `streamGenerateContent` (text split across chunks,
 * function calls whole in the last one), with ids, thought signatures and token counts.
 */
import { randomBytes } from 'node:crypto';
import type {
  FinishReason,
  GenerateContentResponse,
  ScriptedFunctionCall,
  UsageMetadata,
  WirePart,
} from './types';

/** What the model says in one answer, before it is put on the wire. */
export interface ModelAnswer {
  text?: string;
  functionCalls: ScriptedFunctionCall[];
  finishReason: FinishReason;
  thoughtSignature: boolean;
  usageMetadata?: Partial<UsageMetadata>;
}

/** Everything of a request that shapes its answer. */
export interface AnswerContext {
  model: string;
  /** Characters the request sends (see `requestChars`). */
  promptChars: number;
  thinking: boolean;
  /** Preferred size of a streamed text chunk. */
  streamChunkChars: number;
}

/** Tokens as the emulator estimates them: a quarter of the characters, rounded up. */
export const tokensOf = (chars: number): number => Math.ceil(chars / 4);

/** Thinking tokens a thinking model reports for an answer of `candidates` tokens (deterministic). */
export const thoughtsFor = (candidates: number): number => 32 + 2 * candidates;

const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
function randomId(length: number): string {
  const bytes = randomBytes(length);
  let id = '';
  for (const byte of bytes) id += alphabet[byte % alphabet.length];
  return id;
}

/** Like Google's: 22 URL-safe characters. */
export const newResponseId = (): string => randomBytes(16).toString('base64url').slice(0, 22);

/** An opaque signature the emulator can recognise as its own (base64, as the API sends bytes). */
export function newThoughtSignature(responseId: string, index: number): string {
  return Buffer.from(`gemini-emulator:${responseId}:${index}:${randomId(12)}`).toString('base64');
}

function usage(
  context: AnswerContext,
  outputChars: number,
  override: Partial<UsageMetadata> | undefined,
): UsageMetadata {
  const promptTokenCount = override?.promptTokenCount ?? Math.max(1, tokensOf(context.promptChars));
  const candidatesTokenCount = override?.candidatesTokenCount ?? tokensOf(outputChars);
  const thoughtsTokenCount =
    override?.thoughtsTokenCount ?? (context.thinking ? thoughtsFor(candidatesTokenCount) : undefined);
  const result: UsageMetadata = {
    promptTokenCount,
    candidatesTokenCount,
    ...(thoughtsTokenCount !== undefined ? { thoughtsTokenCount } : {}),
    totalTokenCount: 0,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: promptTokenCount }],
  };
  if (override?.toolUsePromptTokenCount !== undefined)
    result.toolUsePromptTokenCount = override.toolUsePromptTokenCount;
  if (override?.cachedContentTokenCount !== undefined)
    result.cachedContentTokenCount = override.cachedContentTokenCount;
  result.totalTokenCount =
    override?.totalTokenCount ??
    promptTokenCount +
      candidatesTokenCount +
      (thoughtsTokenCount ?? 0) +
      (result.toolUsePromptTokenCount ?? 0);
  return result;
}

function callParts(answer: ModelAnswer, responseId: string): WirePart[] {
  return answer.functionCalls.map((call, index) => {
    const part: WirePart = {
      functionCall: { name: call.name, args: call.args ?? {}, id: call.id ?? randomId(8) },
    };
    if (index === 0 && answer.thoughtSignature) part.thoughtSignature = newThoughtSignature(responseId, 0);
    return part;
  });
}

const outputChars = (parts: WirePart[]): number =>
  parts.reduce(
    (n, p) => n + (typeof p.text === 'string' ? p.text.length : JSON.stringify(p.functionCall ?? {}).length),
    0,
  );

/** The `generateContent` answer. */
export function buildResponse(answer: ModelAnswer, context: AnswerContext): GenerateContentResponse {
  const responseId = newResponseId();
  const parts: WirePart[] = [];
  if (answer.text !== undefined) parts.push({ text: answer.text });
  parts.push(...callParts(answer, responseId));
  if (answer.functionCalls.length === 0 && answer.thoughtSignature && parts.length > 0)
    parts[parts.length - 1]!.thoughtSignature = newThoughtSignature(responseId, parts.length - 1);
  return {
    candidates: [
      {
        ...(parts.length > 0 ? { content: { role: 'model' as const, parts } } : {}),
        finishReason: answer.finishReason,
        index: 0,
      },
    ],
    usageMetadata: usage(context, outputChars(parts), answer.usageMetadata),
    modelVersion: context.model,
    responseId,
  };
}

/** Splits text at word boundaries into pieces of about `size` characters (never empty pieces). */
export function splitText(text: string, size: number): string[] {
  if (text.length <= size) return [text];
  const words = text.match(/\S+\s*|\s+/g) ?? [text];
  const pieces: string[] = [];
  let current = '';
  for (const word of words) {
    current += word;
    if (current.length >= size) {
      pieces.push(current);
      current = '';
    }
  }
  if (current !== '') pieces.push(current);
  return pieces;
}

/**
 * The `streamGenerateContent` answer: text pieces first, then one chunk with every function call;
 * the last chunk carries the finish reason. Each chunk has the running token counts.
 */
export function buildStream(answer: ModelAnswer, context: AnswerContext): GenerateContentResponse[] {
  const responseId = newResponseId();
  const chunkParts: WirePart[][] = [];
  if (answer.text !== undefined && answer.text !== '')
    for (const piece of splitText(answer.text, context.streamChunkChars)) chunkParts.push([{ text: piece }]);
  else if (answer.text === '') chunkParts.push([{ text: '' }]);
  const calls = callParts(answer, responseId);
  if (calls.length > 0) chunkParts.push(calls);
  else if (answer.thoughtSignature && chunkParts.length > 0)
    chunkParts[chunkParts.length - 1]![0]!.thoughtSignature = newThoughtSignature(responseId, 0);
  if (chunkParts.length === 0) chunkParts.push([]);

  let chars = 0;
  return chunkParts.map((parts, index) => {
    chars += outputChars(parts);
    const last = index === chunkParts.length - 1;
    return {
      candidates: [
        {
          ...(parts.length > 0 ? { content: { role: 'model' as const, parts } } : {}),
          ...(last ? { finishReason: answer.finishReason } : {}),
          index: 0,
        },
      ],
      usageMetadata: usage(context, chars, last ? answer.usageMetadata : undefined),
      modelVersion: context.model,
      responseId,
    };
  });
}

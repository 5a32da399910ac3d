/**
 * A Gemini API emulator: generateContent and streamGenerateContent, function calling with thought
 * signatures, Google's error bodies, injected faults, a request log and scripted turns, driven by
 * the official `@google/genai` client or plain HTTP. See README.md beside this file.
 */
export {
  DEFAULT_GEMINI_KEY,
  DEFAULT_MODELS,
  DEFAULT_THINKING_MODELS,
  SCOPE_HEADER,
  startGeminiEmulator,
  type GeminiEmulator,
  type GeminiEmulatorOptions,
} from './server';
export { THOUGHT_SIGNATURE_MESSAGE } from './errors';
export type { ActiveFaults, PendingFailure } from './faults';
export type {
  AnsweredBy,
  FailNext,
  FinishReason,
  GeminiFaults,
  GeminiLatency,
  GeminiRequestLogEntry,
  GeminiRequestView,
  GenerateContentRequest,
  GenerateContentResponse,
  GoogleErrorBody,
  GoogleStatus,
  ScriptedAnswer,
  ScriptedError,
  ScriptedFunction,
  ScriptedFunctionCall,
  ScriptedReply,
  ScriptedTurn,
  ScriptOptions,
  UsageMetadata,
  WireContent,
  WireFunctionCall,
  WireFunctionDeclaration,
  WireFunctionResponse,
  WirePart,
} from './types';

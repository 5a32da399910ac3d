/**
 * Scripted turns: queues of answers, consumed in order. A request takes its answer from the queue
 * named by its `x-emulator-scope` header, else the queue named by its API key, else the shared
 * queue, so tests running in parallel against one emulator do not take each other's answers.
 */
import { normalizeRetryDelay, statusCode } from './errors';
import type { FinishReason, ScriptedAnswer, ScriptedReply, ScriptedTurn } from './types';

export const SHARED_SCOPE = '';

const FINISH_REASONS = new Set<FinishReason>([
  'STOP',
  'MAX_TOKENS',
  'SAFETY',
  'RECITATION',
  'LANGUAGE',
  'OTHER',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'MALFORMED_FUNCTION_CALL',
  'UNEXPECTED_TOOL_CALL',
  'TOO_MANY_TOOL_CALLS',
]);

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Checks a JSON (or programmatic) answer; throws a TypeError naming what is wrong. */
export function checkAnswer(answer: unknown, at = 'turn'): ScriptedAnswer {
  if (!isObject(answer)) throw new TypeError(`${at} must be an object (or a function, programmatically)`);
  if ('error' in answer) {
    const error = answer.error;
    if (!isObject(error) || error.status === undefined)
      throw new TypeError(`${at}.error needs a status (an HTTP code or a name like "RESOURCE_EXHAUSTED")`);
    statusCode(error.status as number | string);
    if (error.retryDelay !== undefined) normalizeRetryDelay(error.retryDelay as string | number);
    if (error.message !== undefined && typeof error.message !== 'string')
      throw new TypeError(`${at}.error.message must be a string`);
    if (error.details !== undefined && !Array.isArray(error.details))
      throw new TypeError(`${at}.error.details must be an array`);
    return answer as unknown as ScriptedAnswer;
  }
  const reply = answer as ScriptedReply;
  const known = new Set(['text', 'functionCalls', 'finishReason', 'usageMetadata', 'thoughtSignature']);
  const unknown = Object.keys(answer).filter((k) => !known.has(k));
  if (unknown.length > 0)
    throw new TypeError(
      `${at} has unknown keys ${unknown.join(', ')}; a turn is {text}, {functionCalls:[{name,args}]} or {error:{status}}`,
    );
  if (reply.text === undefined && reply.functionCalls === undefined && reply.finishReason === undefined)
    throw new TypeError(`${at} needs text, functionCalls or finishReason`);
  if (reply.text !== undefined && typeof reply.text !== 'string')
    throw new TypeError(`${at}.text must be a string`);
  if (reply.functionCalls !== undefined) {
    if (!Array.isArray(reply.functionCalls)) throw new TypeError(`${at}.functionCalls must be an array`);
    reply.functionCalls.forEach((call, i) => {
      if (!isObject(call) || typeof call.name !== 'string' || call.name === '')
        throw new TypeError(`${at}.functionCalls[${i}] needs a name`);
      if (call.args !== undefined && !isObject(call.args))
        throw new TypeError(`${at}.functionCalls[${i}].args must be an object`);
      if (call.id !== undefined && typeof call.id !== 'string')
        throw new TypeError(`${at}.functionCalls[${i}].id must be a string`);
    });
  }
  if (reply.finishReason !== undefined && !FINISH_REASONS.has(reply.finishReason))
    throw new TypeError(`${at}.finishReason must be one of ${[...FINISH_REASONS].join(', ')}`);
  if (reply.usageMetadata !== undefined && !isObject(reply.usageMetadata))
    throw new TypeError(`${at}.usageMetadata must be an object`);
  if (reply.thoughtSignature !== undefined && typeof reply.thoughtSignature !== 'boolean')
    throw new TypeError(`${at}.thoughtSignature must be a boolean`);
  return reply;
}

export class ScriptQueues {
  private readonly queues = new Map<string, ScriptedTurn[]>();

  /** Appends turns to a queue (checked first: a bad list queues nothing). */
  add(turns: ScriptedTurn[], scope = SHARED_SCOPE): number {
    if (!Array.isArray(turns)) throw new TypeError('a script is an array of turns');
    if (typeof scope !== 'string') throw new TypeError('scope must be a string');
    turns.forEach((turn, i) => {
      if (typeof turn !== 'function') checkAnswer(turn, `turns[${i}]`);
    });
    const queue = this.queues.get(scope) ?? [];
    queue.push(...turns);
    this.queues.set(scope, queue);
    return queue.length;
  }

  /** The next turn for a request, from its scope's queue, its key's queue, or the shared one. */
  take(scope: string | undefined, key: string): ScriptedTurn | undefined {
    for (const name of [scope, key, SHARED_SCOPE]) {
      if (name === undefined) continue;
      const queue = this.queues.get(name);
      if (queue && queue.length > 0) return queue.shift();
    }
    return undefined;
  }

  /** Whether a request would find a queue that was ever scripted (empty or not). */
  hasQueue(scope: string | undefined, key: string): boolean {
    return [scope, key, SHARED_SCOPE].some((name) => name !== undefined && this.queues.has(name));
  }

  clear(scope?: string): void {
    if (scope === undefined) this.queues.clear();
    else this.queues.delete(scope);
  }

  /** Turns left per queue (`""` is the shared queue). */
  pending(): Record<string, number> {
    return Object.fromEntries([...this.queues].map(([name, queue]) => [name, queue.length]));
  }
}

/** Injected faults: queued failures ("the next N requests answer 429"), random 5xx, latency. */
import { normalizeRetryDelay, statusCode } from './errors';
import type { FailNext, GeminiFaults, GeminiLatency } from './types';

/** One queued failure, as held (and shown by `GET /__emulator/faults`). */
export interface PendingFailure {
  status: number;
  remaining: number;
  retryDelay?: string;
  message?: string;
}

export interface ActiveFaults {
  failNext: PendingFailure[];
  serverErrorRate: number;
  serverErrorStatuses: number[];
  latencyMs: GeminiLatency;
  streamChunkDelayMs: number;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function normalizeLatency(latency: unknown): GeminiLatency {
  if (typeof latency === 'number' && latency >= 0) return latency;
  if (Array.isArray(latency) && latency.length === 2) {
    const [min, max] = latency as unknown[];
    if (typeof min === 'number' && typeof max === 'number' && min >= 0 && max >= min) return [min, max];
  }
  throw new TypeError('latencyMs is a number of ms >= 0 or a [min, max] range');
}

function normalizeFailure(failure: FailNext, index: number): PendingFailure {
  if (!isObject(failure)) throw new TypeError(`failNext[${index}] must be an object`);
  const count = failure.count ?? 1;
  if (!Number.isInteger(count) || count < 1)
    throw new TypeError(`failNext[${index}].count must be an integer >= 1`);
  if (failure.message !== undefined && typeof failure.message !== 'string')
    throw new TypeError(`failNext[${index}].message must be a string`);
  return {
    status: statusCode(failure.status),
    remaining: count,
    ...(failure.retryDelay !== undefined ? { retryDelay: normalizeRetryDelay(failure.retryDelay) } : {}),
    ...(failure.message !== undefined ? { message: failure.message } : {}),
  };
}

export function normalizeFaults(faults: GeminiFaults): ActiveFaults {
  if (!isObject(faults)) throw new TypeError('faults must be an object');
  const rate = faults.serverErrorRate ?? 0;
  if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1))
    throw new TypeError('serverErrorRate must be a number from 0 to 1');
  const statuses = faults.serverErrorStatuses ?? [500, 503];
  if (!Array.isArray(statuses) || statuses.length === 0)
    throw new TypeError('serverErrorStatuses must be a non-empty array of HTTP codes');
  const chunkDelay = faults.streamChunkDelayMs ?? 0;
  if (typeof chunkDelay !== 'number' || !(chunkDelay >= 0))
    throw new TypeError('streamChunkDelayMs must be a number >= 0');
  const failNext =
    faults.failNext === undefined ? [] : Array.isArray(faults.failNext) ? faults.failNext : [faults.failNext];
  return {
    failNext: failNext.map(normalizeFailure),
    serverErrorRate: rate,
    serverErrorStatuses: statuses.map((s) => statusCode(s)),
    latencyMs: normalizeLatency(faults.latencyMs ?? 0),
    streamChunkDelayMs: chunkDelay,
  };
}

/** The next queued failure, used up by one. */
export function takeFailure(faults: ActiveFaults): PendingFailure | undefined {
  const next = faults.failNext[0];
  if (!next) return undefined;
  next.remaining -= 1;
  if (next.remaining <= 0) faults.failNext.shift();
  return next;
}

export function drawLatency(latency: GeminiLatency, random: () => number = Math.random): number {
  if (typeof latency === 'number') return latency;
  const [min, max] = latency;
  return min + random() * (max - min);
}

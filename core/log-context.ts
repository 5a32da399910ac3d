import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What every log line written while serving one request (or running one activity) carries, however
 * deep the code that writes it: the request id, and the workflow (job) and activity it concerns.
 * The loggers of `core/logger.ts` add the current context to each line (pino's mixin), so domain
 * code logs as usual and the ids come along.
 */
export interface LogContext {
  requestId?: string;
  workflowId?: string;
  runId?: string;
  workflowType?: string;
  activityId?: string;
  activityType?: string;
  attempt?: number;
}

const storage = new AsyncLocalStorage<LogContext>();

/** Runs `fn` with `context` (merged over the current one) on every log line it writes. */
export function withLogContext<T>(context: LogContext, fn: () => T): T {
  return storage.run({ ...storage.getStore(), ...context }, fn);
}

/** Adds to the current context (e.g. the job a request turned out to concern); no-op outside one. */
export function addToLogContext(context: LogContext): void {
  const store = storage.getStore();
  if (store) Object.assign(store, context);
}

/** The current context, for the loggers' mixin. */
export function currentLogContext(): LogContext {
  return storage.getStore() ?? {};
}

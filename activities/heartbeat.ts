import { Context } from '@temporalio/activity';

/**
 * Heartbeats now and then every `everyMs` until `work` settles, so Temporal can tell a slow call
 * (a paced request, a long slice) from a dead worker within the activity's heartbeat timeout.
 */
export async function heartbeatWhile<T>(work: () => Promise<T>, everyMs: number): Promise<T> {
  const context = Context.current();
  context.heartbeat();
  const timer = setInterval(() => context.heartbeat(), everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

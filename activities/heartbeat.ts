import { Context } from '@temporalio/activity';

/**
 * Heartbeats every `everyMs` until `work` settles, so Temporal can tell a slow call (a paced request,
 * a long slice) from a dead worker within the activity's heartbeat timeout. The first beat waits a
 * whole interval: the timeout counts from the start anyway, and a beat at once would cost most
 * activities (which finish in milliseconds) one more request to the server and one more write there.
 */
export async function heartbeatWhile<T>(work: () => Promise<T>, everyMs: number): Promise<T> {
  const context = Context.current();
  const timer = setInterval(() => context.heartbeat(), everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

import { Context } from '@temporalio/activity';

/**
 * Heartbeats every `everyMs` until `work` settles, so Temporal can tell a slow call (a paced request,
 * a long slice) from a dead worker within the activity's heartbeat timeout. The first beat waits a
 * whole interval: the timeout counts from the start anyway, and a beat at once would cost most
 * activities (which finish in milliseconds) one more request to the server and one more write there.
 *
 * A local activity does not beat: the server has no activity to record it on (the SDK would encode
 * each beat and the worker's core would drop it with a warning); its liveness is that of the open
 * workflow task, which the worker heartbeats itself.
 */
export async function heartbeatWhile<T>(work: () => Promise<T>, everyMs: number): Promise<T> {
  const context = Context.current();
  if (context.info.isLocal) return work();
  const timer = setInterval(() => context.heartbeat(), everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

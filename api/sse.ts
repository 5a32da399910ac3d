import type { Request, Response } from 'express';

/**
 * Server-sent events, the one mechanism every live stream of the API uses (a conversation's events,
 * a job's progress). Each event carries its id, so a client that reconnects with `Last-Event-ID`
 * (EventSource does it by itself) is sent exactly what came after the last event it saw.
 */

/** One event of a stream: `id` is the cursor a reconnecting client hands back. */
export interface StreamEvent {
  id: string;
  type: string;
  data: unknown;
}

/** How a stream reads its events. */
export interface EventStream {
  /** Where the client starts: `Last-Event-ID` (or `?after=`), already validated by the route. */
  from: string;
  /**
   * The events after `after`, oldest first; an empty list when there are none yet. It may wait for
   * new events itself (a long poll), as long as it returns once `signal` aborts.
   */
  read(after: string, signal: AbortSignal): Promise<StreamEvent[]>;
  /** Whether `event` is the stream's last: the stream ends after sending it. */
  isFinal(event: StreamEvent): boolean;
  /** How long to wait before reading again after an empty read. @default 250 */
  pollMs?: number;
}

/** A comment line every so often keeps proxies from closing an idle stream. */
const KEEP_ALIVE_MS = 15_000;

/** The cursor a client sent: `Last-Event-ID`, else `?after=`, else undefined (from the start). */
export function requestedCursor(req: Request): string | undefined {
  const header = req.get('Last-Event-ID');
  if (header !== undefined) return header;
  return typeof req.query.after === 'string' ? req.query.after : undefined;
}

/** Writes one event in the text/event-stream format (data is JSON, so it holds no newline). */
export function formatEvent(event: StreamEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

/**
 * Streams events until the client leaves or a final event was sent. Errors after the headers went
 * out end the stream (the client reconnects with its last id); before, they reach the error handler.
 */
export async function streamEvents(req: Request, res: Response, stream: EventStream): Promise<void> {
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('Connection', 'keep-alive');
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
  const closed = new AbortController();
  // 'close' on the response: the connection ended, whoever ended it (req's 'close' fires once the body is read).
  res.on('close', () => closed.abort());
  const keepAlive = setInterval(() => {
    if (!closed.signal.aborted) res.write(': keep-alive\n\n');
  }, KEEP_ALIVE_MS);
  let after = stream.from;
  try {
    while (!closed.signal.aborted) {
      const events = await stream.read(after, closed.signal);
      let final = false;
      for (const event of events) {
        if (closed.signal.aborted) break;
        res.write(formatEvent(event));
        after = event.id;
        if (stream.isFinal(event)) final = true;
      }
      if (final) break;
      if (events.length === 0 && !closed.signal.aborted) await sleep(stream.pollMs ?? 250, closed.signal);
    }
  } catch (err) {
    if (!closed.signal.aborted) req.log?.warn({ err }, 'event stream ended by an error');
  } finally {
    clearInterval(keepAlive);
    res.end();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

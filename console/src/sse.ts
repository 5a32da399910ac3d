import { ApiError, authorizedFetch, errorOf } from './api';

/** One server-sent event. */
export interface StreamEvent {
  id?: string;
  type: string;
  data: string;
}

export interface StreamOptions {
  onEvent(event: StreamEvent): void;
  /** A refusal that retrying will not cure (404, 403, a missing route, a session that ended). */
  onFatal?(err: ApiError): void;
  /** Called on each (re)connection; `false` while the stream is down and being retried. */
  onConnection?(open: boolean): void;
  /** An event after which the server ends the stream for good (no reconnection). */
  isLast?(event: StreamEvent): boolean;
  /** Resume after this event id. */
  lastEventId?: string;
}

/**
 * Reads `text/event-stream` with fetch, not EventSource: EventSource cannot send the Authorization
 * header, and a token in the URL would end up in logs and history. Reconnects with
 * `Last-Event-ID` (1 s, then up to 10 s apart) until closed, so nothing is missed across a drop.
 */
export function openEventStream(url: string, options: StreamOptions): { close(): void } {
  const controller = new AbortController();
  let lastEventId = options.lastEventId;
  let closed = false;

  async function readOnce(): Promise<'ended' | 'retry'> {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    const res = await authorizedFetch(url, { headers, signal: controller.signal });
    if (!res.ok) {
      const err = await errorOf(res);
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) throw err;
      return 'retry';
    }
    options.onConnection?.(true);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let finished = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
        const event = parseBlock(block);
        if (!event) continue;
        if (event.id !== undefined) lastEventId = event.id;
        options.onEvent(event);
        if (options.isLast?.(event)) finished = true;
      }
    }
    return finished ? 'ended' : 'retry';
  }

  void (async () => {
    let delay = 1_000;
    while (!closed) {
      try {
        if ((await readOnce()) === 'ended') return;
        delay = 1_000;
      } catch (err) {
        if (closed || (err as Error).name === 'AbortError') return;
        if (err instanceof ApiError && err.status !== 0) {
          options.onFatal?.(err);
          return;
        }
      }
      if (closed) return;
      options.onConnection?.(false);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(10_000, delay * 2);
    }
  })();

  return {
    close() {
      closed = true;
      controller.abort();
    },
  };
}

/** One event block: `id:`, `event:` and `data:` lines (several data lines join with newlines); `:` comments. */
export function parseBlock(block: string): StreamEvent | undefined {
  let id: string | undefined;
  let type = 'message';
  const data: string[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') id = value;
    else if (field === 'event') type = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0 && id === undefined) return undefined;
  return { id, type, data: data.join('\n') };
}

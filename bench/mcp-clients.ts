import { subscribe } from 'node:diagnostics_channel';
import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/**
 * The MCP clients of bench/mcp-overhead.ts, in a process of their own (as clients are elsewhere in
 * production, so their CPU is not the API's): the official SDK's `Client` over Streamable HTTP.
 * Driven over IPC; every tools/call POST is timed, with the server's `Server-Timing` beside it.
 *   node --import tsx bench/mcp-clients.ts   (spawned with an IPC channel)
 */

/** What the parent asks. */
export type ClientsRequest =
  | { type: 'connect'; url: string; secret: string; clients: number }
  | { type: 'burst'; tool: string; args: Record<string, unknown>; calls: number }
  | { type: 'close' };

/** What one batch of calls gives back. */
export interface BurstResult {
  latencies: number[];
  /** When each call was made and answered, and when the first request left (epoch ms, fractional). */
  startedAt: number;
  answeredAt: number[];
  firstSentAt: number;
  /** Per POST: the client's wait and the server's time inside the tool call. */
  paired: Array<{ latency: number; inside: number }>;
  failures: string[];
}

let clients: McpClient[] = [];
let paired: BurstResult['paired'] = [];
/** The machine's clock with microseconds, comparable between the processes. */
const now = () => performance.timeOrigin + performance.now();
/** When fetch (undici) first wrote a request's headers to a socket since the burst began. */
let firstSentAt = Infinity;
subscribe('undici:client:sendHeaders', () => {
  if (firstSentAt === Infinity) firstSentAt = now();
});

const timedFetch: FetchLike = async (input, init) => {
  const started = performance.now();
  const res = await fetch(input, init);
  const body = await res.arrayBuffer();
  const latency = performance.now() - started;
  const timing = /tool;dur=([\d.]+)/.exec(res.headers.get('server-timing') ?? '');
  if (timing && typeof init?.body === 'string' && init.body.includes('"tools/call"'))
    paired.push({ latency, inside: Number(timing[1]) });
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
};

async function handle(request: ClientsRequest): Promise<unknown> {
  switch (request.type) {
    case 'connect':
      clients = await Promise.all(
        Array.from({ length: request.clients }, async () => {
          const client = new McpClient({ name: 'bench', version: '1.0.0' });
          await client.connect(
            new StreamableHTTPClientTransport(new URL(request.url), {
              requestInit: { headers: { Authorization: `Bearer ${request.secret}` } },
              fetch: timedFetch,
            }),
          );
          return client;
        }),
      );
      return { connected: clients.length };
    case 'burst': {
      paired = [];
      firstSentAt = Infinity;
      const failures: string[] = [];
      const startedAt = now();
      const answeredAt = await Promise.all(
        Array.from({ length: request.calls }, async (_, i) => {
          const result = (await clients[i % clients.length]!.callTool({
            name: request.tool,
            arguments: request.args,
          })) as CallToolResult;
          if (result.isError) failures.push(JSON.stringify(result.content).slice(0, 200));
          return now();
        }),
      );
      const latencies = answeredAt.map((at) => at - startedAt);
      return { latencies, startedAt, answeredAt, firstSentAt, paired, failures } satisfies BurstResult;
    }
    case 'close':
      await Promise.allSettled(clients.map((c) => c.close()));
      setImmediate(() => process.exit(0));
      return {};
  }
}

process.on('message', (request: ClientsRequest) => {
  handle(request).then(
    (answer) => process.send!({ ok: true, answer }),
    (err: unknown) => process.send!({ ok: false, error: String(err) }),
  );
});

import type { Server } from 'node:http';
import type { Express } from 'express';
import { answerClientErrorsWithJson } from './client-errors';

/**
 * How long an idle keep-alive connection stays open. Longer than the idle timeouts of common load
 * balancers (60 s), so a proxy always closes first and never reuses a connection the API has just
 * closed; and clients that call now and then (MCP agents, scripts polling jobs) skip a TCP set-up
 * per call: Node's clients and undici keep a connection as long as the `Keep-Alive: timeout=65`
 * answer allows, where Node's 5 s default made a burst after a pause open every connection anew.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** Starts serving `app`: keep-alive as above, and JSON errors for requests Node cannot parse. */
export function listen(app: Express, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, () => resolve(server));
    server.once('error', reject);
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    // A request's headers may take as long as an idle connection is kept (Node's advice: longer).
    server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
    answerClientErrorsWithJson(server);
  });
}

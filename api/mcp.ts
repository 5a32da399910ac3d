import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { ServiceError } from '../core/errors';
import type { ApiKeyAccess } from '../domain/api-keys/service';
import type { ApiDeps } from './context';
import { documentRoutes } from './openapi';

/** The realm MCP clients see in `WWW-Authenticate`. */
const REALM = 'airtable-ops';

/**
 * `POST /mcp`: the agent's tools over MCP (Streamable HTTP, the official SDK), for the workspace of
 * the API key in `Authorization: Bearer aok_…`. Stateless: each POST is authenticated on its own and
 * served by a server and transport made for it (JSON answers, no session, no stream to resume), so
 * a revoked key fails on its next request and any API process can answer any request.
 */
export function mcpRouter(deps: ApiDeps): Router {
  const { mcp } = deps.services;
  const router = Router();

  router.post('/', async (req, res) => {
    const access = await authenticateKey(req, res, (secret) => mcp.authenticate(secret));
    const callId = req.get('Idempotency-Key');
    if (callId !== undefined && !/^[\x21-\x7e]{1,200}$/.test(callId))
      throw new ServiceError(
        400,
        'invalid_idempotency_key',
        'Idempotency-Key must be 1 to 200 visible ASCII characters',
      );
    const server = mcp.serverForRequest(access, {
      callId,
      // The time spent in the tool call, for clients and proxies that read it (and the benchmark).
      onDone: (event) => {
        if (!res.headersSent) res.setHeader('Server-Timing', `tool;dur=${event.ms.toFixed(1)}`);
      },
    });
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    // Closing the server closes its transport: the request's stream mapping and handlers go.
    res.on('close', () => void server.close());
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });

  // No session to end and no server-sent stream to open: a stateless server answers POSTs only.
  router.all('/', (_req, res) => {
    res.setHeader('Allow', 'POST');
    throw new ServiceError(
      405,
      'method_not_allowed',
      'This MCP server is stateless: POST JSON-RPC messages to /mcp (no stream to GET, no session to DELETE)',
    );
  });

  return router;
}

/** What the key reaches, or a 401 with `WWW-Authenticate` (RFC 6750) when it is missing, wrong or revoked. */
async function authenticateKey(
  req: Request,
  res: Response,
  authenticate: (secret: string) => Promise<ApiKeyAccess | undefined>,
): Promise<ApiKeyAccess> {
  const match = /^Bearer ([^\s]+)$/i.exec(req.headers.authorization ?? '');
  const access = match?.[1] ? await authenticate(match[1]) : undefined;
  if (access) return access;
  res.setHeader(
    'WWW-Authenticate',
    match
      ? `Bearer realm="${REALM}", error="invalid_token", error_description="The API key is invalid or has been revoked"`
      : `Bearer realm="${REALM}"`,
  );
  throw new ServiceError(
    401,
    'unauthorized',
    match
      ? 'The API key is invalid or has been revoked'
      : 'A workspace API key is required: Authorization: Bearer aok_…',
  );
}

const JsonRpc = z.looseObject({
  jsonrpc: z.literal('2.0'),
  id: z.union([z.string(), z.number()]).optional(),
  method: z.string().optional(),
  params: z.unknown().optional(),
});

documentRoutes('', 'MCP', [
  {
    method: 'post',
    path: '/mcp',
    summary: 'MCP (Streamable HTTP, stateless): the agent’s tools for the API key’s workspace',
    description: 'JSON-RPC 2.0 messages of the Model Context Protocol; JSON answers, no session.',
    auth: 'apiKey',
    body: JsonRpc,
    headers: z.object({ 'Idempotency-Key': z.string().optional() }),
    answers: {
      200: { description: 'The JSON-RPC answer', schema: JsonRpc },
      202: { description: 'A notification was accepted' },
    },
    errors: { 405: 'Only POST: the server is stateless' },
  },
]);

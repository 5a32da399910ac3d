import { randomUUID } from 'node:crypto';
import cors from 'cors';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import type { TrustProxy } from '../core/config';
import { oneRequestPerTurn } from './admission';
import { apiKeysRouter } from './api-keys';
import { authRouter, usersRouter } from './auth';
import { consoleOptionsOf, consoleRouter } from './console';
import { codecRouter, maskCodecToken } from './codec';
import { agentRouters } from './conversations';
import type { ApiDeps } from './context';
import { errorHandler, unknownRoute } from './errors';
import { guardPath, jsonBody, refuseUnstorableText } from './input-guards';
import { jobsRouter } from './jobs';
import { metricsEndpoint, observeRequests } from './metrics';
import { openApiRouter } from './openapi';
import { mcpRouter } from './mcp';
import { syncRouters } from './syncs';
import { workspaceJobsRouter } from './workspace-jobs';
import { CHANGE_SET_BODY_LIMIT, workspacesRouter } from './workspaces';

/** The request body limit: a change set of a few thousand records fits, a runaway upload does not. */
export const BODY_LIMIT = '2mb';

/**
 * The Express app: JSON in, JSON out, errors included. `config.trustProxy` (TRUST_PROXY; the
 * composition root passes the whole config through) names the proxies whose X-Forwarded-For
 * decides `req.ip`, which the per-IP limits key on; by default none: the socket address.
 */
export function createApp(deps: ApiDeps & { config: { trustProxy?: TrustProxy } }): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.config.trustProxy ?? false);
  // MCP clients send bursts of tool calls (agents call in parallel): first come, first served.
  app.use('/mcp', oneRequestPerTurn());
  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId: (req, res) => {
        const incoming = req.headers['x-request-id'];
        const id = typeof incoming === 'string' && /^[\w.-]{1,100}$/.test(incoming) ? incoming : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      customLogLevel: (_req, res, err) =>
        err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
      // One short line per request; headers (and with them Authorization) stay out of the log.
      serializers: {
        req: (req: { id: string; method: string; url: string }) => ({
          id: req.id,
          method: req.method,
          url: maskCodecToken(req.url),
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    }),
  );
  // Request ids on every log line of the request; requests counted and timed by route template.
  app.use(observeRequests(app));
  // The codec server (Temporal's remote codec protocol) has its own CORS (the Web UI) and body limit.
  app.use('/codec', codecRouter(deps));
  app.use(helmet());
  app.use(cors({ origin: deps.config.corsOrigins.length ? deps.config.corsOrigins : false }));
  // Malformed input is refused before anything reads it: a path that does not decode or holds a NUL,
  // then (once the body is parsed) a NUL or an unpaired surrogate anywhere in the query or the body.
  app.use(guardPath);
  // Change sets may carry up to 10,000 records; this parser runs first, so the general limit skips them.
  app.use('/api/v1/workspaces/:id/changes', jsonBody(CHANGE_SET_BODY_LIMIT));
  app.use('/mcp', jsonBody(CHANGE_SET_BODY_LIMIT)); // create_records takes up to 10,000 records too
  app.use(jsonBody(BODY_LIMIT));
  app.use(refuseUnstorableText);

  app.get('/metrics', metricsEndpoint());
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const checks = await readinessChecks(deps);
    const ready = Object.values(checks).every((c) => c === 'ok');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ok' : 'unavailable', checks });
  });
  // The OpenAPI document (GET /api/openapi.json) and its interactive docs (GET /api/docs).
  app.use('/api', openApiRouter());

  app.use('/api/v1/auth', authRouter(deps));
  app.use('/api/v1/users', usersRouter(deps));
  const agent = agentRouters(deps);
  app.use('/api/v1/workspaces', workspacesRouter(deps));
  app.use('/api/v1/workspaces', agent.workspaces);
  app.use('/api/v1/conversations', agent.conversations);
  app.use('/api/v1/exports', agent.exports);
  app.use('/api/v1/jobs', jobsRouter(deps));
  const syncs = syncRouters(deps);
  app.use('/api/v1/workspaces', syncs.workspaces);
  app.use('/api/v1/syncs', syncs.syncs);
  app.use('/api/v1/workspaces', apiKeysRouter(deps));
  app.use('/mcp', mcpRouter(deps));
  app.use('/api/v1/workspaces', workspaceJobsRouter(deps));
  // The web console: GET / and its hashed assets under /console/ (npm run build:console builds them).
  app.use(consoleRouter(consoleOptionsOf(deps.config)));

  app.use(unknownRoute);
  app.use(errorHandler);
  return app;
}

async function readinessChecks(deps: ApiDeps): Promise<{ postgres: string; temporal: string }> {
  const timeout = <T>(p: Promise<T>) =>
    Promise.race([
      p,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out')), 2_000)),
    ]);
  const [postgres, temporal] = await Promise.allSettled([
    timeout(deps.pool.query('SELECT 1')),
    timeout(deps.temporalClient.workflowService.getSystemInfo({})),
  ]);
  const describe = (r: PromiseSettledResult<unknown>) =>
    r.status === 'fulfilled' ? 'ok' : `unavailable: ${(r.reason as Error).message}`;
  return { postgres: describe(postgres), temporal: describe(temporal) };
}

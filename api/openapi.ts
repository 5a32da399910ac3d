import path from 'node:path';
import express, { Router, type Express } from 'express';
import { z } from 'zod';
import { createDocument, type oas31 } from 'zod-openapi';
import { ErrorAnswer } from './answers';

const Readiness = z.object({
  status: z.enum(['ok', 'unavailable']),
  checks: z.object({ postgres: z.string(), temporal: z.string() }),
});

/**
 * The OpenAPI 3.1 document of the whole HTTP API, built from what the routers register with
 * {@link documentRoutes}: the request schemas are the very zod schemas the routes validate with
 * (`parseOrThrow`), so the document cannot describe a body the API would refuse, or the reverse.
 * Served at `/api/openapi.json`; Swagger UI at `/api/docs`, from the `swagger-ui-dist` package's
 * own files (nothing is loaded from outside the machine).
 *
 * `test/ops/openapi.test.ts` walks the Express app and fails when a mounted route is missing here.
 */

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** One answer of a route: JSON (a zod schema), another content type, or no body. */
export interface AnswerDoc {
  description: string;
  schema?: z.ZodType;
  /** @default 'application/json' when `schema` is set */
  contentType?: string;
  headers?: Record<string, string>;
}

/** What a router says about one of its routes. */
export interface RouteDoc {
  method: Method;
  /** The Express path under `prefix`, e.g. `/:id/cancel`. */
  path: string;
  summary: string;
  description?: string;
  /**
   * `bearer`: an access token (`Authorization: Bearer …`), 401 without; `codec`: an access token
   * or the codec token; `apiKey`: a workspace API key (`Authorization: Bearer aok_…`); `none`:
   * public. @default 'bearer'
   */
  auth?: 'bearer' | 'codec' | 'apiKey' | 'none';
  /** The JSON body schema, the one the route passes to `parseOrThrow`. */
  body?: z.ZodType;
  /** Whether the body may be left out (the route reads `req.body ?? {}`). */
  bodyOptional?: boolean;
  /** Path parameters; each `:name` not listed here is documented as a string. */
  params?: Record<string, z.ZodType>;
  query?: z.ZodObject;
  headers?: z.ZodObject;
  answers: Record<number, AnswerDoc>;
  /** Error statuses this route answers besides the usual ones (400, 401, 404, 500). */
  errors?: Record<number, string>;
}

interface Registered extends RouteDoc {
  prefix: string;
  tag: string;
}

const registry: Registered[] = [];
let cached: oas31.OpenAPIObject | undefined;

/**
 * Registers the routes a router mounts under `prefix` (as `app.ts` mounts it), with `tag` grouping
 * them in the docs. Called once per router module, next to the routes it describes.
 */
export function documentRoutes(prefix: string, tag: string, routes: RouteDoc[]): void {
  for (const route of routes) registry.push({ ...route, prefix, tag });
  cached = undefined;
}

/** Express path `/a/:id/b` → OpenAPI path `/a/{id}/b`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function fullPath(prefix: string, routePath: string): string {
  const joined = `${prefix}${routePath === '/' ? '' : routePath}`;
  return joined === '' ? '/' : joined;
}

const errorContent = { 'application/json': { schema: ErrorAnswer } };

/** The OpenAPI 3.1 document of every registered route. */
export function openApiDocument(): oas31.OpenAPIObject {
  if (cached) return cached;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of registry) {
    const expressPath = fullPath(route.prefix, route.path);
    const names = [...expressPath.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
    const params = Object.fromEntries(names.map((n) => [n, route.params?.[n] ?? z.string()]));
    const auth = route.auth ?? 'bearer';
    const responses: Record<string, unknown> = {};
    for (const [status, answer] of Object.entries(route.answers)) {
      responses[status] = {
        description: answer.description,
        ...(answer.schema
          ? { content: { [answer.contentType ?? 'application/json']: { schema: answer.schema } } }
          : {}),
        ...(answer.headers
          ? {
              headers: Object.fromEntries(
                Object.entries(answer.headers).map(([h, d]) => [
                  h,
                  { description: d, schema: { type: 'string' } },
                ]),
              ),
            }
          : {}),
      };
    }
    const errors: Record<number, string> = {
      400: 'The request is malformed or fails validation (`details` names the fields)',
    };
    if (auth !== 'none') errors[401] = 'No valid access token';
    if (names.length > 0) errors[404] = 'Not found, or not the caller’s (the same answer)';
    Object.assign(errors, route.errors, {
      500: 'Something went wrong on the server (details stay in its log)',
    });
    for (const [status, description] of Object.entries(errors))
      responses[status] ??= { description, content: errorContent };
    const operation: Record<string, unknown> = {
      tags: [route.tag],
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      operationId: operationId(route.method, expressPath),
      security: {
        none: [],
        bearer: [{ bearer: [] }],
        codec: [{ bearer: [] }, { codecToken: [] }],
        apiKey: [{ workspaceApiKey: [] }],
      }[auth],
      requestParams: {
        ...(names.length > 0 ? { path: z.object(params) } : {}),
        ...(route.query ? { query: route.query } : {}),
        ...(route.headers ? { header: route.headers } : {}),
      },
      ...(route.body
        ? {
            requestBody: {
              required: !route.bodyOptional,
              content: { 'application/json': { schema: route.body } },
            },
          }
        : {}),
      responses,
    };
    (paths[openApiPath(expressPath)] ??= {})[route.method] = operation;
  }
  cached = createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Airtable Ops Platform API',
      version: '1',
      description:
        'Durable orchestration for teams that run their operations on Airtable. JSON in, JSON out; ' +
        'every error is `{"error":{"code","message","details"?}}`. Sign in with `POST /api/v1/auth/login` ' +
        'and send the access token as `Authorization: Bearer …`.',
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token' },
        workspaceApiKey: {
          type: 'http',
          scheme: 'bearer',
          description:
            'A workspace API key (`aok_…`, POST /api/v1/workspaces/{id}/api-keys), for MCP clients',
        },
        codecToken: {
          type: 'http',
          scheme: 'bearer',
          description: 'The codec token (CODEC_TOKEN), for operators: decodes any payload',
        },
      },
    },
    paths: paths as never,
  });
  return cached;
}

function operationId(method: string, expressPath: string): string {
  const words = expressPath
    .replace(/^\/api\/v1/, '')
    .split(/[/.-]+/)
    .filter(Boolean)
    .map((w) => (w.startsWith(':') ? `by ${w.slice(1)}` : w))
    .join(' ')
    .split(' ')
    .filter(Boolean);
  if (words.length === 0) words.push('root');
  return [method, ...words].map((w, i) => (i === 0 ? w : w[0]!.toUpperCase() + w.slice(1))).join('');
}

/** A route Express would answer: method and path template, as mounted. */
export interface MountedRoute {
  method: string;
  path: string;
}

/**
 * Every route mounted on `app`, found by walking Express's router stacks (routers inside routers
 * included), with the mount paths joined: the truth the document is checked against.
 */
export function mountedRoutes(app: Express): MountedRoute[] {
  const found: MountedRoute[] = [];
  interface Layer {
    route?: { path: string | string[]; methods: Record<string, boolean> };
    handle?: { stack?: Layer[] };
    rawPath?: string | string[];
  }
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const p of ([] as string[]).concat(layer.route.path))
          for (const method of Object.keys(layer.route.methods).filter((m) => m !== '_all'))
            found.push({ method, path: fullPath(prefix, p) });
      } else if (layer.handle?.stack) {
        const raw = layer.rawPath;
        const mount = typeof raw === 'string' && raw !== '/' ? raw : '';
        walk(layer.handle.stack, prefix + mount);
      }
    }
  };
  const router = (app as unknown as { router?: { stack: Layer[] } }).router;
  walk(router?.stack ?? [], '');
  return found;
}

const DOCS_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>Airtable Ops Platform API</title>
    <link rel="stylesheet" href="/api/docs/assets/swagger-ui.css" />
    <link rel="icon" type="image/png" href="/api/docs/assets/favicon-32x32.png" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/api/docs/assets/swagger-ui-bundle.js"></script>
    <script src="/api/docs/assets/swagger-ui-standalone-preset.js"></script>
    <script src="/api/docs/init.js"></script>
  </body>
</html>
`;

// validatorUrl null: Swagger UI would otherwise send the document to validator.swagger.io.
const DOCS_INIT = `window.ui = SwaggerUIBundle({
  url: '/api/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  plugins: [SwaggerUIBundle.plugins.DownloadUrl],
  layout: 'StandaloneLayout',
  persistAuthorization: false,
});
`;

/** Where the `swagger-ui-dist` package keeps its files. */
function swaggerUiDir(): string {
  return path.dirname(require.resolve('swagger-ui-dist/package.json'));
}

/**
 * `GET /api/openapi.json` and `GET /api/docs` (Swagger UI, its scripts and styles served from
 * node_modules; the page loads nothing from another origin, so helmet's CSP stays as it is).
 */
export function openApiRouter(): Router {
  const router = Router();
  router.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument());
  });
  router.get('/docs', (_req, res) => {
    res.type('html').send(DOCS_HTML);
  });
  router.get('/docs/init.js', (_req, res) => {
    res.type('application/javascript').send(DOCS_INIT);
  });
  router.use(
    '/docs/assets',
    express.static(swaggerUiDir(), { index: false, fallthrough: true, maxAge: '1h' }),
  );
  return router;
}

documentRoutes('', 'Operations', [
  {
    method: 'get',
    path: '/healthz',
    summary: 'Liveness: 200 while the process lives',
    auth: 'none',
    answers: { 200: { description: 'Alive', schema: z.object({ status: z.literal('ok') }) } },
  },
  {
    method: 'get',
    path: '/readyz',
    summary: 'Readiness: Postgres and Temporal answer',
    auth: 'none',
    answers: {
      200: { description: 'Ready', schema: Readiness },
      503: { description: 'Not ready: which check failed', schema: Readiness },
    },
  },
]);

documentRoutes('/api', 'Documentation', [
  {
    method: 'get',
    path: '/openapi.json',
    summary: 'This document (OpenAPI 3.1)',
    auth: 'none',
    answers: { 200: { description: 'The OpenAPI document', schema: z.looseObject({ openapi: z.string() }) } },
  },
  {
    method: 'get',
    path: '/docs',
    summary: 'Interactive documentation (Swagger UI, served locally)',
    auth: 'none',
    answers: { 200: { description: 'The page', schema: z.string(), contentType: 'text/html' } },
  },
  {
    method: 'get',
    path: '/docs/init.js',
    summary: 'The script that starts Swagger UI on this document',
    auth: 'none',
    answers: {
      200: { description: 'The script', schema: z.string(), contentType: 'application/javascript' },
    },
  },
]);

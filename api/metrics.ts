import { timingSafeEqual } from 'node:crypto';
import type { Express, RequestHandler } from 'express';
import { withLogContext } from '../core/log-context';
import {
  collectProcessMetrics,
  httpRequestDuration,
  httpRequests,
  metricsText,
  METRICS_CONTENT_TYPE,
} from '../core/metrics';
import { z } from 'zod';
import { unauthorized } from '../core/errors';
import { documentRoutes, mountedRoutes } from './openapi';

/**
 * Per request: its log lines carry its id (whatever code writes them, through core/log-context),
 * and once answered it is counted and timed by method, route template and status. The template is
 * the route Express matched (`/api/v1/jobs/:id`), checked against the app's mounted routes, so a
 * label never holds an id, an e-mail or a path a client made up (`unmatched` for those).
 * Mount right after the request logger (it gives the request its id).
 */
export function observeRequests(app: Express): RequestHandler {
  collectProcessMetrics({ component: 'api' });
  let templates: RouteMatcher[] | undefined;
  const known = () => (templates ??= routeMatchers(app));
  return (req, res, next) => {
    const end = httpRequestDuration.startTimer();
    const path = req.path;
    res.once('finish', () => {
      const labels = {
        method: req.method,
        route: routeOf(req.method, path, known()),
        status: String(res.statusCode),
      };
      end(labels);
      httpRequests.inc(labels);
    });
    withLogContext({ requestId: String(req.id) }, next);
  };
}

interface RouteMatcher {
  method: string;
  template: string;
  pattern: RegExp;
}

/** The app's routes in the order Express tries them, each as a pattern over request paths. */
function routeMatchers(app: Express): RouteMatcher[] {
  return mountedRoutes(app).map(({ method, path }) => ({
    method: method.toUpperCase(),
    template: path,
    pattern: new RegExp(
      `^${path
        .split(/(:[A-Za-z0-9_]+)/)
        .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('')}/?$`,
    ),
  }));
}

/**
 * The template of the route a request is for (as Express would match it, so a 401 or 404 answered
 * before or inside the route counts under its template too), or `unmatched`.
 */
function routeOf(method: string, path: string, routes: RouteMatcher[]): string {
  const m = method === 'HEAD' ? 'GET' : method;
  for (const route of routes) if (route.method === m && route.pattern.test(path)) return route.template;
  return 'unmatched';
}

/**
 * `GET /metrics`: the API process's metrics in the Prometheus text format. With METRICS_TOKEN set,
 * scrapers must send it as `Authorization: Bearer …`; without, the endpoint is open (keep it on an
 * internal network, as docker-compose does).
 */
export function metricsEndpoint(token = process.env.METRICS_TOKEN): RequestHandler {
  return async (req, res) => {
    if (token && !sameSecret(/^Bearer (.+)$/i.exec(req.get('authorization') ?? '')?.[1], token))
      throw unauthorized('The metrics token is required');
    res.setHeader('Content-Type', METRICS_CONTENT_TYPE);
    res.setHeader('Cache-Control', 'no-store');
    res.send(await metricsText());
  };
}

/** Compares secrets in constant time. */
export function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

documentRoutes('', 'Operations', [
  {
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics of this API process (text format)',
    description:
      'HTTP requests by route template and status with latency histograms, jobs started, and the ' +
      'process. When METRICS_TOKEN is set, send it as `Authorization: Bearer …`.',
    auth: 'none',
    errors: { 401: 'METRICS_TOKEN is set and was not sent' },
    answers: {
      200: {
        description: 'The metrics, text/plain; version=0.0.4',
        schema: z.string(),
        contentType: 'text/plain',
      },
    },
  },
]);

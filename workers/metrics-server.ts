import http from 'node:http';
import type { Logger } from '../core/logger';
import { metricsText, METRICS_CONTENT_TYPE } from '../core/metrics';

/** Where a worker serves its metrics: `WORKER_METRICS_PORT` (default 9464; `off` for none) and host. */
export function workerMetricsAddress(
  env: NodeJS.ProcessEnv = process.env,
): { host: string; port: number } | undefined {
  const raw = (env.WORKER_METRICS_PORT ?? '9464').trim();
  if (raw === '' || raw === 'off') return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`WORKER_METRICS_PORT must be a port number or "off", not ${raw}`);
  return { host: env.WORKER_METRICS_HOST?.trim() || env.HOST?.trim() || '127.0.0.1', port };
}

/**
 * The worker's `GET /metrics`: the platform's metrics of this process (prom-client), followed by
 * Temporal's own SDK metrics (the Rust core's Prometheus exporter, bound on loopback at
 * `sdkMetricsUrl`), so one scrape sees both. Their names do not collide: ours start with
 * `airtable_ops_`, the SDK's with `temporal_`.
 */
export async function startWorkerMetricsServer(options: {
  host: string;
  port: number;
  sdkMetricsUrl?: string;
  logger: Logger;
}): Promise<http.Server | undefined> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res
        .writeHead(404, { 'Content-Type': 'application/json' })
        .end(JSON.stringify({ error: { code: 'route_not_found', message: 'GET /metrics only' } }));
      return;
    }
    void scrape(options.sdkMetricsUrl).then(
      (text) =>
        res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Cache-Control': 'no-store' }).end(text),
      (err: unknown) => {
        options.logger.error({ err }, 'could not collect metrics');
        res.writeHead(500).end();
      },
    );
  });
  return new Promise((resolve) => {
    server.once('error', (err) => {
      // Another worker on this machine has the port: this one runs on without a metrics endpoint.
      options.logger.warn({ err, port: options.port }, 'worker metrics endpoint not started');
      resolve(undefined);
    });
    server.listen(options.port, options.host, () => {
      server.unref();
      const { port } = server.address() as { port: number };
      options.logger.info({ url: `http://${options.host}:${port}/metrics` }, 'worker metrics');
      resolve(server);
    });
  });
}

/** Ours, then the SDK's (without it when the core's exporter does not answer). */
export async function scrape(sdkMetricsUrl: string | undefined): Promise<string> {
  const ours = await metricsText();
  if (!sdkMetricsUrl) return ours;
  const sdk = await fetch(sdkMetricsUrl, { signal: AbortSignal.timeout(2_000) })
    .then((r) => (r.ok ? r.text() : ''))
    .catch(() => '');
  return sdk ? `${ours.trimEnd()}\n${sdk}` : ours;
}

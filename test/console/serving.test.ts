import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import type { Express } from 'express';
import request from 'supertest';
import { CONSOLE_BUNDLE_DIR, CONSOLE_MANIFEST, consoleRouter, type ConsoleManifest } from '../../api/console';
import { buildConsole, consoleSourceHash, ensureConsoleBuilt } from '../../scripts/build-console';
import {
  createActiveWorkspace,
  createTestApi,
  createTestContext,
  registerUser,
  settledJob,
  startWorker,
  uniqueTaskQueue,
  type TestContext,
} from '../support/helpers';
import { startAirtableEmulator, type AirtableEmulator } from '@airtable-ops/airtable-emulator';
import { opsSeed } from '../support/seeds';
import express from 'express';

// The console as the API serves it (GET /, hashed assets, compression, caching, the CSP), next to the
// JSON API it must leave alone, and the jobs list the console's Jobs tab reads.

const TOKEN = 'patConsoleServing.0123456789abcdef';
const BASE_ID = 'appCONSOLESERVE01';

const manifest = () =>
  JSON.parse(readFileSync(path.join(CONSOLE_BUNDLE_DIR, CONSOLE_MANIFEST), 'utf8')) as ConsoleManifest;

/** The bytes as sent (supertest, like fetch, would decompress them), with the headers. */
async function rawGet(app: Express, url: string, headers: Record<string, string>) {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const port = (server.address() as { port: number }).port;
    return await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>(
      (resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: url, headers }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
            );
          })
          .on('error', reject);
      },
    );
  } finally {
    server.close();
  }
}

describe('the console as served by the API', () => {
  let ctx: TestContext;
  let app: Express;

  beforeAll(async () => {
    ctx = await createTestContext();
    app = createTestApi(ctx, uniqueTaskQueue('console-serving'));
  });
  afterAll(() => ctx.close());

  it('serves the page at GET /, naming only its own hashed assets, with a CSP that allows nothing from elsewhere', async () => {
    const res = await request(app).get('/').set('Accept-Encoding', 'identity').expect(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-cache');
    const csp = res.headers['content-security-policy'] as string;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toMatch(/https?:|upgrade-insecure-requests/);
    const { assets } = manifest();
    const script = assets.find((a) => a.endsWith('.js'))!;
    const styles = assets.find((a) => a.endsWith('.css'))!;
    expect(res.text).toContain(`<script type="module" src="/console/${script}"></script>`);
    expect(res.text).toContain(`<link rel="stylesheet" href="/console/${styles}" />`);
    expect(res.text).toContain('<meta name="temporal-ui-port" content="8233" />');
    // Every URL in the page and the bundle is this server's (or a data: URL).
    const served = [res.text, readFileSync(path.join(CONSOLE_BUNDLE_DIR, script), 'utf8')];
    for (const text of served) {
      const urls = [...text.matchAll(/(?:src|href)=["']([^"']+)["']/g)].map((m) => m[1]!);
      expect(urls.filter((u) => !u.startsWith('/') && !u.startsWith('data:') && !u.startsWith('#'))).toEqual(
        [],
      );
    }
    const external = [...served[1]!.matchAll(/\bhttps?:\/\/[^\s"'`)]+/g)].map((m) => m[0]);
    // Only namespace URIs the DOM needs (SVG, XLink), never fetched.
    expect(external.filter((u) => !/^http:\/\/www\.w3\.org\//.test(u))).toEqual([]);
  });

  it('answers HEAD, and 304 to a page it has already sent', async () => {
    const first = await request(app).get('/').expect(200);
    await request(app).head('/').expect(200);
    await request(app)
      .get('/')
      .set('If-None-Match', first.headers.etag as string)
      .expect(304);
  });

  it('serves the assets brotli or gzip as accepted, cached for a year', async () => {
    const { assets } = manifest();
    const script = assets.find((a) => a.endsWith('.js'))!;
    const original = readFileSync(path.join(CONSOLE_BUNDLE_DIR, script));
    const br = await rawGet(app, `/console/${script}`, { 'accept-encoding': 'gzip, br' });
    expect(br.status).toBe(200);
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(br.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(br.headers.vary).toBe('Accept-Encoding');
    expect(brotliDecompressSync(br.body).equals(original)).toBe(true);
    const gzip = await rawGet(app, `/console/${script}`, { 'accept-encoding': 'gzip, br;q=0' });
    expect(gzip.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gzip.body).equals(original)).toBe(true);
    const plain = await rawGet(app, `/console/${script}`, { 'accept-encoding': 'identity' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.equals(original)).toBe(true);
    expect(Number(br.headers['content-length'])).toBeLessThan(original.length / 2);
  });

  it('leaves every other path to the JSON API: health, readiness, unknown routes, missing assets', async () => {
    expect((await request(app).get('/healthz').expect(200)).body).toEqual({ status: 'ok' });
    expect((await request(app).get('/readyz')).headers['content-type']).toMatch(/^application\/json/);
    for (const url of [
      '/console/app-NOPE.js',
      '/console/',
      '/console',
      '/index.html',
      '/api/v1/nope',
      '/workspaces',
    ]) {
      const res = await request(app).get(url).expect(404);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body.error.code).toBe('route_not_found');
    }
    await request(app).get('/api/v1/workspaces').expect(401);
    const post = await request(app).post('/').send({}).expect(404);
    expect(post.body.error.code).toBe('route_not_found');
  });

  it('answers 503 in JSON when the bundle has not been built', async () => {
    const bare = express();
    bare.use(consoleRouter({ bundleDir: mkdtempSync(path.join(os.tmpdir(), 'no-console-')) }));
    bare.use(
      (
        err: { status: number; code: string },
        _req: express.Request,
        res: express.Response,
        _next: express.NextFunction,
      ) => {
        res.status(err.status).json({ error: { code: err.code } });
      },
    );
    const res = await request(bare).get('/').expect(503);
    expect(res.body).toEqual({ error: { code: 'console_not_built' } });
  });

  it('rebuilds only when the sources changed, and a server picks a new build up at the next page load', async () => {
    expect(manifest().sourceHash).toBe(consoleSourceHash());
    expect((await ensureConsoleBuilt()).built).toBe(false);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'console-build-'));
    const served = express().use(
      consoleRouter({ bundleDir: dir, temporalUiPort: 9999, temporalNamespace: 'ops<&>' }),
    );
    const built = await buildConsole(dir);
    const page = await request(served).get('/').expect(200);
    expect(page.text).toContain('<meta name="temporal-ui-port" content="9999" />');
    expect(page.text).toContain('<meta name="temporal-namespace" content="ops&#60;&#38;&#62;" />');
    expect(Object.keys(built.sizes)).toHaveLength(2);
  });
});

describe('GET /api/v1/workspaces/:id/jobs', () => {
  let ctx: TestContext;
  let emulator: AirtableEmulator;
  let app: Express;
  let worker: { stop(): Promise<void> };

  beforeAll(async () => {
    ctx = await createTestContext();
    emulator = await startAirtableEmulator({ seed: opsSeed({ baseIds: [BASE_ID] }), tokens: [TOKEN] });
    const taskQueue = uniqueTaskQueue('console-jobs');
    app = createTestApi(ctx, taskQueue, { airtableUrl: emulator.url });
    worker = await startWorker(ctx, { taskQueue, airtableUrl: emulator.url });
  });
  afterAll(async () => {
    await worker.stop();
    await emulator.close();
    await ctx.close();
  });

  it("lists the caller's jobs of the workspace, newest first, with their live state; 404 for anyone else", async () => {
    const user = await registerUser(app);
    const workspaceId = await createActiveWorkspace(app, user.auth, { baseId: BASE_ID, token: TOKEN });
    const submitted = await request(app)
      .post(`/api/v1/workspaces/${workspaceId}/changes`)
      .set(user.auth)
      .send({ steps: [{ table: 'Clients', action: 'create', records: [{ fields: { Name: 'Hooli' } }] }] })
      .expect(202);
    const changeSet = submitted.body.job.id as string;
    await settledJob(app, user.auth, changeSet);

    const res = await request(app).get(`/api/v1/workspaces/${workspaceId}/jobs`).set(user.auth).expect(200);
    expect(
      res.body.jobs.map((j: { id: string; kind: string; status: string }) => [j.kind, j.status]),
    ).toEqual([
      ['changeset.apply', 'completed'],
      ['workspace.provision', 'completed'],
    ]);
    expect(res.body.jobs[0]).toMatchObject({
      id: changeSet,
      workspaceId,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const onlyProvisioning = await request(app)
      .get(`/api/v1/workspaces/${workspaceId}/jobs?kind=workspace.provision&limit=1`)
      .set(user.auth)
      .expect(200);
    expect(onlyProvisioning.body.jobs).toHaveLength(1);
    expect(onlyProvisioning.body.jobs[0].kind).toBe('workspace.provision');

    const bad = await request(app)
      .get(`/api/v1/workspaces/${workspaceId}/jobs?limit=0&kind=nope`)
      .set(user.auth)
      .expect(400);
    expect(bad.body.error.code).toBe('validation_failed');
    const stranger = await registerUser(app);
    await request(app).get(`/api/v1/workspaces/${workspaceId}/jobs`).set(stranger.auth).expect(404);
    await request(app).get(`/api/v1/workspaces/${randomUUID()}/jobs`).set(user.auth).expect(404);
    await request(app).get(`/api/v1/workspaces/not-a-uuid/jobs`).set(user.auth).expect(404);
    await request(app).get(`/api/v1/workspaces/${workspaceId}/jobs`).expect(401);
  });
});

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type CDPSession } from 'playwright-core';
import { migrate } from '../db/migrate';
import { createPool } from '../db/pool';
import { insertWorkspaceWithConnection, setWorkspaceStatus } from '../domain/workspaces/store';
import { ensureConsoleBuilt } from '../scripts/build-console';
import { recordResult } from './results';
import { dropDatabase, recreateDatabase } from '../db/admin';

/**
 * The web console's first load in headless Chromium (Debian's `chromium`, driven by playwright-core),
 * against the API as `api/main.ts` builds it, in a process of its own (bench/auth-api-process.ts,
 * NODE_ENV=production) on a fresh database. Each cold run is a new browser profile (empty cache);
 * the warm run reloads in the same profile. For each page:
 *  - transfer: bytes received on the wire, headers included (Chromium's `encodedDataLength`), and
 *    the number of requests; the console's assets go brotli-compressed;
 *  - time to interactive: from navigation start until the page's control is in the DOM and enabled,
 *    the page has painted (first contentful paint) and the main thread has run its last long task
 *    (> 50 ms), whichever is latest; FCP beside it. The baseline's "control" is its load event.
 * The baseline is the smallest document the same server answers, `GET /healthz` (no script, no
 * style): what the network, the server and the browser cost before any console code.
 *   npx tsx bench/console-load.ts [runs]     (cold runs per page; default 15)
 */
const RUNS = Number(process.argv[2] ?? 15);
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PASSWORD = 'correct horse battery staple';

interface ApiProcess {
  url: string;
  stop(): Promise<void>;
}

function startApi(env: Record<string, string>): Promise<ApiProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, 'auth-api-process.ts')],
    {
      cwd: path.resolve(__dirname, '..'),
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    },
  );
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`API process exited (${code}) before it was ready`)));
    child.on('message', function ready(message: { ready?: { port: number } }) {
      if (!message.ready) return;
      child.off('message', ready);
      child.removeAllListeners('exit');
      resolve({
        url: `http://127.0.0.1:${message.ready.port}`,
        stop: () =>
          new Promise((res) => {
            child.once('exit', () => res());
            child.send('stop');
          }),
      });
    });
  });
}

async function freshDatabase(): Promise<string> {
  const url = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/airtable_ops');
  url.pathname = '/airtable_ops_bench_console';
  await recreateDatabase(url.toString());
  await migrate(url.toString());
  return url.toString();
}

/** A user with three active workspaces, signed in: the tokens the console keeps in localStorage. */
async function signedInUser(api: ApiProcess, databaseUrl: string, encryptionKey: Buffer) {
  const email = `console-bench-${randomUUID()}@example.com`;
  const res = await fetch(`${api.url}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  if (res.status !== 201) throw new Error(`could not register: ${res.status}`);
  const body = (await res.json()) as { user: { id: string }; accessToken: string; refreshToken: string };
  const pool = createPool(databaseUrl, { max: 1 });
  try {
    for (let i = 0; i < 3; i++) {
      const id = randomUUID();
      await insertWorkspaceWithConnection(pool, {
        id,
        ownerId: body.user.id,
        name: `Workspace ${i + 1}`,
        baseId: `appBENCHcons${String(i).padStart(5, '0')}`,
        token: 'patBenchConsole.0123456789abcdef',
        encryptionKey,
      });
      await setWorkspaceStatus(pool, id, 'active');
    }
  } finally {
    await pool.end();
  }
  const [, payload] = body.accessToken.split('.');
  const { iat, exp } = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as {
    iat: number;
    exp: number;
  };
  return {
    email,
    accessToken: body.accessToken,
    refreshToken: body.refreshToken,
    accessIssuedAt: iat * 1000,
    accessExpiresAt: exp * 1000,
  };
}

interface Load {
  bytes: number;
  requests: number;
  /** ms from navigation start */
  fcp: number | null;
  interactive: number;
}

/** Records when the control named `target` is in the DOM and enabled, and every long task. */
const probe = (target: string | null) => `{
  const bench = (window.__bench = { ready: null, longTasks: [] });
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) bench.longTasks.push(e.startTime + e.duration);
  }).observe({ type: 'longtask', buffered: true });
  const target = ${JSON.stringify(target)};
  if (target !== null) {
    const check = () => {
      if (bench.ready !== null) return;
      const found = [...document.querySelectorAll('button, a')].find((el) => el.textContent === target && !el.disabled);
      if (found) bench.ready = performance.now();
    };
    new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true });
  }
}`;

/** Counts the bytes Chromium received for the page and everything it loaded. */
async function countTransfer(cdp: CDPSession): Promise<() => { bytes: number; requests: number }> {
  let bytes = 0;
  let requests = 0;
  await cdp.send('Network.enable');
  cdp.on('Network.loadingFinished', (e: { encodedDataLength: number }) => {
    bytes += e.encodedDataLength;
    requests += 1;
  });
  return () => ({ bytes, requests });
}

async function load(context: BrowserContext, url: string, target: string | null): Promise<Load> {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  const transfer = await countTransfer(cdp);
  await page.goto(url, { waitUntil: 'load' });
  // (Polled from here: the page's CSP forbids the eval waitForFunction uses. The time is taken inside
  // the page, so the polling does not change it.)
  for (const deadline = Date.now() + 30_000; target !== null;) {
    if (await page.evaluate<boolean>('window.__bench.ready !== null')) break;
    if (Date.now() > deadline) throw new Error(`${target} never became ready at ${url}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // A moment for trailing long tasks (and the last responses' loadingFinished) to be reported.
  await page.waitForTimeout(300);
  const timing = await page.evaluate<{
    ready: number | null;
    lastLongTask: number;
    fcp: number | null;
    load: number;
  }>(`({
    ready: window.__bench.ready,
    lastLongTask: Math.max(0, ...window.__bench.longTasks),
    fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null,
    load: performance.getEntriesByType('navigation')[0].loadEventEnd,
  })`);
  const { bytes, requests } = transfer();
  await cdp.detach();
  await page.close();
  return {
    bytes,
    requests,
    fcp: timing.fcp,
    // Nothing is usable before it is painted, nor while a long task holds the main thread.
    interactive: Math.max(timing.ready ?? timing.load, timing.lastLongTask, timing.fcp ?? 0),
  };
}

async function measure(
  browser: Browser,
  name: string,
  url: string,
  target: string | null,
  session?: object,
): Promise<{ name: string; cold: Load[]; warm: Load[] }> {
  const cold: Load[] = [];
  const warm: Load[] = [];
  // One run first that is not counted: Chromium's own first-use costs (its caches, the GPU process).
  for (let i = 0; i <= RUNS; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    await context.addInitScript(probe(target));
    if (session)
      await context.addInitScript(
        `localStorage.setItem('airtable-ops.session', ${JSON.stringify(JSON.stringify(session))})`,
      );
    const first = await load(context, url, target);
    const again = await load(context, url, target);
    if (i > 0) {
      cold.push(first);
      warm.push(again);
    }
    await context.close();
  }
  return { name, cold, warm };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const ms = (x: number) => `${x.toFixed(0)} ms`;

async function main(): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium`);
  const load = os.loadavg().map((l) => l.toFixed(1));
  const { manifest } = await ensureConsoleBuilt();
  const databaseUrl = await freshDatabase();
  const encryptionKey = randomBytes(32);
  const api = await startApi({
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl,
    JWT_SECRET: randomBytes(48).toString('base64'),
    APP_ENCRYPTION_KEY: encryptionKey.toString('base64'),
    DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'bench-console-')),
    ACCESS_TOKEN_TTL_SECONDS: '3600',
    LOG_LEVEL: 'warn',
  });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  const results: Array<{ name: string; cold: Load[]; warm: Load[] }> = [];
  try {
    const session = await signedInUser(api, databaseUrl, encryptionKey);
    console.log(`${RUNS} cold runs per page, against ${api.url}`);
    results.push(
      await measure(browser, 'baseline: `GET /healthz` (no script, no style)', `${api.url}/healthz`, null),
    );
    results.push(await measure(browser, 'console, signed out: sign-in form ready', `${api.url}/`, 'Sign in'));
    results.push(
      await measure(
        browser,
        'console, signed in: workspace list loaded (1 API call)',
        `${api.url}/`,
        'Workspace 1',
        {
          ...session,
        },
      ),
    );
  } finally {
    await browser.close();
    await api.stop();
    await dropDatabase(databaseUrl);
  }

  const rows = results.map((r) => {
    const tti = r.cold.map((l) => l.interactive);
    const fcp = r.cold.map((l) => l.fcp ?? Number.NaN);
    const bytes = median(r.cold.map((l) => l.bytes));
    const warm = r.warm.map((l) => l.interactive);
    return `| ${r.name} | ${kb(bytes)} in ${r.cold[0]!.requests} request${r.cold[0]!.requests === 1 ? '' : 's'} | ${ms(median(fcp))} | ${ms(median(tti))} (${ms(Math.min(...tti))}–${ms(Math.max(...tti))}) | ${kb(median(r.warm.map((l) => l.bytes)))}, ${ms(median(warm))} |`;
  });
  const console0 = results[1]!;
  const baseline = results[0]!;
  const lines = [
    `Cold: a new browser profile per run (empty cache), ${RUNS} runs per page after one not counted; medians, with the range of time to interactive. Warm: the same page again in each run's profile (the page revalidated, the hashed assets from the cache). Load average at the start: ${load.join(', ')}.`,
    '',
    '| page | transfer (wire bytes, headers included) | first contentful paint | time to interactive | warm reload: transfer, interactive |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `The bundle: ${manifest.assets.filter((a) => !a.endsWith('.map')).join(', ')} (brotli on the wire). The console's first load costs ${kb(median(console0.cold.map((l) => l.bytes)) - median(baseline.cold.map((l) => l.bytes)))} and ${ms(median(console0.cold.map((l) => l.interactive)) - median(baseline.cold.map((l) => l.interactive)))} more than the baseline.`,
  ];
  console.log(lines.join('\n'));
  recordResult(
    'Web console: first load',
    `npx tsx bench/console-load.ts ${process.argv[2] ?? ''}`.trim(),
    lines,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

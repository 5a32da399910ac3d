import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HashGateStats } from '../core/passwords';
import { migrate } from '../db/migrate';
import { createPool } from '../db/pool';
import { insertWorkspaceWithConnection, setWorkspaceStatus } from '../domain/workspaces/store';
import { recordResult } from './results';
import { recreateDatabase } from '../db/admin';

/**
 * A sign-in flood against one signed-in user's ordinary requests. The API runs as a child process
 * (bench/auth-api-process.ts, built like api/main.ts, configured from the environment) against a
 * fresh database; this process is the load:
 *  - 50 clients each loop: register an account (every fifth round) or log in, then refresh; a 429
 *    is honoured by sleeping its Retry-After (well-behaved clients; the server's bounds, not the
 *    clients' restraint, are what keeps the queue short: see the 429 counts);
 *  - one signed-in user calls GET /api/v1/workspaces in a loop (10 ms apart), whose latency is
 *    the figure of merit: p99 must stay under 250 ms, and no request may wait for a hash longer
 *    than AUTH_MAX_HASH_WAIT_MS.
 * Phases: a baseline (the user alone), then the flood from one client address (the per-IP limits
 * hold most of it back), then the flood from 50 addresses behind a trusted proxy (TRUST_PROXY=
 * loopback, one X-Forwarded-For per client: the per-IP limits count each client apart, so the
 * hashing gate carries the load).
 *   npx tsx bench/auth-load.ts [seconds]     (seconds per flood phase; default 60)
 */
const SECONDS = Number(process.argv[2] ?? 60);
const BASELINE_SECONDS = Math.max(5, Math.round(SECONDS / 6));
const CLIENTS = 50;
const P99_TARGET_MS = 250;
/** How late a timer may fire on a loaded machine: a request refused at the deadline waited this much more. */
const TIMER_SLACK_MS = 100;
const USER_PAUSE_MS = 10;
const PASSWORD = 'correct horse battery staple';

interface Sample {
  endpoint: string;
  status: number;
  ms: number;
}

interface ApiProcess {
  url: string;
  settings: Record<string, unknown> & { maxHashWaitMs: number };
  stats(): Promise<HashGateStats>;
  stop(): Promise<void>;
}

function startApi(env: Record<string, string>): Promise<ApiProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, 'auth-api-process.ts')],
    {
      cwd: path.resolve(__dirname, '..'),
      env: { ...process.env, ...env },
      // Its request log (one line per request, as in production) goes nowhere; errors show.
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    },
  );
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`API process exited (${code}) before it was ready`)));
    child.on(
      'message',
      function ready(message: { ready?: { port: number; settings: ApiProcess['settings'] } }) {
        if (!message.ready) return;
        child.off('message', ready);
        child.removeAllListeners('exit');
        resolve({
          url: `http://127.0.0.1:${message.ready.port}`,
          settings: message.ready.settings,
          stats: () =>
            new Promise((res) => {
              child.on('message', function got(m: { stats?: HashGateStats }) {
                if (!m.stats) return;
                child.off('message', got);
                res(m.stats);
              });
              child.send('stats');
            }),
          stop: () =>
            new Promise((res) => {
              child.once('exit', () => res());
              child.send('stop');
            }),
        });
      },
    );
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

async function call(
  url: string,
  endpoint: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> },
  samples: Sample[],
): Promise<{ status: number; body: Record<string, unknown>; retryAfterMs: number }> {
  const started = performance.now();
  let status = 0;
  let body: Record<string, unknown> = {};
  let retryAfterMs = 0;
  try {
    const res = await fetch(url + endpoint, {
      method: init.method ?? 'POST',
      headers: { 'content-type': 'application/json', ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    status = res.status;
    body = res.status === 204 ? {} : ((await res.json()) as Record<string, unknown>);
    retryAfterMs = Number(res.headers.get('retry-after') ?? 0) * 1000;
  } catch {
    // a connection error: status stays 0
  }
  samples.push({ endpoint, status, ms: performance.now() - started });
  return { status, body, retryAfterMs };
}

/** One client of the flood: register (every fifth round) or log in, then refresh; honours Retry-After. */
async function floodClient(url: string, deadline: number, samples: Sample[], forwardedFor?: string) {
  const headers: Record<string, string> = forwardedFor ? { 'x-forwarded-for': forwardedFor } : {};
  let account: { email: string; password: string } | undefined;
  let refreshToken: string | undefined;
  const backOff = (ms: number) => sleep(Math.min(ms, deadline - Date.now()));
  for (let round = 0; Date.now() < deadline; round++) {
    if (!account || round % 5 === 0) {
      const email = `load-${randomUUID()}@example.com`;
      const r = await call(
        url,
        '/api/v1/auth/register',
        { body: { email, password: PASSWORD }, headers },
        samples,
      );
      if (r.status === 201) {
        account = { email, password: PASSWORD };
        refreshToken = r.body.refreshToken as string;
      } else if (r.status === 429) await backOff(r.retryAfterMs);
    } else {
      const r = await call(url, '/api/v1/auth/login', { body: account, headers }, samples);
      if (r.status === 200) refreshToken = r.body.refreshToken as string;
      else if (r.status === 429) await backOff(r.retryAfterMs);
    }
    if (refreshToken && Date.now() < deadline) {
      const r = await call(url, '/api/v1/auth/refresh', { body: { refreshToken }, headers }, samples);
      refreshToken = r.status === 200 ? (r.body.refreshToken as string) : undefined;
      if (r.status === 429) await backOff(r.retryAfterMs);
    }
  }
}

/** The signed-in user: GET /api/v1/workspaces in a loop until the deadline. */
async function userLoop(
  url: string,
  token: string,
  deadline: number,
  samples: Sample[],
  forwardedFor?: string,
) {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (forwardedFor) headers['x-forwarded-for'] = forwardedFor;
  while (Date.now() < deadline) {
    await call(url, '/api/v1/workspaces', { method: 'GET', headers }, samples);
    await sleep(USER_PAUSE_MS);
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface PhaseResult {
  name: string;
  seconds: number;
  user: { count: number; failed: number; p50: number; p99: number; max: number };
  flood?: {
    byEndpoint: Record<string, Record<number, number>>;
    tooMany: number;
    slowestMs: number;
    slowestTooManyMs: number;
    gate: HashGateStats;
  };
}

async function runPhase(
  api: ApiProcess,
  name: string,
  seconds: number,
  token: string,
  options: { clients: number; perClientAddress?: boolean },
): Promise<PhaseResult> {
  const before = await api.stats();
  const deadline = Date.now() + seconds * 1000;
  const userSamples: Sample[] = [];
  const floodSamples: Sample[] = [];
  await Promise.all([
    userLoop(api.url, token, deadline, userSamples, options.perClientAddress ? '192.0.2.1' : undefined),
    ...Array.from({ length: options.clients }, (_, i) =>
      floodClient(
        api.url,
        deadline,
        floodSamples,
        options.perClientAddress ? `198.51.100.${i + 1}` : undefined,
      ),
    ),
  ]);
  const after = await api.stats();
  const ok = userSamples.filter((s) => s.status === 200).map((s) => s.ms);
  const sorted = [...ok].sort((a, b) => a - b);
  const result: PhaseResult = {
    name,
    seconds,
    user: {
      count: userSamples.length,
      failed: userSamples.length - ok.length,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted.at(-1) ?? NaN,
    },
  };
  if (options.clients > 0) {
    const byEndpoint: Record<string, Record<number, number>> = {};
    for (const s of floodSamples) {
      const key = s.endpoint.replace('/api/v1/auth/', '');
      byEndpoint[key] ??= {};
      byEndpoint[key][s.status] = (byEndpoint[key][s.status] ?? 0) + 1;
    }
    const tooMany = floodSamples.filter((s) => s.status === 429);
    result.flood = {
      byEndpoint,
      tooMany: tooMany.length,
      slowestMs: Math.max(0, ...floodSamples.map((s) => s.ms)),
      slowestTooManyMs: Math.max(0, ...tooMany.map((s) => s.ms)),
      gate: {
        ...after,
        completed: after.completed - before.completed,
        refusedQueueFull: after.refusedQueueFull - before.refusedQueueFull,
        refusedWaitTooLong: after.refusedWaitTooLong - before.refusedWaitTooLong,
        refusedAtDeadline: after.refusedAtDeadline - before.refusedAtDeadline,
      },
    };
  }
  return result;
}

async function freshDatabase(): Promise<string> {
  const url = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/airtable_ops');
  url.pathname = '/airtable_ops_bench_auth';
  await recreateDatabase(url.toString());
  await migrate(url.toString());
  return url.toString();
}

/** Registers the signed-in user through the API and gives it three workspaces to list. */
async function signedInUser(
  api: ApiProcess,
  databaseUrl: string,
  encryptionKey: Buffer,
  forwardedFor?: string,
) {
  const samples: Sample[] = [];
  const email = `signed-in-${randomUUID()}@example.com`;
  const headers: Record<string, string> = forwardedFor ? { 'x-forwarded-for': forwardedFor } : {};
  const r = await call(
    api.url,
    '/api/v1/auth/register',
    { body: { email, password: PASSWORD }, headers },
    samples,
  );
  if (r.status !== 201) throw new Error(`could not register the signed-in user: ${r.status}`);
  const userId = (r.body.user as { id: string }).id;
  const pool = createPool(databaseUrl, { max: 1 });
  try {
    for (let i = 0; i < 3; i++) {
      const id = randomUUID();
      await insertWorkspaceWithConnection(pool, {
        id,
        ownerId: userId,
        name: `Workspace ${i + 1}`,
        baseId: `appBENCHauth${String(i).padStart(5, '0')}`,
        token: 'patBenchAuthLoad.0123456789abcdef',
        encryptionKey,
      });
      await setWorkspaceStatus(pool, id, 'active');
    }
  } finally {
    await pool.end();
  }
  return r.body.accessToken as string;
}

async function main(): Promise<void> {
  const load = os.loadavg().map((l) => l.toFixed(1));
  const databaseUrl = await freshDatabase();
  const encryptionKey = randomBytes(32);
  const env = {
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl,
    JWT_SECRET: randomBytes(48).toString('base64'),
    APP_ENCRYPTION_KEY: encryptionKey.toString('base64'),
    DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'bench-auth-')),
    // The signed-in user's token must outlive the run.
    ACCESS_TOKEN_TTL_SECONDS: String(Math.max(900, 3 * SECONDS + 300)),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
  };

  const results: PhaseResult[] = [];
  const direct = await startApi({ ...env, TRUST_PROXY: 'false' });
  const settings = direct.settings;
  try {
    const token = await signedInUser(direct, databaseUrl, encryptionKey);
    console.log(`baseline: ${BASELINE_SECONDS} s`);
    results.push(await runPhase(direct, 'baseline: the user alone', BASELINE_SECONDS, token, { clients: 0 }));
    console.log(`flood from one address: ${SECONDS} s`);
    results.push(
      await runPhase(direct, `${CLIENTS} clients, one address`, SECONDS, token, { clients: CLIENTS }),
    );
  } finally {
    await direct.stop();
  }
  const proxied = await startApi({ ...env, TRUST_PROXY: 'loopback' });
  try {
    const token = await signedInUser(proxied, databaseUrl, encryptionKey, '192.0.2.1');
    console.log(`flood from ${CLIENTS} addresses: ${SECONDS} s`);
    results.push(
      await runPhase(proxied, `${CLIENTS} clients, ${CLIENTS} addresses (trusted proxy)`, SECONDS, token, {
        clients: CLIENTS,
        perClientAddress: true,
      }),
    );
  } finally {
    await proxied.stop();
  }

  const bound = settings.maxHashWaitMs;
  const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : '–');
  const flooded = results.filter((r) => r.flood);
  const checks = flooded.map((r) => ({
    name: r.name,
    p99: r.user.p99 < P99_TARGET_MS && r.user.failed === 0,
    wait: r.flood!.gate.maxWaitMs <= bound + TIMER_SLACK_MS,
  }));
  const passed = checks.every((c) => c.p99 && c.wait);
  const status = (statuses: Record<number, number> | undefined) =>
    statuses
      ? Object.entries(statuses)
          .map(([code, n]) => `${n}×${code}`)
          .join(', ')
      : '–';
  const lines = [
    `The signed-in user's \`GET /api/v1/workspaces\` (3 workspaces, one every ${USER_PAUSE_MS} ms after the previous answer) while ${CLIENTS} clients register, log in and refresh; API in its own process (NODE_ENV=production, request log on), fresh database, settings: ${Object.entries(
      settings,
    )
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(', ')}. Load average at the start: ${load.join(', ')}.`,
    '',
    '| phase | seconds | user requests | user p50 | user p99 | user max | p99 < 250 ms |',
    '|---|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${r.name} | ${r.seconds} | ${r.user.count}${r.user.failed ? ` (${r.user.failed} failed)` : ''} | ${ms(r.user.p50)} | ${ms(r.user.p99)} | ${ms(r.user.max)} | ${r.user.p99 < P99_TARGET_MS && r.user.failed === 0 ? 'yes' : '**no**'} |`,
    ),
    '',
    '| phase | register | login | refresh | 429s | slowest response | slowest 429 | hashes | refused at once: queue full / wait too long | refused at the deadline | longest wait for a hash (bound) |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...flooded.map((r) => {
      const f = r.flood!;
      return `| ${r.name} | ${status(f.byEndpoint.register)} | ${status(f.byEndpoint.login)} | ${status(f.byEndpoint.refresh)} | ${f.tooMany} | ${ms(f.slowestMs)} | ${ms(f.slowestTooManyMs)} | ${f.gate.completed} (${f.gate.averageRunMs} ms each) | ${f.gate.refusedQueueFull} / ${f.gate.refusedWaitTooLong} | ${f.gate.refusedAtDeadline} | ${ms(f.gate.maxWaitMs)} (${bound} ms) |`;
    }),
    '',
    `Checks: ${checks
      .map(
        (c) =>
          `${c.name}: user p99 < ${P99_TARGET_MS} ms ${c.p99 ? 'yes' : '**no**'}, no hash wait over ${bound} ms (+${TIMER_SLACK_MS} ms timer slack) ${c.wait ? 'yes' : '**no**'}`,
      )
      .join(
        '; ',
      )}. Overall: **${passed ? 'pass' : 'fail'}**. The longest wait is the gate's own measure (queue entry to slot or refusal); a response adds the hash itself and the database to it.`,
  ];
  recordResult('Sign-in flood vs. a signed-in user', `npx tsx bench/auth-load.ts ${SECONDS}`, lines);
  console.log(lines.join('\n'));
  if (!passed) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

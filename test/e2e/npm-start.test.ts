import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAirtableEmulator, type AirtableEmulator } from '@airtable-ops/airtable-emulator';
import { startGeminiEmulator, type GeminiEmulator } from '@airtable-ops/gemini-emulator';
import { freePort } from '../../temporal/dev-server';
import { TEST_ENV } from '../support/env';
import { eventually } from '../support/helpers';
import { SMALL_BASE_ID, smallSeed } from '../support/seeds';

// `npm start` as a user runs it: dev server with Web UI, migrations, worker and API; Ctrl-C stops
// it all; a second start finds the workspaces and the workflow history of the first.

const ROOT = path.resolve(__dirname, '../..');
const TOKEN = 'patStartTestToken.0123456789abcdef';

describe('npm start', () => {
  let emulator: AirtableEmulator;
  let gemini: GeminiEmulator;
  let platform: ChildProcess | undefined;
  let output = '';

  beforeAll(async () => {
    emulator = await startAirtableEmulator({ seed: smallSeed(), tokens: [TOKEN] });
    // No script: the emulator plays its small deterministic assistant.
    gemini = await startGeminiEmulator();
  });
  afterAll(async () => {
    if (platform && platform.exitCode === null) platform.kill('SIGKILL');
    await emulator.close();
    await gemini.close();
  });

  async function start(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
    output = '';
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/start.ts')], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
        const res = await fetch(`http://127.0.0.1:${env.PORT}/readyz`).catch(() => undefined);
        return res?.status === 200 ? true : undefined;
      },
      120_000,
      500,
    );
    return child;
  }

  async function stop(child: ChildProcess): Promise<number | null> {
    child.kill('SIGINT');
    return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  const api = async (port: string, method: string, url: string, body?: unknown, token?: string) => {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1${url}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- response shapes are asserted field by field
    const parsed: any = res.status === 204 ? undefined : await res.json();
    return { status: res.status, body: parsed };
  };

  it('runs everything, stops cleanly on Ctrl-C, and keeps state across restarts', async () => {
    const env = {
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'npm-start-')),
      PORT: String(await freePort()),
      TEMPORAL_PORT: String(await freePort()),
      TEMPORAL_UI_PORT: String(await freePort()),
      TEMPORAL_CLI_PATH: process.env[TEST_ENV.temporalCli],
      TEMPORAL_ADDRESS: '',
      DATABASE_URL: process.env[TEST_ENV.databaseUrl],
      AIRTABLE_ENDPOINT_URL: emulator.url,
      GEMINI_API_KEY: gemini.key,
      GEMINI_BASE_URL: gemini.url,
      TEMPORAL_TASK_QUEUE_PREFIX: `npm-start-${Date.now()}-`,
    };
    platform = await start(env);
    expect(output).toContain(`http://127.0.0.1:${env.TEMPORAL_UI_PORT}`);
    const ui = await fetch(`http://127.0.0.1:${env.TEMPORAL_UI_PORT}/`);
    expect(ui.status).toBe(200);

    const email = `start-${Date.now()}@example.com`;
    const registered = await api(env.PORT, 'POST', '/auth/register', {
      email,
      password: 'long enough password',
    });
    expect(registered.status).toBe(201);
    const created = await api(
      env.PORT,
      'POST',
      '/workspaces',
      { name: 'Persisted', airtable: { baseId: SMALL_BASE_ID, token: TOKEN } },
      registered.body.accessToken,
    );
    expect(created.status).toBe(202);
    const workspaceId = created.body.workspace.id as string;
    const jobId = created.body.job.id as string;
    await eventually(async () => {
      const res = await api(env.PORT, 'GET', `/jobs/${jobId}`, undefined, registered.body.accessToken);
      return res.body.status === 'completed' ? true : undefined;
    }, 60_000);

    // A conversation, one turn answered before the restart.
    const token = registered.body.accessToken as string;
    const conversation = await api(env.PORT, 'POST', `/workspaces/${workspaceId}/conversations`, {}, token);
    expect(conversation.status).toBe(201);
    const conversationId = conversation.body.conversation.id as string;
    const answered = async (accessToken: string, count: number) =>
      eventually(async () => {
        const res = await api(env.PORT, 'GET', `/conversations/${conversationId}`, undefined, accessToken);
        const replies = res.body.messages.filter(
          (m: { role: string; text?: string }) => m.role === 'assistant' && m.text,
        );
        return res.body.status === 'idle' && replies.length >= count ? res.body : undefined;
      }, 60_000);
    expect(
      (
        await api(
          env.PORT,
          'POST',
          `/conversations/${conversationId}/messages`,
          { text: 'Hello there' },
          token,
        )
      ).status,
    ).toBe(202);
    await answered(token, 1);

    expect(await stop(platform)).toBe(0);
    // Everything is down: the API, the worker and the dev server.
    await expect(fetch(`http://127.0.0.1:${env.PORT}/healthz`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${env.TEMPORAL_UI_PORT}/`)).rejects.toThrow();

    platform = await start(env);
    const login = await api(env.PORT, 'POST', '/auth/login', { email, password: 'long enough password' });
    expect(login.status).toBe(200);
    const workspace = await api(
      env.PORT,
      'GET',
      `/workspaces/${workspaceId}`,
      undefined,
      login.body.accessToken,
    );
    expect(workspace.body.status).toBe('active');
    const job = await api(env.PORT, 'GET', `/jobs/${jobId}`, undefined, login.body.accessToken);
    expect(job.body).toMatchObject({ id: jobId, status: 'completed' });
    const listed = execFileSync(
      process.env[TEST_ENV.temporalCli]!,
      [
        'workflow',
        'list',
        '--address',
        `127.0.0.1:${env.TEMPORAL_PORT}`,
        '--query',
        `WorkspaceId="${workspaceId}"`,
      ],
      { encoding: 'utf8' },
    );
    expect(listed).toContain(jobId);
    // The conversation survived the restart: it takes the next message and answers it.
    const next = await api(
      env.PORT,
      'POST',
      `/conversations/${conversationId}/messages`,
      { text: 'Still here?' },
      login.body.accessToken,
    );
    expect(next.status).toBe(202);
    const after = await answered(login.body.accessToken, 2);
    expect(after.messages.filter((m: { role: string }) => m.role === 'user')).toHaveLength(2);
    expect(await stop(platform)).toBe(0);
  }, 300_000);
});

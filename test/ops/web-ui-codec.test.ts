import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { startAirtableEmulator, type AirtableEmulator } from '@airtable-ops/airtable-emulator';
import { chromium, type Browser } from 'playwright-core';
import { dataConverter } from '../../temporal/data-converter';
import { freePort, startDevServer, type DevServer } from '../../temporal/dev-server';
import { TEST_ENV } from '../support/env';
import {
  createActiveWorkspace,
  createTestApi,
  createTestContext,
  registerUser,
  startWorker,
  uniqueTaskQueue,
  type TestContext,
} from '../support/helpers';
import { SMALL_BASE_ID, smallSeed } from '../support/seeds';

// What `npm start` sets up for the local Temporal Web UI: the dev server started with
// `--ui-codec-endpoint` pointing at the API's codec server (the codec token in the path, the Web
// UI's origin allowed by CORS). The Web UI in Chromium then shows a job's encrypted result in plain.

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TOKEN = 'patWebUiCodecTest.0123456789abcdef';

describe('the local Temporal Web UI shows payloads decrypted', () => {
  let shared: TestContext;
  let devServer: DevServer;
  let ctx: TestContext;
  let emulator: AirtableEmulator;
  let server: Server;
  let worker: { stop(): Promise<void> };
  let browser: Browser;
  let uiUrl: string;
  let app: ReturnType<typeof createTestApi>;
  const codecToken = randomBytes(24).toString('base64url');
  const redact = (url: string) => url.replace(codecToken, '[codec token]');

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium`);
    shared = await createTestContext();
    const apiPort = await freePort();
    const uiPort = await freePort();
    // A dev server of its own, with its Web UI (the run's shared one is headless).
    devServer = await startDevServer({
      cliPath: process.env[TEST_ENV.temporalCli]!,
      port: 0,
      uiPort,
      uiCodecEndpoint: `http://127.0.0.1:${apiPort}/codec/t/${codecToken}`,
    });
    uiUrl = devServer.uiUrl!;
    const clientConnection = await Connection.connect({ address: devServer.address });
    const connection = await NativeConnection.connect({ address: devServer.address });
    ctx = {
      ...shared,
      client: new Client({ connection: clientConnection, dataConverter }),
      connection,
      address: devServer.address,
      async close() {
        await Promise.allSettled([clientConnection.close(), connection.close()]);
      },
    };
    emulator = await startAirtableEmulator({ seed: smallSeed(), tokens: [TOKEN] });
    const taskQueue = uniqueTaskQueue('web-ui-codec');
    process.env.CODEC_TOKEN = codecToken;
    process.env.CODEC_CORS_ORIGINS = `${uiUrl},http://localhost:${uiPort}`;
    try {
      app = createTestApi(ctx, taskQueue, { airtableUrl: emulator.url });
    } finally {
      delete process.env.CODEC_TOKEN;
      delete process.env.CODEC_CORS_ORIGINS;
    }
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(apiPort, '127.0.0.1', () => resolve(s));
    });
    worker = await startWorker(ctx, { taskQueue, airtableUrl: emulator.url });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await worker?.stop();
    await new Promise((resolve) => server?.close(resolve));
    await emulator?.close();
    await ctx?.close();
    await devServer?.stop();
    await shared?.close();
  });

  it('decodes a provisioning job’s result through the codec server', async () => {
    const user = await registerUser(app);
    const workspaceId = await createActiveWorkspace(app, user.auth, { baseId: SMALL_BASE_ID, token: TOKEN });
    const { rows } = await ctx.pool.query<{ id: string }>(
      `SELECT id FROM jobs WHERE workspace_id = $1 AND kind = 'workspace.provision'`,
      [workspaceId],
    );
    const jobId = rows[0]!.id;

    const page = await browser.newPage();
    const codecCalls: number[] = [];
    // What the page went through, for the failure message: the Web UI swallows a failed decode and
    // shows the ciphertext, so only its requests and console tell why the result stayed encrypted.
    const trail: string[] = [];
    page.on('response', (response) => {
      if (response.url().includes('/codec/t/')) codecCalls.push(response.status());
      if (response.status() >= 400) trail.push(`HTTP ${response.status()} ${redact(response.url())}`);
    });
    page.on('requestfailed', (request) =>
      trail.push(`failed ${redact(request.url())}: ${request.failure()?.errorText}`),
    );
    page.on('console', (message) => {
      if (message.type() === 'error') trail.push(`console: ${message.text().slice(0, 300)}`);
    });
    await page.goto(`${uiUrl}/namespaces/default/workflows/${jobId}`);
    // The result is `{workspaceId, status, tableCount, fieldCount}`: only a decrypted payload shows it.
    try {
      await page.getByText('fieldCount').first().waitFor({ timeout: 45_000 });
    } catch (err) {
      const shown = await page
        .locator('body')
        .innerText()
        .catch(() => '');
      throw new Error(
        `${(err as Error).message}\ncodec answers: ${JSON.stringify(codecCalls)}\n` +
          `${trail.join('\n')}\npage shows:\n${shown.slice(0, 2000)}`,
        { cause: err },
      );
    }
    expect(codecCalls.length).toBeGreaterThan(0);
    expect(codecCalls.every((status) => status === 200)).toBe(true);
    await page.close();
  }, 120_000);
});

import { existsSync, mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import path from 'node:path';
import { startAirtableEmulator, type AirtableEmulator } from '@airtable-ops/airtable-emulator';
import { startGeminiEmulator, type GeminiEmulator } from '@airtable-ops/gemini-emulator';
import type { Express } from 'express';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import request from 'supertest';
import { createGeminiModel } from '../../domain/agent/llm';
import {
  createActiveWorkspace,
  createTestApi,
  createTestContext,
  eventually,
  registerUser,
  startWorker,
  uniqueTaskQueue,
  type TestContext,
} from '../support/helpers';
import { opsSeed } from '../support/seeds';
import { SYNC_BASE_ID, syncSeed } from '../syncs/support';

// The web console in a real headless Chromium (Debian's `chromium`, driven by playwright-core; no
// browser is downloaded), against the API on a port, a worker, and the Airtable and Gemini
// emulators: every control is found by its role and exact name, as a person (or a screen reader)
// finds it. CONSOLE_SCREENSHOTS=<dir> saves the main pages there (the README's screenshots).

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = process.env.CONSOLE_SCREENSHOTS;
const TOKEN = 'patConsoleBrowser.0123456789abcdef';
const BASES = Array.from({ length: 8 }, (_, i) => `appCONSOLEBROWSE${i}`);

jest.setTimeout(120_000);

describe('the web console in Chromium', () => {
  let ctx: TestContext;
  let airtable: AirtableEmulator;
  let gemini: GeminiEmulator;
  let app: Express;
  let server: Server;
  let base: string;
  let browser: Browser;
  let worker: { stop(): Promise<void> };
  const cleanups: Array<() => Promise<unknown>> = [];
  const contexts: BrowserContext[] = [];
  let nextBase = 0;
  /** Requests a page made to anywhere but this API (they are refused), and its script errors. */
  const outside: string[] = [];
  const problems: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    ctx = await createTestContext();
    airtable = await startAirtableEmulator({
      seed: { bases: [...opsSeed({ baseIds: BASES }).bases, ...syncSeed().bases] },
      tokens: [TOKEN],
    });
    gemini = await startGeminiEmulator();
    const model = createGeminiModel({ apiKey: gemini.key, baseUrl: gemini.url });
    const taskQueue = uniqueTaskQueue('console');
    app = createTestApi(ctx, taskQueue, { airtableUrl: airtable.url });
    worker = await startWorker(ctx, { taskQueue, airtableUrl: airtable.url, deps: { model } });
    server = await listen(app);
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
    if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });
  });
  afterAll(async () => {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    await worker?.stop();
    await gemini?.close();
    await airtable?.close();
    await ctx?.close();
  });
  beforeEach(() => {
    gemini.reset();
  });
  afterEach(async () => {
    // Each test's pages close with it, so none keeps polling into the next.
    for (const context of contexts.splice(0)) await context.close();
    // Nothing left the machine, and no page had a script error.
    expect(outside.splice(0)).toEqual([]);
    expect(problems.splice(0)).toEqual([]);
  });

  function listen(express: Express): Promise<Server> {
    return new Promise((resolve) => {
      const s = express.listen(0, '127.0.0.1', () => resolve(s));
    });
  }

  /** A fresh browser profile (its own localStorage), refusing any request that would leave this API. */
  async function newPage(
    options: { width?: number; height?: number; origin?: string } = {},
  ): Promise<{ page: Page; context: BrowserContext }> {
    const origin = options.origin ?? base;
    const context = await browser.newContext({
      viewport: { width: options.width ?? 1280, height: options.height ?? 860 },
      reducedMotion: 'reduce',
    });
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${origin}/`) || url.startsWith('data:')) return route.continue();
      outside.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('console', (message) => {
      // The browser logs failed requests (a 409 the page handles, an aborted stream) as errors; those
      // the page shows or retries are not script errors.
      if (message.type() === 'error' && !/Failed to load resource|net::ERR_ABORTED/.test(message.text()))
        problems.push(message.text());
    });
    contexts.push(context);
    return { page, context };
  }

  const button = (scope: Page | Locator, name: string) => scope.getByRole('button', { name, exact: true });
  const textbox = (scope: Page | Locator, name: string) => scope.getByRole('textbox', { name, exact: true });

  async function screenshot(page: Page, name: string) {
    if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
  }

  async function signIn(page: Page, user: { email: string; password: string }, origin = base) {
    await page.goto(`${origin}/`);
    await textbox(page, 'Email').fill(user.email);
    await textbox(page, 'Password').fill(user.password);
    await button(page, 'Sign in').click();
    await page.getByRole('heading', { level: 1, name: 'Workspaces' }).waitFor();
  }

  /** A user with an active workspace on a fresh base, signed in, on the workspace's page. */
  async function workspaceReady(options: { baseId?: string; name?: string } = {}) {
    const user = await registerUser(app);
    const baseId = options.baseId ?? BASES[nextBase++]!;
    const name = options.name ?? `Ops ${baseId.slice(-1)}`;
    const workspaceId = await createActiveWorkspace(app, user.auth, { baseId, token: TOKEN }, name);
    const { page } = await newPage();
    await signIn(page, user);
    await page.getByRole('link', { name, exact: true }).click();
    await page.getByRole('heading', { level: 1, name }).waitFor();
    return { user, baseId, workspaceId, page, name };
  }

  async function newConversation(page: Page) {
    await button(page, 'New conversation').click();
    await textbox(page, 'Message').waitFor();
    await page.getByText('Ready for your message.').waitFor();
  }

  async function send(page: Page, text: string) {
    await textbox(page, 'Message').fill(text);
    await button(page, 'Send').click();
  }

  it('signs up, signs out, and signs back in', async () => {
    const { page } = await newPage();
    await page.goto(`${base}/`);
    await page.getByRole('link', { name: 'Create an account', exact: true }).click();
    const email = `console-${Date.now()}@example.com`;
    await textbox(page, 'Name (optional)').fill('Ada');
    await textbox(page, 'Email').fill(email);
    await textbox(page, 'Password').fill('a long password');
    await button(page, 'Create account').click();
    await page.getByRole('heading', { level: 1, name: 'Workspaces' }).waitFor();
    await page.getByText('No workspace yet.').waitFor();

    await button(page, 'Sign out').click();
    await page.getByRole('status').filter({ hasText: 'You have signed out.' }).waitFor();
    expect(await page.evaluate('localStorage.length')).toBe(0);
    await screenshot(page, 'sign-in');

    await textbox(page, 'Email').fill(email);
    await textbox(page, 'Password').fill('not the password');
    await button(page, 'Sign in').click();
    await page.getByRole('alert').filter({ hasText: 'Email or password is wrong' }).waitFor();
    await textbox(page, 'Password').fill('a long password');
    await button(page, 'Sign in').click();
    await page.getByRole('heading', { level: 1, name: 'Workspaces' }).waitFor();
  });

  it('refreshes an expiring access token silently, and sends an ended session back to sign-in', async () => {
    // An API whose access tokens live 3 s: the console refreshes a quarter of that before expiry.
    const shortApp = createTestApi(ctx, uniqueTaskQueue('console-short'), {
      airtableUrl: airtable.url,
      accessTokenTtlSeconds: 3,
    });
    const shortServer = await listen(shortApp);
    cleanups.push(() => new Promise((resolve) => shortServer.close(resolve)));
    const origin = `http://127.0.0.1:${(shortServer.address() as { port: number }).port}`;
    const user = await registerUser(shortApp);
    const { page } = await newPage({ origin });
    const answers: string[] = [];
    page.on('response', (res) => {
      const url = new URL(res.url());
      if (url.pathname.startsWith('/api/'))
        answers.push(`${res.request().method()} ${url.pathname} ${res.status()}`);
    });
    const stored = async () =>
      JSON.parse(await page.evaluate<string>(`localStorage.getItem('airtable-ops.session')`)) as {
        refreshToken: string;
        accessExpiresAt: number;
      };
    const untilExpired = async () => {
      const { accessExpiresAt } = await stored();
      await page.waitForTimeout(Math.max(0, accessExpiresAt - Date.now()) + 300);
    };
    await signIn(page, user, origin);
    await page.getByText('No workspace yet.').waitFor();

    // Expired by the clock: refreshed before the call, which never meets a 401.
    await untilExpired();
    answers.length = 0;
    await page.reload();
    await page.getByText('No workspace yet.').waitFor();
    expect(answers).toEqual(['POST /api/v1/auth/refresh 200', 'GET /api/v1/workspaces 200']);

    // Expired though the console thinks otherwise (a clock off): the 401 is answered by a refresh and a retry.
    await untilExpired();
    await page.evaluate(`{
      const s = JSON.parse(localStorage.getItem('airtable-ops.session'));
      localStorage.setItem('airtable-ops.session', JSON.stringify({ ...s, accessExpiresAt: Date.now() + 3600000 }));
    }`);
    answers.length = 0;
    await page.reload();
    await page.getByText('No workspace yet.').waitFor();
    expect(answers).toEqual([
      'GET /api/v1/workspaces 401',
      'POST /api/v1/auth/refresh 200',
      'GET /api/v1/workspaces 200',
    ]);

    // The login ends elsewhere (its refresh token spent by a logout): the next call finds out.
    await request(shortApp)
      .post('/api/v1/auth/logout')
      .send({ refreshToken: (await stored()).refreshToken })
      .expect(204);
    await page.reload();
    await page.getByRole('status').filter({ hasText: 'Your session has expired. Sign in again.' }).waitFor();
    await button(page, 'Sign in').waitFor();
    expect(await page.evaluate(`localStorage.getItem('airtable-ops.session')`)).toBeNull();
  });

  it('creates a workspace against the emulator, shows it provisioning, and never shows the token again', async () => {
    const user = await registerUser(app);
    const { page } = await newPage();
    await signIn(page, user);
    await page.getByRole('link', { name: 'New workspace', exact: true }).click();
    const baseId = BASES[nextBase++]!;
    await textbox(page, 'Name').fill('Operations');
    await textbox(page, 'Airtable base id').fill(baseId);
    await textbox(page, 'Airtable token').fill(TOKEN);
    await screenshot(page, 'new-workspace');
    await button(page, 'Create workspace').click();
    await page.getByRole('heading', { level: 1, name: 'Operations' }).waitFor();
    // Its status while it provisions, then active; the token is nowhere in the page.
    await page.getByText('active', { exact: true }).waitFor({ timeout: 60_000 });
    expect(await page.content()).not.toContain(TOKEN);
    await page.getByRole('link', { name: 'Workspaces', exact: true }).first().click();
    await page.getByRole('link', { name: 'Operations', exact: true }).waitFor();
    expect(await page.content()).not.toContain(TOKEN);
    expect(await page.evaluate<string>('JSON.stringify(localStorage)')).not.toContain(TOKEN);
    await screenshot(page, 'workspaces');

    // A base id the emulator does not have: the workspace fails, and says why.
    await page.getByRole('link', { name: 'New workspace', exact: true }).click();
    await textbox(page, 'Name').fill('Nowhere');
    await textbox(page, 'Airtable base id').fill('appNOSUCHBASE0000');
    await textbox(page, 'Airtable token').fill(TOKEN);
    await button(page, 'Create workspace').click();
    await page.getByText(/Provisioning failed/).waitFor({ timeout: 60_000 });
  });

  it("streams the agent's answer into the chat as it happens, each tool call compact", async () => {
    const { page } = await workspaceReady();
    await newConversation(page);
    // A pause before each model answer, so each event of the turn arrives on its own.
    gemini.setFaults({ latencyMs: 700 });
    gemini.script([
      { functionCalls: [{ name: 'count_records', args: { tableId: 'Tasks' } }] },
      { text: 'There are 30 tasks.' },
    ]);
    // What the chat log showed, each time it changed: it must have shown the tool call before the answer.
    await page.evaluate(`{
      const log = document.querySelector('[role="log"]');
      window.seen = [];
      new MutationObserver(() => window.seen.push(log.textContent)).observe(log, {
        subtree: true,
        childList: true,
        characterData: true,
      });
    }`);
    const navigations: string[] = [];
    page.on('framenavigated', (frame) => navigations.push(frame.url()));
    await send(page, 'How many tasks do we have?');
    const log = page.getByRole('log', { name: 'Messages' });
    await log.getByText('How many tasks do we have?').waitFor();
    await log.getByText('There are 30 tasks.').waitFor({ timeout: 30_000 });
    await page.getByText('Ready for your message.').waitFor();
    const seen = await page.evaluate<string[]>('window.seen');
    const toolFirst = seen.findIndex(
      (s) => s.includes('count_records') && !s.includes('There are 30 tasks.'),
    );
    const answered = seen.findIndex((s) => s.includes('There are 30 tasks.'));
    expect(toolFirst).toBeGreaterThanOrEqual(0);
    expect(answered).toBeGreaterThan(toolFirst);
    expect(navigations).toEqual([]);
    // The tool call: its name, status and a summary in one line; arguments and result behind a disclosure.
    const call = log.locator('details').filter({ hasText: 'count_records' });
    await call.getByText('succeeded').waitFor();
    await call.getByText('count 30').waitFor();
    expect(await call.getByText('"tableId": "Tasks"').isVisible()).toBe(false);
    await call.locator('summary').click();
    await call.getByText('"tableId": "Tasks"').waitFor();
    await screenshot(page, 'conversation');
  });

  it('approves a write: the chat shows the decision at once and the record changes in the emulator', async () => {
    const { page, baseId } = await workspaceReady();
    await newConversation(page);
    const acme = airtable.listRecords(baseId, 'Clients').find((r) => r.fields.Name === 'Acme')!;
    gemini.script([
      {
        functionCalls: [
          {
            name: 'update_records',
            args: { tableId: 'Clients', records: [{ id: acme.id, fields: { Tier: 'Silver' } }] },
          },
        ],
      },
      { text: 'Acme is Silver now.' },
    ]);
    await send(page, 'Make Acme silver');
    const approval = page.getByRole('region', { name: /Approval needed/ });
    await approval.waitFor({ timeout: 30_000 });
    // The preview: the record's field before and after.
    const preview = approval.getByRole('table', { name: `Update record ${acme.id} in Clients` });
    const tier = preview.getByRole('row', { name: /Tier/ });
    await tier.getByRole('cell', { name: 'Gold', exact: true }).waitFor();
    await tier.getByRole('cell', { name: 'Silver', exact: true }).waitFor();
    await page.getByText('Waiting for your decision on a change.').waitFor();
    expect(await button(page, 'Send').isDisabled()).toBe(true);
    await screenshot(page, 'approval');
    expect(airtable.listRecords(baseId, 'Clients').find((r) => r.id === acme.id)!.fields.Tier).toBe('Gold');

    await button(approval, 'Approve').click();
    // At once: the buttons go, the card says approved, before the turn goes on.
    await page
      .getByRole('region', { name: /Change: update_records/ })
      .getByText('approved')
      .waitFor({ timeout: 5_000 });
    expect(await button(page, 'Approve').count()).toBe(0);
    await page.getByRole('log').getByText('Acme is Silver now.').waitFor({ timeout: 30_000 });
    await eventually(async () =>
      airtable.listRecords(baseId, 'Clients').find((r) => r.id === acme.id)!.fields.Tier === 'Silver'
        ? true
        : undefined,
    );
  });

  it('declines a write: the chat says so and nothing changes in the emulator', async () => {
    const { page, baseId } = await workspaceReady();
    await newConversation(page);
    const before = airtable.listRecords(baseId, 'Clients').length;
    gemini.script([
      {
        functionCalls: [
          { name: 'create_record', args: { tableId: 'Clients', fields: { Name: 'Initrode' } } },
        ],
      },
      { text: 'I did not add Initrode.' },
    ]);
    await send(page, 'Add Initrode');
    const approval = page.getByRole('region', { name: /Approval needed/ });
    await approval
      .getByRole('table', { name: 'New record in Clients' })
      .getByRole('cell', { name: 'Initrode' })
      .waitFor({
        timeout: 30_000,
      });
    await textbox(approval, 'Note (optional)').fill('not now');
    await button(approval, 'Decline').click();
    const decided = page.getByRole('region', { name: /Change: create_record/ });
    await decided.getByText('declined', { exact: true }).waitFor({ timeout: 5_000 });
    await page.getByRole('log').getByText('I did not add Initrode.').waitFor({ timeout: 30_000 });
    await page
      .getByRole('log')
      .locator('details')
      .filter({ hasText: 'create_record' })
      .getByText('declined', { exact: true })
      .waitFor();
    expect(airtable.listRecords(baseId, 'Clients')).toHaveLength(before);
    expect(airtable.listRecords(baseId, 'Clients').some((r) => r.fields.Name === 'Initrode')).toBe(false);
  });

  it('cancels a running change set from the Jobs tab and shows it compensated', async () => {
    const { page, baseId, workspaceId, user } = await workspaceReady();
    const before = airtable.listRecords(baseId, 'Clients').map((r) => r.id);
    // Twenty requests land (more than a first slice of 1 s can send), then Airtable answers 503 until
    // the end of the test: the change set keeps retrying, part applied, however slowly this
    // machine brings the page up.
    airtable.setFaults({
      rules: [{ operation: 'create', table: 'Clients', skip: 20, times: 1_000_000, status: 503 }],
    });
    try {
      const submitted = await request(app)
        .post(`/api/v1/workspaces/${workspaceId}/changes`)
        .set(user.auth)
        .send({
          steps: [
            {
              table: 'Clients',
              action: 'create',
              records: Array.from({ length: 400 }, (_, i) => ({ fields: { Name: `Bulk ${i}` } })),
            },
          ],
        })
        .expect(202);
      const jobId = submitted.body.job.id as string;
      const streams: string[] = [];
      page.on('response', (res) => {
        if (res.url().endsWith(`/api/v1/jobs/${jobId}/events`))
          streams.push(`${res.status()} ${res.headers()['content-type']}`);
      });
      await page.getByRole('link', { name: 'Jobs', exact: true }).click();
      const row = page.locator('tr', { has: page.locator(`code[title="${jobId}"]`) });
      // Live progress, then the cancel, once some records are in. The wait allows for one 429 and its
      // 30 s penalty: the emulator takes requests on this process's event loop, shared with the
      // worker and the browser's driver, so on a busy machine it can stamp a request 100 ms after the
      // pacer saw it leave, more than the 15 ms the pacer allows for requests known to have left.
      const applied = row.getByText(/[1-9]\d* of 400 records applied/);
      await applied.waitFor({ timeout: 60_000 }).catch((err: Error) => {
        const answers = airtable.requestLog
          .filter((e) => e.baseId === baseId)
          .map((e) => `${e.method} ${e.status}`);
        throw new Error(`${err.message}\nAirtable answered this base: ${answers.join(', ')}`, { cause: err });
      });
      const temporal = row.getByRole('link', { name: /^Temporal Web UI/ });
      expect(await temporal.getAttribute('href')).toBe(
        `http://127.0.0.1:8233/namespaces/default/workflows/${jobId}`,
      );
      await row.getByRole('button', { name: /^Cancel Change set/ }).click();
      await row.getByText('cancelled', { exact: true }).waitFor({ timeout: 60_000 });
      await row.getByText(/Compensated: every record it had applied was undone/).waitFor();
      // The progress came live from the job's event stream (the list's polling is the fallback).
      expect(streams[0]).toBe('200 text/event-stream; charset=utf-8');
      await screenshot(page, 'jobs');
      expect(airtable.listRecords(baseId, 'Clients').map((r) => r.id)).toEqual(before);
    } finally {
      airtable.setFaults({});
    }
  }, 180_000);

  it('shows a sync: its schedule and last runs; pauses, resumes and runs it; and says so when the server has no syncs', async () => {
    const { page, user, workspaceId } = await workspaceReady({ baseId: SYNC_BASE_ID, name: 'Sync base' });
    await page.getByRole('link', { name: 'Syncs', exact: true }).click();
    await page.getByText('No sync yet').waitFor();
    await textbox(page, 'Every').fill('1h');
    await button(page, 'Create sync').click();
    const card = page.getByRole('region', { name: /Sync of all tables/ });
    await card.getByText('every 1h').waitFor();
    const listed = await request(app)
      .get(`/api/v1/workspaces/${workspaceId}/syncs`)
      .set(user.auth)
      .expect(200);
    const syncId = listed.body.syncs[0].id as string;
    cleanups.push(async () => {
      const sync = await request(app).get(`/api/v1/syncs/${syncId}`).set(user.auth);
      await request(app).delete(`/api/v1/syncs/${syncId}`).set(user.auth);
      const role = sync.body.sync?.postgres?.role as string | undefined;
      if (role) {
        await ctx.pool.query(`DROP OWNED BY "${role}"`).catch(() => undefined);
        await ctx.pool.query(`DROP ROLE IF EXISTS "${role}"`).catch(() => undefined);
      }
    });
    // Its first run starts at once; then one more, now.
    const runs = card.getByRole('table', { name: 'Last runs' });
    await runs.getByText('completed').first().waitFor({ timeout: 60_000 });
    await button(card, 'Run now').click();
    await card.getByText(/Run started/).waitFor();
    await eventually(
      async () => ((await runs.getByText('completed').count()) >= 2 ? true : undefined),
      60_000,
    );
    await button(card, 'Pause').click();
    await card.getByText('paused', { exact: true }).first().waitFor();
    await screenshot(page, 'syncs');
    await button(card, 'Resume').click();
    await button(card, 'Pause').waitFor();
    await card.getByText('active', { exact: true }).waitFor();

    // A server without the syncs routes (a 404 route_not_found): the tab says so.
    await page.route('**/api/v1/workspaces/*/syncs', (route) =>
      route.fulfill({
        status: 404,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'route_not_found', message: 'No route for GET …' } }),
      }),
    );
    await page.getByRole('link', { name: 'Jobs', exact: true }).click();
    await page.getByRole('link', { name: 'Syncs', exact: true }).click();
    await page.getByText('Syncs are not available on this server yet.').waitFor();
  });

  it("saves the workspace's settings and shows this month's usage", async () => {
    const { page, workspaceId, user } = await workspaceReady();
    await page.getByRole('link', { name: 'Settings and usage', exact: true }).click();
    await page.getByRole('combobox', { name: 'Approval policy' }).selectOption('always');
    await page.getByRole('spinbutton', { name: 'Monthly budget (USD)' }).fill('12.5');
    await textbox(page, 'Model').fill('gemini-2.5-flash');
    await button(page, 'Save settings').click();
    await page.getByText('Settings saved.').waitFor();
    const saved = await request(app).get(`/api/v1/workspaces/${workspaceId}`).set(user.auth).expect(200);
    expect(saved.body.settings).toEqual({
      approvalPolicy: 'always',
      monthlyBudgetUsd: 12.5,
      model: 'gemini-2.5-flash',
    });
    const usage = page.getByRole('region', { name: /Usage this month/ });
    await usage.getByText('Airtable requests').waitFor();
    await usage.getByText('Provisioning: 1').waitFor();
    await usage.getByText('$0.0000 of $12.50').waitFor();
    await screenshot(page, 'settings');
  });

  it('works with the keyboard alone in a narrow window, and every control has a role and a name', async () => {
    const user = await registerUser(app);
    const baseId = BASES[nextBase++]!;
    await createActiveWorkspace(app, user.auth, { baseId, token: TOKEN }, 'Keyboard');
    const { page, context } = await newPage({ width: 360, height: 740 });
    await page.goto(`${base}/`);
    await button(page, 'Sign in').waitFor();
    await noHorizontalScroll(page);
    await namesOfControls(page, context);
    await page.keyboard.press('Tab');
    await page.keyboard.type(user.email);
    await page.keyboard.press('Tab');
    await page.keyboard.type(user.password);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Workspaces' }).waitFor();
    await noHorizontalScroll(page);
    await namesOfControls(page, context);

    await tabTo(page, `el.tagName === 'A' && el.textContent === 'Keyboard'`);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Keyboard' }).waitFor();
    await tabTo(page, `el.tagName === 'BUTTON' && el.textContent === 'New conversation'`);
    await page.keyboard.press('Enter');
    await textbox(page, 'Message').waitFor();
    await page.getByText('Ready for your message.').waitFor();
    gemini.script([
      {
        functionCalls: [
          {
            name: 'update_records',
            args: {
              tableId: 'Clients',
              records: [{ id: airtable.listRecords(baseId, 'Clients')[0]!.id, fields: { Tier: 'Silver' } }],
            },
          },
        ],
      },
      { text: 'Done.' },
    ]);
    await tabTo(page, `el.tagName === 'TEXTAREA'`);
    await page.keyboard.type('Make the first client silver');
    await page.keyboard.press('Enter');
    await page.getByRole('region', { name: /Approval needed/ }).waitFor({ timeout: 30_000 });
    await noHorizontalScroll(page);
    await namesOfControls(page, context);
    await screenshot(page, 'narrow-approval');
    await tabTo(page, `el.tagName === 'BUTTON' && el.textContent === 'Approve'`);
    await page.keyboard.press('Enter');
    await page.getByRole('log').getByText('Done.').waitFor({ timeout: 30_000 });

    await page
      .getByRole('navigation', { name: 'Breadcrumb' })
      .getByRole('link', { name: 'Keyboard', exact: true })
      .click();
    for (const tab of ['Jobs', 'Syncs', 'Settings and usage']) {
      await page.getByRole('link', { name: tab, exact: true }).click();
      await page.getByRole('heading', { level: 2 }).first().waitFor();
      await noHorizontalScroll(page);
      await namesOfControls(page, context);
    }
  });

  /** Presses Tab until the focused element (`el`) makes `condition` true (at most 60 times). */
  async function tabTo(page: Page, condition: string): Promise<void> {
    for (let i = 0; i < 60; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate<boolean>(`{ const el = document.activeElement; !!el && (${condition}) }`))
        return;
    }
    throw new Error(`Tab never reached an element where ${condition}`);
  }

  async function noHorizontalScroll(page: Page): Promise<void> {
    const widths = await page.evaluate<{ scroll: number; view: number }>(
      '({ scroll: document.documentElement.scrollWidth, view: window.innerWidth })',
    );
    expect(widths.scroll).toBeLessThanOrEqual(widths.view);
  }

  /** Every control in Chromium's accessibility tree has a role and a non-empty name. */
  async function namesOfControls(page: Page, context: BrowserContext): Promise<void> {
    const cdp = await context.newCDPSession(page);
    const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as {
      nodes: Array<{ ignored: boolean; role?: { value: string }; name?: { value: string } }>;
    };
    await cdp.detach();
    const controls = nodes.filter(
      (n) =>
        !n.ignored &&
        [
          'button',
          'link',
          'textbox',
          'combobox',
          'checkbox',
          'spinbutton',
          'radio',
          'searchbox',
          'slider',
          'switch',
          'tab',
          'menuitem',
        ].includes(n.role?.value ?? ''),
    );
    expect(controls.length).toBeGreaterThan(0);
    expect(controls.filter((n) => !n.name?.value?.trim()).map((n) => n.role?.value)).toEqual([]);
  }
});

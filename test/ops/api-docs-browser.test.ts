import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { chromium, type Browser } from 'playwright-core';
import { createTestApi, createTestContext, uniqueTaskQueue, type TestContext } from '../support/helpers';

// `/api/docs` in a real headless Chromium (Debian's `chromium` package, driven by playwright-core;
// no browser is downloaded): the page renders the endpoints from /api/openapi.json, and loads
// nothing from outside this machine.

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('interactive API docs in Chromium', () => {
  let ctx: TestContext;
  let server: Server;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    ctx = await createTestContext();
    const app = createTestApi(ctx, uniqueTaskQueue('docs'));
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    await ctx?.close();
  });

  it('shows every group of endpoints, loading nothing from outside', async () => {
    const page = await browser.newPage();
    const outside: string[] = [];
    const problems: string[] = [];
    // Anything not served by the API itself is refused and remembered.
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(base) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
      outside.push(url);
      return route.abort();
    });
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (err) => problems.push(err.message));

    const response = await page.goto(`${base}/api/docs`);
    expect(response?.status()).toBe(200);
    await page.waitForSelector('.opblock-summary-path', { timeout: 30_000 });
    const paths = await page.$$eval('.opblock-summary-path', (els) =>
      els.map((el) => el.getAttribute('data-path') ?? el.textContent ?? ''),
    );
    expect(paths).toEqual(
      expect.arrayContaining([
        '/api/v1/auth/register',
        '/api/v1/workspaces/{id}/changes',
        '/api/v1/jobs/{id}/events',
        '/api/v1/conversations/{id}/events',
      ]),
    );
    const text = await page.textContent('body');
    expect(text).toContain('Airtable Ops Platform API');
    expect(text).toContain('Submit an all-or-nothing change set');
    expect(outside).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });
});

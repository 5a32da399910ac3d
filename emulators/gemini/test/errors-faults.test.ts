import { startGeminiEmulator, type GeminiEmulator, type GeminiRequestLogEntry } from '../src';
import { apiErrorOf, clientFor, FLASH, post } from './helpers';

interface RetryInfo {
  '@type': string;
  retryDelay?: string;
}

describe('errors, faults, the request log and scripts', () => {
  let emulator: GeminiEmulator;
  beforeAll(async () => {
    emulator = await startGeminiEmulator({ keys: ['key-for-test-a', 'key-for-test-b'], retryDelay: 7 });
  });
  afterAll(() => emulator.close());
  beforeEach(() => emulator.reset());

  const ask = (key?: string) =>
    clientFor(emulator, key ? { key } : {}).models.generateContent({ model: FLASH, contents: 'hi' });

  it('answers 429 RESOURCE_EXHAUSTED with QuotaFailure and RetryInfo, readable from the SDK ApiError', async () => {
    emulator.setFaults({ failNext: [{ status: 429 }, { status: 'RESOURCE_EXHAUSTED', retryDelay: '32s' }] });
    const first = await apiErrorOf(ask());
    expect(first.error.name).toBe('ApiError');
    expect(first.error.status).toBe(429);
    expect(first.body.error).toMatchObject({
      code: 429,
      status: 'RESOURCE_EXHAUSTED',
      message: 'Resource has been exhausted (e.g. check quota).',
    });
    const types = first.body.error.details!.map((d) => (d as RetryInfo)['@type']);
    expect(types[0]).toBe('type.googleapis.com/google.rpc.QuotaFailure');
    const retryInfo = first.body.error.details!.find(
      (d) => (d as RetryInfo)['@type'] === 'type.googleapis.com/google.rpc.RetryInfo',
    ) as RetryInfo;
    expect(retryInfo.retryDelay).toBe('7s'); // the emulator's retryDelay option
    const second = await apiErrorOf(ask());
    expect(JSON.stringify(second.body)).toContain('"retryDelay":"32s"');
    expect((await ask()).text).toBe('You said: "hi"');
    expect(emulator.requests().map((r) => [r.status, r.answeredBy])).toEqual([
      [429, 'fault'],
      [429, 'fault'],
      [200, 'assistant'],
    ]);
  });

  it('answers 403 PERMISSION_DENIED for a wrong key (SDK) and a missing key (raw)', async () => {
    const wrong = await apiErrorOf(ask('not-a-key'));
    expect(wrong.error.status).toBe(403);
    expect(wrong.body.error).toMatchObject({ code: 403, status: 'PERMISSION_DENIED' });
    expect(JSON.stringify(wrong.body.error.details)).toContain('API_KEY_INVALID');
    const missing = await post(emulator, `/v1beta/models/${FLASH}:generateContent`, { contents: [] }, {});
    expect(missing.status).toBe(403);
    expect(await missing.json()).toMatchObject({ error: { code: 403, status: 'PERMISSION_DENIED' } });
    expect(emulator.requests().map((r) => r.answeredBy)).toEqual(['auth', 'auth']);
  });

  it('answers 500 INTERNAL, 503 UNAVAILABLE and 504 DEADLINE_EXCEEDED', async () => {
    emulator.setFaults({ failNext: [{ status: 500 }, { status: 503, count: 1 }] });
    emulator.script([
      { error: { status: 'DEADLINE_EXCEEDED' } },
      { error: { status: 400, message: 'nope' } },
    ]);
    const results = [];
    for (let i = 0; i < 4; i++) results.push((await apiErrorOf(ask())).body.error);
    expect(results.map((e) => [e.code, e.status])).toEqual([
      [500, 'INTERNAL'],
      [503, 'UNAVAILABLE'],
      [504, 'DEADLINE_EXCEEDED'],
      [400, 'INVALID_ARGUMENT'],
    ]);
    expect(results[3]!.message).toBe('nope');
  });

  it('draws random 500/503 at a rate, and waits a latency range', async () => {
    emulator.setFaults({ serverErrorRate: 1 });
    const statuses = new Set<number>();
    for (let i = 0; i < 12; i++) statuses.add((await apiErrorOf(ask())).error.status);
    expect([...statuses].every((s) => s === 500 || s === 503)).toBe(true);

    emulator.setFaults({ latencyMs: [60, 80] });
    const started = Date.now();
    await ask();
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
  });

  it('drives faults, scripts and the log over the control API', async () => {
    const control = (method: string, path: string, body?: unknown) =>
      fetch(`${emulator.url}/__emulator/${path}`, {
        method,
        ...(body !== undefined
          ? { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }
          : {}),
      });
    expect(
      (await control('PUT', 'faults', { failNext: { status: 429, count: 2, retryDelay: 3 } })).status,
    ).toBe(200);
    expect(await (await control('GET', 'faults')).json()).toMatchObject({
      failNext: [{ status: 429, remaining: 2, retryDelay: '3s' }],
    });
    expect((await apiErrorOf(ask())).error.status).toBe(429);
    expect(await (await control('GET', 'faults')).json()).toMatchObject({ failNext: [{ remaining: 1 }] });
    expect((await control('PUT', 'faults', {})).status).toBe(200);
    expect((await control('PUT', 'faults', { serverErrorRate: 2 })).status).toBe(400);

    const scripted = await control('POST', 'script', {
      turns: [{ text: 'from HTTP' }, { functionCalls: [{ name: 'list_tables', args: {} }] }],
    });
    expect(await scripted.json()).toMatchObject({ queued: 2, pending: { '': 2 } });
    expect((await control('POST', 'script', [{ bogus: true }])).status).toBe(400);
    expect((await ask()).text).toBe('from HTTP');
    expect((await ask()).functionCalls?.[0]?.name).toBe('list_tables');

    const log = (await (await control('GET', 'requests')).json()) as { requests: GeminiRequestLogEntry[] };
    expect(log.requests.map((r) => r.status)).toEqual([429, 200, 200]);
    expect(log.requests[1]).toMatchObject({
      model: FLASH,
      action: 'generateContent',
      answeredBy: 'script',
      body: { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] },
      response: { candidates: [{ content: { parts: [{ text: 'from HTTP' }] } }] },
    });
    expect(typeof log.requests[1]!.at).toBe('number');
    expect((await control('DELETE', 'requests')).status).toBe(204);
    expect(emulator.requests()).toEqual([]);
    expect((await control('GET', 'health')).status).toBe(200);
    expect((await control('GET', 'nothing')).status).toBe(404);
  });

  it('keeps per-key and per-header script queues apart, and runs scripted functions', async () => {
    emulator.script([{ text: 'for A' }], { scope: 'key-for-test-a' });
    emulator.script([{ text: 'for B' }], { scope: 'key-for-test-b' });
    emulator.script([(request) => ({ text: `scoped ${request.scope} saw "${request.lastUserText}"` })], {
      scope: 'conversation-1',
    });
    emulator.script([{ text: 'shared' }]);
    const [b, a, scoped, shared] = await Promise.all([
      ask('key-for-test-b'),
      ask('key-for-test-a'),
      clientFor(emulator, { key: 'key-for-test-a', scope: 'conversation-1' }).models.generateContent({
        model: FLASH,
        contents: 'who?',
      }),
      ask(),
    ]);
    expect([a.text, b.text, scoped.text, shared.text]).toEqual([
      'for A',
      'for B',
      'scoped conversation-1 saw "who?"',
      'shared',
    ]);
    expect(emulator.pendingScript()).toEqual({
      'key-for-test-a': 0,
      'key-for-test-b': 0,
      'conversation-1': 0,
      '': 0,
    });
  });

  it('can fail loudly when a script is used up, and turns a throwing script function into 500', async () => {
    const strict = await startGeminiEmulator({ whenScriptEmpty: 'error' });
    try {
      strict.script([
        () => {
          throw new Error('boom');
        },
        { text: 'one' },
      ]);
      const client = clientFor(strict);
      const thrown = await apiErrorOf(client.models.generateContent({ model: FLASH, contents: 'x' }));
      expect(thrown.error.status).toBe(500);
      expect(thrown.body.error.message).toContain('boom');
      expect((await client.models.generateContent({ model: FLASH, contents: 'x' })).text).toBe('one');
      const usedUp = await apiErrorOf(client.models.generateContent({ model: FLASH, contents: 'x' }));
      expect(usedUp.error.status).toBe(500);
      expect(usedUp.body.error.message).toContain('script is used up');
    } finally {
      await strict.close();
    }
  });

  it('refuses malformed scripts programmatically', () => {
    expect(() => emulator.script([{ text: 1 } as never])).toThrow(TypeError);
    expect(() => emulator.script([{ error: { status: 200 } }])).toThrow(/400 to 599/);
    expect(() => emulator.script([{ functionCalls: [{ args: {} } as never] }])).toThrow(/needs a name/);
  });
});

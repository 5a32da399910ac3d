import type { AirtableEmulator } from '../src';
import { BASE_ID, TOKEN, call, client, clientError, startConformanceEmulator, type Loose } from './helpers';

const control = (emulator: AirtableEmulator, method: string, path: string, body?: unknown) =>
  fetch(`${emulator.url}/__emulator/${path}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
  });

describe('request log', () => {
  let emulator: AirtableEmulator;
  beforeEach(async () => {
    emulator = await startConformanceEmulator();
  });
  afterEach(() => emulator.close());

  it('records arrival time, method, path, base, a token label (never the token), status and duration', async () => {
    const before = Date.now();
    await call(emulator, 'GET', `/v0/${BASE_ID}/Tasks?maxRecords=1`);
    await call(emulator, 'GET', `/v0/meta/bases/${BASE_ID}/tables`);
    await call(emulator, 'GET', `/v0/${BASE_ID}/Tasks/recMissingRecord1`);
    await call(emulator, 'GET', `/v0/${BASE_ID}/Tasks`, undefined, null);
    const log = emulator.requestLog;
    expect(log).toHaveLength(4);
    expect(log[0]).toEqual({
      at: expect.any(Number),
      method: 'GET',
      path: `/v0/${BASE_ID}/Tasks?maxRecords=1`,
      baseId: BASE_ID,
      tokenId: expect.stringMatching(/^tok_[0-9a-f]{8}$/),
      status: 200,
      durationMs: expect.any(Number),
    });
    expect(log[0]!.at).toBeGreaterThanOrEqual(before);
    expect(log[1]).toMatchObject({ baseId: BASE_ID, status: 200 });
    expect(log[2]).toMatchObject({ status: 404 });
    expect(log[3]).toMatchObject({ status: 401 });
    expect(log[3]).not.toHaveProperty('tokenId');
    expect(JSON.stringify(log)).not.toContain(TOKEN);
    emulator.clearRequestLog();
    expect(emulator.requestLog).toHaveLength(0);
  });

  it('serves the log to other processes, filtered by ?since, and clears it on DELETE', async () => {
    await call(emulator, 'GET', `/v0/${BASE_ID}/Tasks`);
    const middle = Date.now() + 1;
    await new Promise((r) => setTimeout(r, 5));
    await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks`, { fields: { Title: 'logged' } });
    const all = (await (await control(emulator, 'GET', 'log')).json()) as Loose;
    expect(all.entries).toHaveLength(2);
    const recent = (await (await control(emulator, 'GET', `log?since=${middle}`)).json()) as Loose;
    expect(recent.entries.map((e: Loose) => e.method)).toEqual(['POST']);
    expect((await control(emulator, 'DELETE', 'log')).status).toBe(204);
    expect(((await (await control(emulator, 'GET', 'log')).json()) as Loose).entries).toEqual([]);
    expect((await control(emulator, 'GET', 'health')).status).toBe(200);
  });
});

describe('faults and latency', () => {
  let emulator: AirtableEmulator;
  beforeEach(async () => {
    emulator = await startConformanceEmulator();
  });
  afterEach(() => emulator.close());

  it('answers 500 for serverErrorRate 1 without touching state', async () => {
    emulator.setFaults({ serverErrorRate: 1 });
    const answer = await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks`, {
      fields: { Title: 'never stored' },
    });
    expect(answer.status).toBe(500);
    expect(answer.body.error.type).toBe('SERVER_ERROR');
    const viaClient = await clientError(client(emulator).base(BASE_ID)('Tasks').select().firstPage());
    expect(viaClient).toMatchObject({ error: 'SERVER_ERROR', statusCode: 500 });
    emulator.setFaults({});
    expect(emulator.listRecords(BASE_ID, 'Tasks')).toHaveLength(3);
  });

  it('answers 429 for rateLimitRate 1 without a penalty', async () => {
    const put = await control(emulator, 'PUT', 'faults', { rateLimitRate: 1 });
    expect(put.status).toBe(200);
    const answer = await call(emulator, 'GET', `/v0/${BASE_ID}/Tasks`);
    expect(answer.status).toBe(429);
    expect(answer.body.errors[0].message).toBe('Rate limit exceeded. Please try again later');
    await control(emulator, 'PUT', 'faults', {});
    expect((await call(emulator, 'GET', `/v0/${BASE_ID}/Tasks`)).status).toBe(200);
  });

  it('applies a dropped request, then cuts the connection without an answer', async () => {
    emulator.setFaults({ dropRate: 1 });
    await expect(
      fetch(`${emulator.url}/v0/${BASE_ID}/Tasks`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ fields: { Title: 'applied but unanswered' } }),
      }),
    ).rejects.toThrow();
    emulator.setFaults({});
    expect(emulator.listRecords(BASE_ID, 'Tasks').map((r) => r.fields.Title)).toContain(
      'applied but unanswered',
    );
    expect(emulator.requestLog.at(-1)).toMatchObject({ method: 'POST', status: 0 });
  });

  it('fires a fault rule only on the matching operation and table, after `skip`, `times` times', async () => {
    emulator.setFaults({
      rules: [{ operation: 'update', table: 'Tasks', skip: 1, times: 2, status: 422, message: 'boom' }],
    });
    const [task] = emulator.listRecords(BASE_ID, 'Tasks');
    const update = (title: string) =>
      call(emulator, 'PATCH', `/v0/${BASE_ID}/Tasks`, {
        records: [{ id: task!.id, fields: { Title: title } }],
      });
    // Other operations and tables pass untouched and are not counted.
    expect((await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks/listRecords`, {})).status).toBe(200);
    expect((await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks`, { fields: { Title: 'new' } })).status).toBe(
      200,
    );
    expect((await update('first')).status).toBe(200);
    const refused = await update('second');
    expect(refused.status).toBe(422);
    expect(refused.body).toEqual({ error: { type: 'INVALID_VALUE_FOR_COLUMN', message: 'boom' } });
    expect((await update('third')).status).toBe(422);
    expect((await update('fourth')).status).toBe(200);
    expect(emulator.listRecords(BASE_ID, 'Tasks').find((r) => r.id === task!.id)!.fields.Title).toBe(
      'fourth',
    );
    // An upsert is its own operation, even though it is a PATCH too.
    emulator.setFaults({ rules: [{ operation: 'upsert', status: 503 }] });
    expect((await update('fifth')).status).toBe(200);
    const upsert = await call(emulator, 'PATCH', `/v0/${BASE_ID}/Tasks`, {
      records: [{ fields: { Title: 'fifth' } }],
      performUpsert: { fieldsToMergeOn: ['Title'] },
    });
    expect(upsert.status).toBe(503);
    expect(upsert.body.error.type).toBe('SERVER_ERROR');
  });

  it('applies a request matched by a drop rule and cuts its connection (an unknown outcome)', async () => {
    const put = await control(emulator, 'PUT', 'faults', {
      rules: [{ operation: 'create', effect: 'drop' }],
    });
    expect(put.status).toBe(200);
    const send = (title: string) =>
      fetch(`${emulator.url}/v0/${BASE_ID}/Tasks`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ records: [{ fields: { Title: title } }] }),
      });
    await expect(send('landed unanswered')).rejects.toThrow();
    expect((await send('answered')).status).toBe(200);
    const titles = emulator.listRecords(BASE_ID, 'Tasks').map((r) => r.fields.Title);
    expect(titles).toEqual(expect.arrayContaining(['landed unanswered', 'answered']));
    const faults = (await (await control(emulator, 'GET', 'faults')).json()) as Loose;
    expect(faults.rules[0].matched).toBe(2);
    expect((await control(emulator, 'PUT', 'faults', { rules: [{ operation: 'rename' }] })).status).toBe(400);
  });

  it('holds slow answers for slowMs and adds latency, fixed or in a range', async () => {
    emulator.setFaults({ slowRate: 1, slowMs: 300 });
    let started = Date.now();
    expect((await call(emulator, 'GET', `/v0/${BASE_ID}/Tasks`)).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(emulator.requestLog.at(-1)!.durationMs).toBeGreaterThanOrEqual(290);
    emulator.setFaults({});

    emulator.setLatency(150);
    started = Date.now();
    await call(emulator, 'GET', `/v0/${BASE_ID}/Tasks`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);

    const put = await control(emulator, 'PUT', 'latency', { latencyMs: [60, 90] });
    expect(await put.json()).toEqual({ latencyMs: [60, 90] });
    for (let i = 0; i < 3; i++) await call(emulator, 'GET', `/v0/${BASE_ID}/Tasks`);
    for (const entry of emulator.requestLog.slice(-3)) {
      expect(entry.durationMs).toBeGreaterThanOrEqual(59);
      expect(entry.durationMs).toBeLessThan(400);
    }
    // Set back to 0, it holds nothing: ten minutes of latency taken back, a request answers (held
    // that long, it would outlast the test's timeout).
    emulator.setLatency(600_000);
    await control(emulator, 'PUT', 'latency', 0);
    expect((await call(emulator, 'GET', `/v0/${BASE_ID}/Tasks`)).status).toBe(200);
  });

  it('refuses invalid fault, latency and limit settings with 400', async () => {
    expect((await control(emulator, 'PUT', 'faults', { serverErrorRate: 2 })).status).toBe(400);
    expect((await control(emulator, 'PUT', 'latency', { latencyMs: [90, 60] })).status).toBe(400);
    expect((await control(emulator, 'PUT', 'latency', 'soon')).status).toBe(400);
    expect((await control(emulator, 'PUT', 'limits', { enabled: 'yes' })).status).toBe(400);
    expect(() => emulator.setFaults({ dropRate: -1 })).toThrow();
    expect((await control(emulator, 'GET', 'nothing')).status).toBe(404);
  });

  it('replays the same faults and ids for the same randomSeed', async () => {
    const runOnce = async () => {
      const e = await startConformanceEmulator({ randomSeed: 7, faults: { serverErrorRate: 0.5 } });
      try {
        const statuses: number[] = [];
        const ids: string[] = [];
        for (let i = 0; i < 12; i++) {
          const answer = await call(e, 'POST', `/v0/${BASE_ID}/Tasks`, { fields: { Title: `t${i}` } });
          statuses.push(answer.status);
          if (answer.status === 200) ids.push(answer.body.id);
        }
        return { statuses, ids };
      } finally {
        await e.close();
      }
    };
    const first = await runOnce();
    const second = await runOnce();
    expect(first).toEqual(second);
    expect(first.statuses).toContain(500);
    expect(first.statuses).toContain(200);
  });
});

import { DEFAULT_LIMITS, startAirtableEmulator, type AirtableEmulator, type EmulatorSeed } from '../src';
import {
  BASE_ID,
  OTHER_BASE_ID,
  SCOPED_TOKEN,
  TOKEN,
  call,
  client,
  clientError,
  sleep,
  startConformanceEmulator,
} from './helpers';

const RATE_LIMIT_BODY = {
  errors: [{ error: 'RATE_LIMIT_REACHED', message: 'Rate limit exceeded. Please try again later' }],
};
const PERMISSION_BODY = {
  error: {
    type: 'INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND',
    message:
      'Invalid permissions, or the requested model was not found. Check that both your user and your token have the required permissions, and that the model names and/or ids are correct.',
  },
};

describe('authentication and permissions', () => {
  let emulator: AirtableEmulator;
  beforeAll(async () => {
    emulator = await startConformanceEmulator();
  });
  afterAll(() => emulator.close());

  it('answers a missing, malformed or unknown token with 401 AUTHENTICATION_REQUIRED', async () => {
    const expected = { error: { type: 'AUTHENTICATION_REQUIRED', message: 'Authentication required' } };
    const missing = await call(emulator, 'GET', `/v0/${BASE_ID}/Tasks`, undefined, null);
    expect(missing.status).toBe(401);
    expect(missing.body).toEqual(expected);
    const unknown = await call(emulator, 'GET', `/v0/${BASE_ID}/Tasks`, undefined, 'patNotAToken00000.abc');
    expect(unknown.status).toBe(401);
    expect(unknown.body).toEqual(expected);
    const basic = await fetch(`${emulator.url}/v0/${BASE_ID}/Tasks`, {
      headers: { Authorization: `Basic ${TOKEN}` },
    });
    expect(basic.status).toBe(401);
    const meta = await call(emulator, 'GET', '/v0/meta/bases', undefined, null);
    expect(meta.status).toBe(401);
    const viaClient = await clientError(
      client(emulator, 'patWrong').base(BASE_ID)('Tasks').select().firstPage(),
    );
    expect(viaClient).toMatchObject({ error: 'AUTHENTICATION_REQUIRED', statusCode: 401 });
  });

  it('answers a base the token may not see, an unknown base and an unknown table with 403', async () => {
    const forbidden = await call(emulator, 'GET', `/v0/${BASE_ID}/Tasks`, undefined, SCOPED_TOKEN);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toEqual(PERMISSION_BODY);
    const allowed = await call(emulator, 'GET', `/v0/${OTHER_BASE_ID}/Things`, undefined, SCOPED_TOKEN);
    expect(allowed.status).toBe(200);
    const unknownBase = await call(emulator, 'GET', '/v0/appNoSuchBase0001/Tasks');
    expect(unknownBase.status).toBe(403);
    expect(unknownBase.body).toEqual(PERMISSION_BODY);
    const unknownTable = await call(emulator, 'POST', `/v0/${BASE_ID}/Nope`, { fields: {} });
    expect(unknownTable.status).toBe(403);
    expect(unknownTable.body).toEqual(PERMISSION_BODY);
    const viaClient = await clientError(
      client(emulator, SCOPED_TOKEN).base(BASE_ID)('Tasks').create({ Title: 'x' }),
    );
    expect(viaClient).toMatchObject({ error: 'NOT_AUTHORIZED', statusCode: 403 });
    expect(emulator.listRecords(BASE_ID, 'Tasks')).toHaveLength(3);
  });

  it('answers routes that do not exist with 404', async () => {
    const answer = await call(emulator, 'GET', '/v1/whatever');
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual({ error: 'NOT_FOUND' });
    const deep = await call(emulator, 'GET', `/v0/${BASE_ID}/Tasks/recTaskCopy000001/extra`);
    expect(deep.status).toBe(404);
  });
});

describe('rate limits', () => {
  let emulator: AirtableEmulator;
  beforeEach(async () => {
    emulator = await startConformanceEmulator({ limits: { penaltyMs: 1_500 } });
  });
  afterEach(() => emulator.close());

  const list = (base = BASE_ID, token = TOKEN) =>
    call(
      emulator,
      'GET',
      `/v0/${base}/${base === BASE_ID ? 'Tasks' : 'Things'}?maxRecords=1`,
      undefined,
      token,
    );

  it('has Airtable’s limits by default: 5/s per base, 50/s per token, 30 s penalty', async () => {
    expect(DEFAULT_LIMITS).toEqual({
      enabled: true,
      perBasePerSecond: 5,
      perTokenPerSecond: 50,
      penaltyMs: 30_000,
    });
    const defaults = await startAirtableEmulator({ seed: { bases: [] }, tokens: [TOKEN] });
    try {
      const limits = await (await fetch(`${defaults.url}/__emulator/limits`)).json();
      expect(limits).toEqual({
        enabled: true,
        perBasePerSecond: 5,
        perTokenPerSecond: 50,
        penaltyMs: 30_000,
      });
      const fifty = await Promise.all(
        Array.from({ length: 50 }, () => call(defaults, 'GET', '/v0/meta/bases')),
      );
      expect(fifty.every((a) => a.status === 200)).toBe(true);
      expect((await call(defaults, 'GET', '/v0/meta/bases')).status).toBe(429);
      // Well past a one-second window, the 30 s penalty still holds.
      await sleep(1_200);
      expect((await call(defaults, 'GET', '/v0/meta/bases')).status).toBe(429);
    } finally {
      await defaults.close();
    }
  });

  it('answers the 6th request in a second on one base with 429 and refuses that base for the penalty', async () => {
    const first = await Promise.all(Array.from({ length: 5 }, () => list()));
    expect(first.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    const sixth = await list();
    expect(sixth.status).toBe(429);
    expect(sixth.body).toEqual(RATE_LIMIT_BODY);
    // Other bases are not affected...
    expect((await list(OTHER_BASE_ID)).status).toBe(200);
    // ...but every caller of the penalized base is, even once the second has passed.
    await sleep(1_100);
    expect((await list(BASE_ID)).status).toBe(429);
    expect((await call(emulator, 'GET', `/v0/meta/bases/${BASE_ID}/tables`)).status).toBe(429);
    await sleep(500);
    expect((await list()).status).toBe(200);
  });

  it('counts a sliding second of arrivals, not fixed one-second buckets', async () => {
    // Five arrivals late in one clock second and one early in the next are six within a second.
    await sleep(1_700 - (Date.now() % 1_000));
    for (let i = 0; i < 5; i++) expect((await list()).status).toBe(200);
    await sleep(1_100 - (Date.now() % 1_000));
    expect((await list()).status).toBe(429);

    emulator.setLimits({ penaltyMs: 1_500 });
    for (let i = 0; i < 3; i++) expect((await list()).status).toBe(200);
    await sleep(700);
    for (let i = 0; i < 2; i++) expect((await list()).status).toBe(200);
    await sleep(360);
    // The first three left the window; the last two are still in it.
    for (let i = 0; i < 3; i++) expect((await list()).status).toBe(200);
    expect((await list()).status).toBe(429);
  });

  it('counts meta calls on a base toward that base', async () => {
    for (let i = 0; i < 5; i++)
      expect((await call(emulator, 'GET', `/v0/meta/bases/${BASE_ID}/tables`)).status).toBe(200);
    expect((await list()).status).toBe(429);
  });

  it('answers 50+ requests a second of one token with 429 across bases, then refuses the token everywhere', async () => {
    const seed: EmulatorSeed = {
      bases: Array.from({ length: 12 }, (_, i) => ({
        id: `appTokenLimit${String(i).padStart(4, '0')}`,
        name: `B${i}`,
        tables: [{ name: 'T', fields: [{ name: 'Name', type: 'singleLineText' }], records: [] }],
      })),
    };
    const wide = await startAirtableEmulator({
      seed,
      tokens: [TOKEN, 'patSecondToken001.x'],
      limits: { penaltyMs: 1_500 },
    });
    try {
      const fifty = await Promise.all(
        Array.from({ length: 50 }, (_, i) => call(wide, 'GET', `/v0/${seed.bases[i % 10]!.id}/T`)),
      );
      expect(fifty.every((a) => a.status === 200)).toBe(true);
      const over = await call(wide, 'GET', `/v0/${seed.bases[11]!.id}/T`);
      expect(over.status).toBe(429);
      expect(over.body).toEqual(RATE_LIMIT_BODY);
      expect((await call(wide, 'GET', '/v0/meta/bases')).status).toBe(429);
      // Another token is counted on its own (its bases still have room).
      expect(
        (await call(wide, 'GET', `/v0/${seed.bases[11]!.id}/T`, undefined, 'patSecondToken001.x')).status,
      ).toBe(200);
      await sleep(1_600);
      expect((await call(wide, 'GET', `/v0/${seed.bases[11]!.id}/T`)).status).toBe(200);
    } finally {
      await wide.close();
    }
  });

  it('gives the official client TOO_MANY_REQUESTS when it is told not to retry', async () => {
    for (let i = 0; i < 5; i++) await list();
    const error = await clientError(
      client(emulator).base(BASE_ID)('Tasks').create({ Title: 'over the limit' }),
    );
    expect(error).toMatchObject({ error: 'TOO_MANY_REQUESTS', statusCode: 429 });
    expect(emulator.listRecords(BASE_ID, 'Tasks')).toHaveLength(3);
  });

  it('does not count or log the control API', async () => {
    emulator.clearRequestLog();
    for (let i = 0; i < 20; i++) expect((await fetch(`${emulator.url}/__emulator/health`)).status).toBe(200);
    const answers = await Promise.all(Array.from({ length: 5 }, () => list()));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(emulator.requestLog).toHaveLength(5);
    expect(emulator.requestLog.some((e) => e.path.startsWith('/__emulator'))).toBe(false);
  });

  it('can be switched off and tuned at run time, which forgets penalties', async () => {
    for (let i = 0; i < 6; i++) await list();
    expect((await list()).status).toBe(429);
    emulator.setLimits({ enabled: false });
    for (let i = 0; i < 30; i++) expect((await list()).status).toBe(200);
    const tuned = await fetch(`${emulator.url}/__emulator/limits`, {
      method: 'PUT',
      body: JSON.stringify({ perBasePerSecond: 2, penaltyMs: 100 }),
    });
    expect(await tuned.json()).toEqual({
      enabled: true,
      perBasePerSecond: 2,
      perTokenPerSecond: 50,
      penaltyMs: 100,
    });
    expect((await list()).status).toBe(200);
    expect((await list()).status).toBe(200);
    expect((await list()).status).toBe(429);
    const bad = await fetch(`${emulator.url}/__emulator/limits`, {
      method: 'PUT',
      body: JSON.stringify({ perBasePerSecond: 'many' }),
    });
    expect(bad.status).toBe(400);
  });
});

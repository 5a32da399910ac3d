import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { AirtableApiError, toAirtableFailure } from '../../airtable/errors';
import { classify } from '../../activities/classify';
import { FailureType } from '../../core/failures';
import { formulaEquals, recordIdPartitions } from '../../airtable/formula';
import { PostgresPacer, tokenKey } from '../../airtable/pacing';
import { createAirtableRecords } from '../../airtable/records';
import { getBaseSchema } from '../../airtable/meta';
import { SchemaCache } from '../../airtable/schema-cache';
import { readAllPages, readPartitions, type PartitionedCheckpoint } from '../../airtable/streaming';
import { createPool, type Pool } from '../../db/pool';
import { startAirtableEmulator, type AirtableEmulator } from '@airtable-ops/airtable-emulator';
import { TEST_ENV } from '../support/env';
import { SMALL_BASE_ID, smallSeed } from '../support/seeds';

const TOKEN = 'patAdapterTestToken.0123456789abcdef';

describe('Airtable adapter against the emulator', () => {
  let pool: Pool;
  let emulator: AirtableEmulator;
  beforeAll(async () => {
    pool = createPool(process.env[TEST_ENV.databaseUrl]!);
    const seed = smallSeed();
    // 250 extra tasks: three pages.
    seed.bases[0]!.tables[1]!.records.push(
      ...Array.from({ length: 250 }, (_, i) => ({ fields: { Title: `Task ${i}` } })),
    );
    emulator = await startAirtableEmulator({ seed, tokens: [TOKEN] });
  });
  afterAll(async () => {
    await emulator.close();
    await pool.end();
  });

  // Each test paces under its own token so they do not wait for each other.
  const records = (token = TOKEN) =>
    createAirtableRecords({
      endpointUrl: emulator.url,
      token,
      baseId: SMALL_BASE_ID,
      pacer: new PostgresPacer(pool),
    });

  const failureOf = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AirtableApiError);
    return { error: err as AirtableApiError, failure: toAirtableFailure(err, 'test') };
  };

  it('pages through a table and resumes from a checkpoint', async () => {
    const all: string[] = [];
    const done = await readAllPages(records(), 'Tasks', { pageSize: 100 }, (page) => {
      all.push(...page.map((r) => r.id));
    });
    expect(done).toEqual({ offset: undefined, delivered: 251 });
    expect(new Set(all).size).toBe(251);

    // Stop after the first page, as a crashed activity would, then resume from its checkpoint.
    let checkpoint = { delivered: 0 } as { offset?: string; delivered: number };
    await readAllPages(records(), 'Tasks', { pageSize: 100 }, (_page, cp) => {
      checkpoint = cp;
      if (cp.delivered === 100) throw new Error('crash');
    }).catch(() => undefined);
    const resumed: string[] = [];
    const end = await readAllPages(
      records(),
      'Tasks',
      { pageSize: 100 },
      (page) => void resumed.push(...page.map((r) => r.id)),
      checkpoint,
    );
    expect(end.delivered).toBe(251);
    expect(resumed).toEqual(all.slice(100));
  });

  it.each([2, 3])('reads a table as %i parts at once: every record exactly once', async (count) => {
    const seen: string[] = [];
    const all: string[] = [];
    await readAllPages(
      records(),
      'Tasks',
      { pageSize: 100 },
      (page) => void all.push(...page.map((r) => r.id)),
    );
    const checkpoints: PartitionedCheckpoint[] = [];
    const done = await readPartitions(records(), 'Tasks', { pageSize: 100 }, recordIdPartitions(count), {
      onPage: (page) => void seen.push(...page.map((r) => r.id)),
      onCheckpoint: (checkpoint) => void checkpoints.push(checkpoint),
    });
    expect(seen).toHaveLength(all.length);
    expect(new Set(seen)).toEqual(new Set(all));
    expect(done.parts.map((part) => part.done)).toEqual(Array(count).fill(true));
    expect(done.parts.reduce((sum, part) => sum + part.delivered, 0)).toBe(all.length);
    // Each part is a listing of its own, resumable from its own checkpoint.
    expect(checkpoints.at(-1)).toEqual(done);
  });

  it('writes in batches of at most ten, refusing more before sending', async () => {
    const r = records();
    const created = await r.create(
      'Tasks',
      Array.from({ length: 10 }, (_, i) => ({ fields: { Title: `Batch ${i}` } })),
    );
    expect(created).toHaveLength(10);
    const before = emulator.requestLog.length;
    await expect(
      r.create(
        'Tasks',
        Array.from({ length: 11 }, () => ({ fields: { Title: 'x' } })),
      ),
    ).rejects.toThrow(RangeError);
    expect(emulator.requestLog.length).toBe(before);
    await r.destroy(
      'Tasks',
      created.map((c) => c.id),
    );
  });

  it('reports which records an upsert created and which it updated', async () => {
    const r = records();
    const first = await r.upsert(
      'Projects',
      [{ fields: { Name: 'Website', Budget: 1200 } }, { fields: { Name: `New ${randomUUID()}` } }],
      ['Name'],
    );
    expect(first.updatedRecords).toHaveLength(1);
    expect(first.createdRecords).toHaveLength(1);
    expect(
      emulator.listRecords(SMALL_BASE_ID, 'Projects').find((p) => p.fields.Name === 'Website')?.fields.Budget,
    ).toBe(1200);
  });

  it('finds values with quotes, braces, backslashes and newlines through escaped formulas', async () => {
    const r = records();
    const tricky = ['say "hi"', "it's {Name}", 'back\\slash', 'two\nlines', '") & TRUE() & ("'];
    const created = await r.create(
      'Tasks',
      tricky.map((Title) => ({ fields: { Title } })),
    );
    for (const value of tricky) {
      const page = await r.listPage('Tasks', { filterByFormula: formulaEquals('Title', value) });
      expect(page.records.map((rec) => rec.fields.Title)).toEqual([value]);
    }
    await r.destroy(
      'Tasks',
      created.map((c) => c.id),
    );
  });

  it('classifies auth, permission, validation and not-found answers as non-retryable', async () => {
    const wrongToken = await failureOf(records('patNotAToken.000000000000').listPage('Tasks'));
    expect(wrongToken.error.status).toBe(401);
    expect(wrongToken.failure).toMatchObject({
      type: FailureType.airtableAuthentication,
      nonRetryable: true,
    });

    const unknownTable = await failureOf(records().listPage('No such table'));
    expect(unknownTable.error.status).toBe(403);
    expect(unknownTable.failure).toMatchObject({ type: FailureType.airtablePermission, nonRetryable: true });

    const unknownField = await failureOf(records().create('Tasks', [{ fields: { Nope: 1 } }]));
    expect(unknownField.error).toMatchObject({ status: 422, type: 'UNKNOWN_FIELD_NAME' });
    expect(unknownField.failure).toMatchObject({
      type: FailureType.airtableInvalidRequest,
      nonRetryable: true,
    });
    expect(unknownField.failure.message).toContain('UNKNOWN_FIELD_NAME');

    const missing = await failureOf(records().destroy('Tasks', ['recAAAAAAAAAAAAAA']));
    expect(missing.error.status).toBe(404);
    expect(missing.failure.nonRetryable).toBe(true);
  });

  /** Lifts the penalties a 429 left on `baseId` and `token`, so later requests need not wait 30 s. */
  const liftPenalties = (baseId: string, token: string) =>
    pool.query(`UPDATE airtable_pacing SET penalty_until = NULL WHERE key = ANY($1)`, [
      [`base:${baseId}`, tokenKey(token)],
    ]);

  /**
   * Runs `fn` against an emulator that answers 429 to everything, under a token and a base id of
   * its own: the 30 s hold a 429 puts on its base must not reach the other test files' bases.
   */
  async function withThrottledEmulator(
    fn: (throttled: AirtableEmulator, token: string, baseId: string) => Promise<void>,
  ) {
    const token = `patThrottled.${randomUUID()}`;
    const baseId = `app${randomUUID().replace(/-/g, '').slice(0, 14)}`;
    const throttled = await startAirtableEmulator({
      seed: smallSeed(baseId),
      tokens: [token],
      faults: { rateLimitRate: 1 },
    });
    try {
      await fn(throttled, token, baseId);
    } finally {
      await liftPenalties(baseId, token);
      await throttled.close();
    }
  }

  it('retries 429 no sooner than 30 s and penalizes the base; retries 5xx with backoff', () =>
    withThrottledEmulator(async (throttled, token, baseId) => {
      const r = createAirtableRecords({
        endpointUrl: throttled.url,
        token,
        baseId,
        pacer: new PostgresPacer(pool),
      });
      const limited = await failureOf(r.listPage('Tasks'));
      expect(limited.error.status).toBe(429);
      expect(limited.failure).toMatchObject({ type: FailureType.airtableRateLimited, nonRetryable: false });
      // Airtable's 30 s, counted from the 429's answer.
      const delay = (limited.failure as ApplicationFailure).nextRetryDelay as number;
      expect(delay).toBeGreaterThan(25_000);
      expect(delay).toBeLessThanOrEqual(30_000);
      const { rows } = await pool.query(
        `SELECT penalty_until > now() + interval '25 seconds' AS held FROM airtable_pacing WHERE key = $1`,
        [`base:${baseId}`],
      );
      expect(rows[0].held).toBe(true);
      // The token is held too; lift both so the 5xx check does not wait out the 30 s.
      await liftPenalties(baseId, token);

      throttled.setFaults({ serverErrorRate: 1 });
      const unavailable = await failureOf(r.listPage('Tasks'));
      expect(unavailable.error.status).toBeGreaterThanOrEqual(500);
      expect(unavailable.failure).toMatchObject({
        type: FailureType.airtableUnavailable,
        nonRetryable: false,
      });
    }));

  it('retries after a 429 once its penalty has run out, counted from the 429, not from the failure', () => {
    // An activity reports a 429 only after its other requests in flight, held by the same penalty, are done.
    const limited = new AirtableApiError(429, 'TOO_MANY_REQUESTS', 'Rate limit exceeded');
    const now = jest.spyOn(Date, 'now');
    try {
      now.mockReturnValue(limited.at + 2_000);
      const failure = toAirtableFailure(limited, 'test');
      expect(failure.nextRetryDelay).toBe(28_000);
      expect(failure.details).toEqual([
        {
          status: 429,
          airtableType: 'TOO_MANY_REQUESTS',
          penaltyEndsAt: new Date(limited.at + 30_000).toISOString(),
        },
      ]);
      // Passed on by the activity 20 s later (its other requests waited out the penalty): 10 s left.
      now.mockReturnValue(limited.at + 20_000);
      const passedOn = classify(failure, 'Applying') as ApplicationFailure;
      expect(passedOn).toMatchObject({ message: failure.message, type: failure.type, nonRetryable: false });
      expect(passedOn.nextRetryDelay).toBe(10_000);
      expect(passedOn.stack).toBe(failure.stack);
      // The penalty is over: the soonest retry.
      now.mockReturnValue(limited.at + 45_000);
      expect((classify(failure, 'Applying') as ApplicationFailure).nextRetryDelay).toBe(1_000);
      // Other failures pass through as they are.
      const other = toAirtableFailure(new AirtableApiError(503, undefined, 'Unavailable'), 'test');
      expect(classify(other, 'Applying')).toBe(other);
    } finally {
      now.mockRestore();
    }
  });

  it('paces meta-API calls and holds the base after a 429 from one', () =>
    withThrottledEmulator(async (throttled, token, baseId) => {
      const http = { endpointUrl: throttled.url, token, pacer: new PostgresPacer(pool) };
      const limited = await failureOf(getBaseSchema(http, baseId));
      expect(limited.error.status).toBe(429);
      const { rows } = await pool.query(
        `SELECT key, cardinality(slots) AS starts, penalty_until > now() + interval '25 seconds' AS held
           FROM airtable_pacing WHERE key = ANY ($1) ORDER BY key`,
        [[`base:${baseId}`, tokenKey(token)]],
      );
      expect(rows).toEqual([
        { key: `base:${baseId}`, starts: expect.any(Number), held: true },
        { key: tokenKey(token), starts: 1, held: true },
      ]);
    }));

  it('caches a base schema until the platform changes it', async () => {
    const cache = new SchemaCache();
    const http = { endpointUrl: emulator.url, token: TOKEN, pacer: new PostgresPacer(pool) };
    const metaCalls = () => emulator.requestLog.filter((e) => e.path.startsWith('/v0/meta/bases/')).length;
    const before = metaCalls();
    const first = await cache.get(http, SMALL_BASE_ID);
    await cache.get(http, SMALL_BASE_ID);
    expect(metaCalls()).toBe(before + 1);

    const tasks = first.find((t) => t.name === 'Tasks')!;
    await cache.createField(http, SMALL_BASE_ID, tasks.id, {
      name: `Estimate ${randomUUID().slice(0, 6)}`,
      type: 'number',
      options: { precision: 0 },
    });
    const after = await cache.get(http, SMALL_BASE_ID);
    expect(after.find((t) => t.name === 'Tasks')!.fields.length).toBe(tasks.fields.length + 1);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAirtableEmulator, type AirtableEmulator, type EmulatorSeed } from '../src';
import {
  BASE_ID,
  OTHER_BASE_ID,
  SCOPED_TOKEN,
  TOKEN,
  call,
  client,
  conformanceSeed,
  query,
  startConformanceEmulator,
  type Loose,
} from './helpers';

// The official client has no comment calls, so comments are driven over raw HTTP (as
// airtable-mcp-server and pyairtable do); commentCount is read through the client where it can.

/** A second user with access to the conformance base. */
const COLLEAGUE = 'patColleague00001.colleague';
const RECORD = 'recTaskCopy000001';
const commentsPath = (recordId = RECORD, table = 'Tasks') => `/v0/${BASE_ID}/${table}/${recordId}/comments`;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

async function whoami(emulator: AirtableEmulator, token = TOKEN): Promise<{ id: string; email: string }> {
  return (await call(emulator, 'GET', '/v0/meta/whoami', undefined, token)).body;
}

describe('record comments', () => {
  let emulator: AirtableEmulator;
  beforeEach(async () => {
    emulator = await startConformanceEmulator({
      tokens: [TOKEN, COLLEAGUE, { token: SCOPED_TOKEN, bases: [OTHER_BASE_ID] }],
    });
  });
  afterEach(() => emulator.close());

  it('creates a comment by the token user and answers it in the documented shape', async () => {
    const me = await whoami(emulator);
    const created = await call(emulator, 'POST', commentsPath(), { text: 'Hello, world!' });
    expect(created.status).toBe(200);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^com[A-Za-z0-9]{14}$/),
      author: { id: me.id, email: me.email, name: expect.any(String) },
      text: 'Hello, world!',
      createdTime: expect.stringMatching(ISO),
      lastUpdatedTime: null,
    });
    expect(me.id).toMatch(/^usr[A-Za-z0-9]{14}$/);
    // The same user every time for the same token.
    const again = await call(emulator, 'POST', commentsPath(), { text: 'Again' });
    expect(again.body.author).toEqual(created.body.author);
    const colleague = await call(emulator, 'POST', commentsPath(), { text: 'Mine' }, COLLEAGUE);
    expect(colleague.body.author.id).not.toBe(me.id);
  });

  it('lists comments newest first, pages with pageSize and offset, and says offset null on the last page', async () => {
    const empty = await call(emulator, 'GET', commentsPath());
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual({ comments: [], offset: null });
    const ids: string[] = [];
    for (const text of ['one', 'two', 'three'])
      ids.push((await call(emulator, 'POST', commentsPath(), { text })).body.id);

    const all = await call(emulator, 'GET', commentsPath());
    expect(all.body.comments.map((c: Loose) => c.text)).toEqual(['three', 'two', 'one']);
    expect(all.body.offset).toBeNull();

    const first = await call(emulator, 'GET', `${commentsPath()}?pageSize=2`);
    expect(first.body.comments.map((c: Loose) => c.id)).toEqual([ids[2], ids[1]]);
    expect(typeof first.body.offset).toBe('string');
    const second = await call(
      emulator,
      'GET',
      `${commentsPath()}?${query({ pageSize: 2, offset: first.body.offset })}`,
    );
    expect(second.body).toEqual({
      comments: [expect.objectContaining({ id: ids[0], text: 'one' })],
      offset: null,
    });

    // A comment added between pages does not shift the next page.
    const page = await call(emulator, 'GET', `${commentsPath()}?pageSize=1`);
    await call(emulator, 'POST', commentsPath(), { text: 'four' });
    const rest = await call(
      emulator,
      'GET',
      `${commentsPath()}?${query({ pageSize: 5, offset: page.body.offset })}`,
    );
    expect(rest.body.comments.map((c: Loose) => c.text)).toEqual(['two', 'one']);

    for (const bad of ['0', '101', 'x']) {
      const refused = await call(emulator, 'GET', `${commentsPath()}?pageSize=${bad}`);
      expect(refused.status).toBe(422);
      expect(refused.body.error.type).toBe('INVALID_REQUEST_UNKNOWN');
    }
    const badOffset = await call(emulator, 'GET', `${commentsPath()}?offset=comNotAComment001`);
    expect(badOffset.status).toBe(422);
    expect(badOffset.body.error.type).toBe('INVALID_OFFSET_VALUE');
  });

  it('answers at most 100 comments per page by default', async () => {
    const seed: EmulatorSeed = conformanceSeed();
    seed.bases[0]!.tables[1]!.records[0]!.commentCount = 101;
    const many = await startAirtableEmulator({ seed, tokens: [TOKEN], limits: { enabled: false } });
    try {
      const first = await call(many, 'GET', commentsPath());
      expect(first.body.comments).toHaveLength(100);
      expect(typeof first.body.offset).toBe('string');
      const second = await call(many, 'GET', `${commentsPath()}?${query({ offset: first.body.offset })}`);
      expect(second.body.comments).toHaveLength(1);
      expect(second.body.offset).toBeNull();
    } finally {
      await many.close();
    }
  });

  it('threads replies with parentCommentId', async () => {
    const parent = await call(emulator, 'POST', commentsPath(), { text: 'Question?' });
    const reply = await call(
      emulator,
      'POST',
      commentsPath(),
      { text: 'Answer.', parentCommentId: parent.body.id },
      COLLEAGUE,
    );
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ text: 'Answer.', parentCommentId: parent.body.id });
    const listed = await call(emulator, 'GET', commentsPath());
    expect(listed.body.comments[0]).toMatchObject({ id: reply.body.id, parentCommentId: parent.body.id });
    expect(listed.body.comments[1]).not.toHaveProperty('parentCommentId');
    const orphan = await call(emulator, 'POST', commentsPath(), {
      text: 'x',
      parentCommentId: 'comNotAComment001',
    });
    expect(orphan.status).toBe(422);
    // A comment of another record is no parent either.
    const elsewhere = await call(emulator, 'POST', commentsPath('recTaskReview0001'), {
      text: 'x',
      parentCommentId: parent.body.id,
    });
    expect(elsewhere.status).toBe(422);
  });

  it('lets only the author update a comment, and sets lastUpdatedTime', async () => {
    const created = await call(emulator, 'POST', commentsPath(), { text: 'Draft' });
    const path = `${commentsPath()}/${created.body.id}`;
    const updated = await call(emulator, 'PATCH', path, { text: 'Final' });
    expect(updated.status).toBe(200);
    expect(updated.body).toEqual({
      ...created.body,
      text: 'Final',
      lastUpdatedTime: expect.stringMatching(ISO),
    });
    const forbidden = await call(emulator, 'PATCH', path, { text: 'Hijacked' }, COLLEAGUE);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toEqual({ error: { type: 'INVALID_PERMISSIONS', message: expect.any(String) } });
    const listed = await call(emulator, 'GET', commentsPath());
    expect(listed.body.comments).toEqual([updated.body]);

    const unknown = await call(emulator, 'PATCH', `${commentsPath()}/comNotAComment001`, { text: 'x' });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: 'NOT_FOUND' });
    for (const body of [{}, { text: '' }, { text: 5 }, { text: 'x', extra: 1 }]) {
      const refused = await call(emulator, 'PATCH', path, body);
      expect(refused.status).toBe(422);
      expect(refused.body.error.type).toBe('INVALID_REQUEST_UNKNOWN');
    }
    for (const body of [{}, { text: '   ' }, { text: 'x', author: 'me' }]) {
      expect((await call(emulator, 'POST', commentsPath(), body)).status).toBe(422);
    }
  });

  it('deletes a comment of its author with {id, deleted: true}', async () => {
    const mine = await call(emulator, 'POST', commentsPath(), { text: 'Delete me' });
    const path = `${commentsPath()}/${mine.body.id}`;
    const forbidden = await call(emulator, 'DELETE', path, undefined, COLLEAGUE);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.type).toBe('INVALID_PERMISSIONS');
    const deleted = await call(emulator, 'DELETE', path);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ id: mine.body.id, deleted: true });
    expect((await call(emulator, 'GET', commentsPath())).body.comments).toEqual([]);
    const again = await call(emulator, 'DELETE', path);
    expect(again.status).toBe(404);
    expect(again.body).toEqual({ error: 'NOT_FOUND' });
  });

  it('answers an unknown record 404 NOT_FOUND, an unknown table or a hidden base 403', async () => {
    for (const [method, body] of [
      ['GET', undefined],
      ['POST', { text: 'x' }],
    ] as const) {
      const unknown = await call(emulator, method, commentsPath('recNoSuchRecord01'), body);
      expect(unknown.status).toBe(404);
      expect(unknown.body).toEqual({ error: 'NOT_FOUND' });
      // Like the other single-record calls other than GET, the record must be in the table named.
      const otherTable = await call(emulator, method, commentsPath('recProjWebsite001'), body);
      expect(otherTable.status).toBe(404);
    }
    const patch = await call(emulator, 'PATCH', `${commentsPath('recNoSuchRecord01')}/comNotAComment001`, {
      text: 'x',
    });
    expect(patch.status).toBe(404);
    expect(patch.body).toEqual({ error: 'NOT_FOUND' });
    const table = await call(emulator, 'GET', commentsPath(RECORD, 'Nope'));
    expect(table.status).toBe(403);
    expect(table.body.error.type).toBe('INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND');
    const hidden = await call(emulator, 'GET', commentsPath(), undefined, SCOPED_TOKEN);
    expect(hidden.status).toBe(403);
    const noToken = await call(emulator, 'GET', commentsPath(), undefined, null);
    expect(noToken.status).toBe(401);
    // Methods and depths the comments API does not have.
    expect((await call(emulator, 'PUT', commentsPath(), { text: 'x' })).status).toBe(404);
    expect((await call(emulator, 'GET', `${commentsPath()}/comA/extra`)).status).toBe(404);
    // A deleted record's comments go with it.
    await call(emulator, 'POST', commentsPath(), { text: 'bye' });
    await call(emulator, 'DELETE', `/v0/${BASE_ID}/Tasks/${RECORD}`);
    expect((await call(emulator, 'GET', commentsPath())).status).toBe(404);
  });

  it('resolves mentions by user id or email into `mentioned`, and drops them when edited away', async () => {
    const me = await whoami(emulator);
    const colleague = await whoami(emulator, COLLEAGUE);
    const created = await call(emulator, 'POST', commentsPath(), {
      text: `Hi @[${colleague.email}], cc @[${me.id}] and @[usrNobody00000001]`,
    });
    expect(created.status).toBe(200);
    expect(created.body.text).toBe(`Hi @[${colleague.id}], cc @[${me.id}] and @[usrNobody00000001]`);
    expect(created.body.mentioned).toEqual({
      [colleague.id]: {
        type: 'user',
        id: colleague.id,
        displayName: expect.any(String),
        email: colleague.email,
      },
      [me.id]: { type: 'user', id: me.id, displayName: expect.any(String), email: me.email },
    });
    const listed = await call(emulator, 'GET', commentsPath());
    expect(listed.body.comments[0].mentioned).toEqual(created.body.mentioned);
    const edited = await call(emulator, 'PATCH', `${commentsPath()}/${created.body.id}`, {
      text: 'Never mind!',
    });
    expect(edited.body).not.toHaveProperty('mentioned');
  });

  it('reports commentCount with recordMetadata on list (GET and POST listRecords) and get-record', async () => {
    await call(emulator, 'POST', commentsPath(), { text: 'a' });
    await call(emulator, 'POST', commentsPath(), { text: 'b' });
    const viaClient = await client(emulator)
      .base(BASE_ID)('Tasks')
      .select({ recordMetadata: ['commentCount'] })
      .firstPage();
    const counts = Object.fromEntries(viaClient.map((r) => [r.id, r.commentCount]));
    expect(counts).toEqual({ [RECORD]: 2, recTaskReview0001: 0, recTaskShelves001: 0 });
    const plain = await client(emulator).base(BASE_ID)('Tasks').select().firstPage();
    expect(plain[0]!.commentCount).toBeUndefined();

    const viaGet = await call(
      emulator,
      'GET',
      `/v0/${BASE_ID}/Tasks?${query({ 'recordMetadata[]': ['commentCount'] })}`,
    );
    expect(viaGet.body.records[0]).toMatchObject({ id: RECORD, commentCount: 2 });
    const viaPost = await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks/listRecords`, {
      recordMetadata: ['commentCount'],
    });
    expect(viaPost.body.records.map((r: Loose) => r.commentCount)).toEqual([2, 0, 0]);
    const withoutPost = await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks/listRecords`, {});
    expect(withoutPost.body.records[0]).not.toHaveProperty('commentCount');

    const one = await call(
      emulator,
      'GET',
      `/v0/${BASE_ID}/Tasks/${RECORD}?${query({ 'recordMetadata[]': ['commentCount'] })}`,
    );
    expect(one.body).toMatchObject({ id: RECORD, commentCount: 2 });
    const bare = await call(emulator, 'GET', `/v0/${BASE_ID}/Tasks/${RECORD}`);
    expect(bare.body).not.toHaveProperty('commentCount');
    const bad = await call(
      emulator,
      'GET',
      `/v0/${BASE_ID}/Tasks/${RECORD}?${query({ 'recordMetadata[]': ['likes'] })}`,
    );
    expect(bad.status).toBe(422);
  });

  it('counts comment calls against the base rate limit and logs them with the base', async () => {
    emulator.setLimits({ perBasePerSecond: 2, penaltyMs: 60_000 });
    expect((await call(emulator, 'GET', commentsPath())).status).toBe(200);
    expect((await call(emulator, 'POST', commentsPath(), { text: 'x' })).status).toBe(200);
    const over = await call(emulator, 'GET', commentsPath());
    expect(over.status).toBe(429);
    // …and the penalty covers the base's other calls.
    expect((await call(emulator, 'GET', `/v0/${BASE_ID}/Tasks`)).status).toBe(429);
    expect(emulator.requestLog.filter((e) => e.path.includes('/comments')).map((e) => e.baseId)).toEqual([
      BASE_ID,
      BASE_ID,
      BASE_ID,
    ]);
  });

  it('aims fault rules at comments with operation "comment" only', async () => {
    emulator.setFaults({ rules: [{ operation: 'comment', table: 'Tasks', status: 503 }] });
    expect((await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks`, { fields: { Title: 'new' } })).status).toBe(
      200,
    );
    expect((await call(emulator, 'GET', `/v0/${BASE_ID}/Tasks/${RECORD}`)).status).toBe(200);
    const refused = await call(emulator, 'POST', commentsPath(), { text: 'x' });
    expect(refused.status).toBe(503);
    expect((await call(emulator, 'GET', commentsPath())).body.comments).toEqual([]);
    emulator.setFaults({ rules: [{ operation: 'create', table: 'Tasks' }] });
    expect((await call(emulator, 'POST', commentsPath(), { text: 'x' })).status).toBe(200);
  });
});

describe('seeded and persisted comments', () => {
  it('serves seeded comments, placeholder comments for commentCount, and refuses bad ones', async () => {
    const seed = conformanceSeed();
    const tasks = seed.bases[0]!.tables[1]!;
    tasks.records[0]!.comments = [
      {
        id: 'comSeededFirst001',
        text: 'First',
        author: { email: 'ada@example.com', name: 'Ada' },
        createdTime: '2025-01-05T00:00:00.000Z',
      },
      {
        text: 'Reply',
        parentCommentId: 'comSeededFirst001',
        createdTime: '2025-01-06T00:00:00.000Z',
        lastUpdatedTime: '2025-01-07T00:00:00.000Z',
      },
    ];
    tasks.records[1]!.commentCount = 2;
    const emulator = await startAirtableEmulator({ seed, tokens: [TOKEN], limits: { enabled: false } });
    try {
      const me = await whoami(emulator);
      const listed = await call(emulator, 'GET', commentsPath());
      expect(listed.body.comments).toEqual([
        {
          id: expect.stringMatching(/^com/),
          author: { id: me.id, email: me.email, name: expect.any(String) },
          text: 'Reply',
          parentCommentId: 'comSeededFirst001',
          createdTime: '2025-01-06T00:00:00.000Z',
          lastUpdatedTime: '2025-01-07T00:00:00.000Z',
        },
        {
          id: 'comSeededFirst001',
          author: { id: expect.stringMatching(/^usr/), email: 'ada@example.com', name: 'Ada' },
          text: 'First',
          createdTime: '2025-01-05T00:00:00.000Z',
          lastUpdatedTime: null,
        },
      ]);
      // Someone else's comment cannot be edited through this token.
      expect(
        (await call(emulator, 'PATCH', `${commentsPath()}/comSeededFirst001`, { text: 'x' })).status,
      ).toBe(403);
      const placeholders = await call(emulator, 'GET', commentsPath('recTaskReview0001'));
      expect(placeholders.body.comments).toHaveLength(2);
      const counted = await call(
        emulator,
        'GET',
        `/v0/${BASE_ID}/Tasks?${query({ 'recordMetadata[]': ['commentCount'] })}`,
      );
      expect(counted.body.records.map((r: Loose) => r.commentCount)).toEqual([2, 2, 0]);
    } finally {
      await emulator.close();
    }

    const orphan = conformanceSeed();
    orphan.bases[0]!.tables[1]!.records[0]!.comments = [{ text: 'x', parentCommentId: 'comMissing0000001' }];
    await expect(startAirtableEmulator({ seed: orphan, tokens: [TOKEN] })).rejects.toThrow(
      /replies to unknown comment/,
    );
  });

  it('keeps comments across a restart with persistPath', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airtable-emulator-comments-'));
    const file = join(dir, 'state.json');
    try {
      const options = {
        seed: conformanceSeed(),
        tokens: [TOKEN],
        limits: { enabled: false },
        persistPath: file,
      };
      const first = await startAirtableEmulator(options);
      const created = await call(first, 'POST', commentsPath(), { text: 'Survives' });
      await first.close();
      const second = await startAirtableEmulator(options);
      try {
        const listed = await call(second, 'GET', commentsPath());
        expect(listed.body.comments).toEqual([created.body]);
        const reply = await call(second, 'POST', commentsPath(), {
          text: 'Later',
          parentCommentId: created.body.id,
        });
        expect(reply.body.id).not.toBe(created.body.id);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

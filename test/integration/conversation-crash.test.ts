import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { startAirtableEmulator, type AirtableEmulator } from '@airtable-ops/airtable-emulator';
import { startGeminiEmulator, type GeminiEmulator } from '@airtable-ops/gemini-emulator';
import { taskQueues } from '../../temporal/task-queues';
import {
  createActiveWorkspace,
  createTestApi,
  createTestContext,
  eventually,
  registerUser,
  spawnWorkerProcess,
  type TestContext,
} from '../support/helpers';
import { OPS_BASE_ID, opsSeed } from '../support/seeds';

const TOKEN = 'patConversationCrash.0123456789abcdef';

describe('a worker killed in the middle of a turn', () => {
  let ctx: TestContext;
  let airtable: AirtableEmulator;
  let gemini: GeminiEmulator;
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    ctx = await createTestContext();
    airtable = await startAirtableEmulator({ seed: opsSeed(), tokens: [TOKEN] });
    gemini = await startGeminiEmulator();
  });
  afterAll(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await gemini.close();
    await airtable.close();
    await ctx.close();
  });

  it('ends the turn with no duplicate write and each model call counted once', async () => {
    const prefix = `conversation-crash-${Date.now()}-`;
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'conversation-crash-'));
    const app = createTestApi(ctx, taskQueues(prefix).platform, { airtableUrl: airtable.url });
    const spawn = () =>
      spawnWorkerProcess(ctx, {
        taskQueuePrefix: prefix,
        dataDir,
        airtableUrl: airtable.url,
        env: { GEMINI_API_KEY: gemini.key, GEMINI_BASE_URL: gemini.url },
      });
    workers.push(spawn());
    const user = await registerUser(app);
    const workspaceId = await createActiveWorkspace(app, user.auth, { baseId: OPS_BASE_ID, token: TOKEN });
    await request(app)
      .patch(`/api/v1/workspaces/${workspaceId}`)
      .set(user.auth)
      .send({ settings: { approvalPolicy: 'never' } })
      .expect(200);
    const created = await request(app)
      .post(`/api/v1/workspaces/${workspaceId}/conversations`)
      .set(user.auth)
      .send({})
      .expect(201);
    const conversationId = created.body.conversation.id as string;
    const records = Array.from({ length: 150 }, (_, i) => ({ fields: { Name: `Crash-safe client ${i}` } }));
    gemini.script([
      { functionCalls: [{ name: 'create_records', args: { tableId: 'Clients', records } }] },
      { text: 'Added 150 clients.' },
    ]);
    await request(app)
      .post(`/api/v1/conversations/${conversationId}/messages`)
      .set(user.auth)
      .send({ text: 'Add the new clients' })
      .expect(202);

    // The model has answered and its write is half applied: kill the worker there, without warning.
    const created0 = () =>
      airtable
        .listRecords(OPS_BASE_ID, 'Clients')
        .filter((r) => String(r.fields.Name).startsWith('Crash-safe')).length;
    await eventually(async () => (created0() >= 30 ? true : undefined), 60_000, 50);
    workers[0]!.kill('SIGKILL');
    await new Promise((r) => workers[0]!.once('exit', r));
    workers.push(spawn());

    const done = await eventually(async () => {
      const res = await request(app)
        .get(`/api/v1/conversations/${conversationId}`)
        .set(user.auth)
        .expect(200);
      return res.body.status === 'idle' && res.body.messages.at(-1)?.text === 'Added 150 clients.'
        ? res.body
        : undefined;
    }, 120_000);
    expect(created0()).toBe(150);
    const names = airtable.listRecords(OPS_BASE_ID, 'Clients').map((r) => r.fields.Name);
    expect(new Set(names).size).toBe(names.length);
    const usage = await ctx.pool.query(
      'SELECT count(*)::int AS n FROM llm_usage WHERE conversation_id = $1',
      [conversationId],
    );
    expect(usage.rows[0].n).toBe(2);
    expect(done.usage.inputTokens).toBeGreaterThan(0);
    // The model was not asked again for the turn it had already answered.
    expect(gemini.requests().filter((r) => r.action === 'generateContent' && r.status === 200)).toHaveLength(
      2,
    );
  }, 180_000);
});

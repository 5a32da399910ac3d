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
  localActivityMarkers,
  registerUser,
  scheduledActivityTypes,
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

  it('asks the model once per step when the worker dies during a tool call (a local activity)', async () => {
    // The model's answer and the tool call are local activities of one workflow task: killing the
    // worker while the tool call runs loses that task before it records either, so the next worker
    // runs callModel again, which must answer from the stored model turn without asking the model.
    gemini.reset();
    airtable.setLatency(0);
    const prefix = `conversation-crash-tool-${Date.now()}-`;
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'conversation-crash-tool-'));
    const app = createTestApi(ctx, taskQueues(prefix).platform, { airtableUrl: airtable.url });
    const spawn = () =>
      spawnWorkerProcess(ctx, {
        taskQueuePrefix: prefix,
        dataDir,
        airtableUrl: airtable.url,
        env: { GEMINI_API_KEY: gemini.key, GEMINI_BASE_URL: gemini.url },
      });
    const first = spawn();
    workers.push(first);
    const user = await registerUser(app);
    const workspaceId = await createActiveWorkspace(app, user.auth, { baseId: OPS_BASE_ID, token: TOKEN });
    const created = await request(app)
      .post(`/api/v1/workspaces/${workspaceId}/conversations`)
      .set(user.auth)
      .send({})
      .expect(201);
    const conversationId = created.body.conversation.id as string;
    gemini.script([
      { functionCalls: [{ name: 'list_records', args: { tableId: 'Clients', maxRecords: 3 } }] },
      { text: 'Here are three clients.' },
    ]);
    // A slow Airtable: the tool call is still running when the worker dies.
    airtable.setLatency(4_000);
    await request(app)
      .post(`/api/v1/conversations/${conversationId}/messages`)
      .set(user.auth)
      .send({ text: 'Show me three clients' })
      .expect(202);
    await eventually(
      async () => {
        const { rows } = await ctx.pool.query(
          `SELECT status FROM conversation_tool_calls WHERE conversation_id = $1`,
          [conversationId],
        );
        return rows[0]?.status === 'running' ? true : undefined;
      },
      60_000,
      20,
    );
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    airtable.setLatency(0);
    const second = spawn();
    workers.push(second);

    const done = await eventually(async () => {
      const res = await request(app)
        .get(`/api/v1/conversations/${conversationId}`)
        .set(user.auth)
        .expect(200);
      return res.body.status === 'idle' ? res.body : undefined;
    }, 120_000);
    expect(done.messages.at(-1)).toMatchObject({ role: 'assistant', text: 'Here are three clients.' });
    const toolCalls = done.messages.flatMap((m: { toolCalls?: unknown[] }) => m.toolCalls ?? []);
    expect(toolCalls).toEqual([expect.objectContaining({ name: 'list_records', status: 'succeeded' })]);
    // Each model call made once: the first step's answer came from Postgres after the crash.
    expect(gemini.requests().filter((r) => r.action === 'generateContent')).toHaveLength(2);
    const usage = await ctx.pool.query(
      'SELECT count(*)::int AS n FROM llm_usage WHERE conversation_id = $1',
      [conversationId],
    );
    expect(usage.rows[0].n).toBe(2);
    // They ran as local activities, and the first step's were recorded by the worker that took over.
    const history = await ctx.client.workflow.getHandle(conversationId).fetchHistory();
    expect(scheduledActivityTypes(history)).not.toContain('callModel');
    expect(scheduledActivityTypes(history)).not.toContain('executeTool');
    const markers = localActivityMarkers(history);
    expect(markers.map((m) => m.activityType)).toEqual(['callModel', 'executeTool', 'callModel']);
    expect(markers[0]!.recordedBy).toBe(`${second.pid}@${os.hostname()}`);
  }, 180_000);
});

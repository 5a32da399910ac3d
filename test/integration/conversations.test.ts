import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startAirtableEmulator, type AirtableEmulator } from '@airtable-ops/airtable-emulator';
import { startGeminiEmulator, type GeminiEmulator } from '@airtable-ops/gemini-emulator';
import type { Express } from 'express';
import request from 'supertest';
import { DEFAULT_AGENT_SETTINGS } from '../../domain/agent/engine';
import { createGeminiModel } from '../../domain/agent/llm';
import {
  createActiveWorkspace,
  createTestApi,
  createTestContext,
  eventually,
  historyText,
  registerUser,
  settledJob,
  startWorker,
  uniqueTaskQueue,
  type TestContext,
} from '../support/helpers';
import { opsSeed } from '../support/seeds';

// The agent end to end: API → conversation workflow → Gemini emulator (scripted) → tools → the
// Airtable emulator, with approvals, budgets, the step cap and Gemini's errors.

const TOKEN = 'patConversationTests.0123456789abcdef';
const BASES = Array.from({ length: 13 }, (_, i) => `appCONVERSATION${String(i).padStart(2, '0')}`);

describe('conversations with the agent', () => {
  let ctx: TestContext;
  let airtable: AirtableEmulator;
  let gemini: GeminiEmulator;
  let app: Express;
  let quickApp: Express;
  const workers: Array<{ stop(): Promise<void> }> = [];
  let user: Awaited<ReturnType<typeof registerUser>>;
  let nextBase = 0;

  beforeAll(async () => {
    ctx = await createTestContext();
    airtable = await startAirtableEmulator({ seed: opsSeed({ baseIds: BASES }), tokens: [TOKEN] });
    gemini = await startGeminiEmulator({ retryDelay: '2s' });
    const model = createGeminiModel({ apiKey: gemini.key, baseUrl: gemini.url });
    const taskQueue = uniqueTaskQueue('conversations');
    app = createTestApi(ctx, taskQueue, { airtableUrl: airtable.url });
    workers.push(await startWorker(ctx, { taskQueue, airtableUrl: airtable.url, deps: { model } }));
    // A second worker whose approvals expire in seconds and whose turns stop after three model calls.
    const quickQueue = uniqueTaskQueue('conversations-quick');
    quickApp = createTestApi(ctx, quickQueue, { airtableUrl: airtable.url, maxStepsPerTurn: 3 });
    workers.push(
      await startWorker(ctx, {
        taskQueue: quickQueue,
        airtableUrl: airtable.url,
        deps: { model, agentSettings: { ...DEFAULT_AGENT_SETTINGS, approvalTtlMs: 1_500 } },
      }),
    );
    user = await registerUser(app);
  });
  afterAll(async () => {
    for (const worker of workers) await worker.stop();
    await gemini.close();
    await airtable.close();
    await ctx.close();
  });
  beforeEach(() => {
    gemini.reset();
  });

  async function freshConversation(api = app) {
    const baseId = BASES[nextBase++]!;
    const workspaceId = await createActiveWorkspace(api, user.auth, { baseId, token: TOKEN });
    const created = await request(api)
      .post(`/api/v1/workspaces/${workspaceId}/conversations`)
      .set(user.auth)
      .send({ title: 'Ops questions' })
      .expect(201);
    expect(created.body.conversation).toMatchObject({ workspaceId, title: 'Ops questions', status: 'idle' });
    return { baseId, workspaceId, conversationId: created.body.conversation.id as string };
  }

  /**
   * Ends the conversation and waits for its workflow to close. With RECORD_HISTORIES=<dir>, saves its
   * history there for the replay tests (test/fixtures/histories), as scripts/record-history.ts does.
   */
  async function endAndKeep(api: Express, conversationId: string, fixture: string) {
    await request(api).delete(`/api/v1/conversations/${conversationId}`).set(user.auth).expect(202);
    await ctx.client.workflow.getHandle(conversationId).result();
    expect(
      (await request(api).get(`/api/v1/conversations/${conversationId}`).set(user.auth)).body.status,
    ).toBe('ended');
    await say(api, conversationId, 'Still there?').expect(409);
    const dir = process.env.RECORD_HISTORIES;
    if (dir)
      execFileSync(process.execPath, [
        '--import',
        'tsx',
        path.join(__dirname, '../../scripts/record-history.ts'),
        conversationId,
        path.join(dir, `${fixture}.json`),
        ctx.address,
      ]);
  }

  function say(api: Express, conversationId: string, text: string) {
    return request(api)
      .post(`/api/v1/conversations/${conversationId}/messages`)
      .set(user.auth)
      .send({ text });
  }

  async function conversationWhen(api: Express, conversationId: string, status: string) {
    return eventually(async () => {
      const res = await request(api)
        .get(`/api/v1/conversations/${conversationId}`)
        .set(user.auth)
        .expect(200);
      return res.body.status === status ? res.body : undefined;
    }, 60_000);
  }

  it('answers a question through two tool calls, with the results and usage kept', async () => {
    const { baseId, conversationId } = await freshConversation();
    gemini.script([
      { functionCalls: [{ name: 'list_tables', args: { detailLevel: 'tableIdentifiersOnly' } }] },
      { functionCalls: [{ name: 'count_records', args: { tableId: 'Tasks' } }] },
      { text: 'There are 30 tasks.' },
    ]);
    const sent = await say(app, conversationId, 'How many tasks do we have?').expect(202);
    expect(sent.body.turn.id).toEqual(expect.any(String));
    const done = await conversationWhen(app, conversationId, 'idle');
    const calls = done.messages.flatMap((m: { toolCalls?: unknown[] }) => m.toolCalls ?? []);
    expect(calls).toEqual([
      expect.objectContaining({ name: 'list_tables', status: 'succeeded' }),
      expect.objectContaining({
        name: 'count_records',
        status: 'succeeded',
        result: expect.objectContaining({ count: airtable.listRecords(baseId, 'Tasks').length }),
      }),
    ]);
    expect(done.messages.at(-1)).toMatchObject({ role: 'assistant', text: 'There are 30 tasks.' });
    expect(done.usage.inputTokens).toBeGreaterThan(0);
    expect(done.usage.costUsd).toBeGreaterThan(0);
    // The model saw each tool's result before answering, and the thought signatures went back.
    const calls2 = gemini.requests().filter((r) => r.action === 'generateContent');
    expect(calls2).toHaveLength(3);
    expect(calls2.every((r) => r.status === 200)).toBe(true);
  });

  it('streams the events of a turn; a client reconnecting with Last-Event-ID misses nothing', async () => {
    const { conversationId } = await freshConversation();
    gemini.script([{ functionCalls: [{ name: 'list_bases', args: {} }] }, { text: 'One base.' }]);
    const server = app.listen(0);
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/api/v1/conversations/${conversationId}/events`;
      const read = async (headers: Record<string, string>, until: string) => {
        const controller = new AbortController();
        const res = await fetch(url, { headers: { ...user.auth, ...headers }, signal: controller.signal });
        expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
        const events: Array<{ id: string; type: string; data: unknown }> = [];
        const decoder = new TextDecoder();
        let buffer = '';
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const field = (name: string) =>
              block
                .split('\n')
                .find((l) => l.startsWith(`${name}: `))
                ?.slice(name.length + 2);
            if (field('id'))
              events.push({ id: field('id')!, type: field('event')!, data: JSON.parse(field('data')!) });
          }
          if (events.some((e) => e.type === until)) break;
        }
        controller.abort();
        return events;
      };
      const streaming = read({}, 'turn_completed');
      await say(app, conversationId, 'Which bases can you see?').expect(202);
      const events = await streaming;
      expect(events.map((e) => e.type)).toEqual([
        'message',
        'tool_call',
        'tool_result',
        'message',
        'turn_completed',
      ]);
      expect(events[0]!.data).toMatchObject({ role: 'user', text: 'Which bases can you see?' });
      expect(events[3]!.data).toMatchObject({ role: 'assistant', text: 'One base.' });
      const resumed = await read({ 'Last-Event-ID': events[1]!.id }, 'turn_completed');
      expect(resumed.map((e) => e.id)).toEqual(events.slice(2).map((e) => e.id));
    } finally {
      server.close();
    }
  });

  it("writes dates for the user's time zone and locale, kept with PATCH /users/me", async () => {
    const { conversationId } = await freshConversation();
    await request(app)
      .patch('/api/v1/users/me')
      .set(user.auth)
      .send({ preferences: { timeZone: 'Mars/Olympus' } })
      .expect(400);
    const me = await request(app)
      .patch('/api/v1/users/me')
      .set(user.auth)
      .send({ name: 'Ada', preferences: { timeZone: 'Europe/Paris', locale: 'fr-FR' } })
      .expect(200);
    expect(me.body).toMatchObject({
      name: 'Ada',
      preferences: { timeZone: 'Europe/Paris', locale: 'fr-FR' },
    });
    gemini.script([{ text: 'Bonjour.' }]);
    await say(app, conversationId, 'When is the deadline?').expect(202);
    await conversationWhen(app, conversationId, 'idle');
    const sent = JSON.stringify(gemini.requests().find((r) => r.action === 'generateContent')!.body);
    expect(sent).toContain('Europe/Paris');
    expect(sent).toContain('fr-FR');
  });

  it('comments on a record and reads the comments back (no approval under the "never" policy)', async () => {
    const { baseId, workspaceId, conversationId } = await freshConversation();
    await request(app)
      .patch(`/api/v1/workspaces/${workspaceId}`)
      .set(user.auth)
      .send({ settings: { approvalPolicy: 'never' } })
      .expect(200);
    const acme = airtable.listRecords(baseId, 'Clients').find((r) => r.fields.Name === 'Acme')!;
    gemini.script([
      {
        functionCalls: [
          { name: 'create_comment', args: { tableId: 'Clients', recordId: acme.id, text: 'Renewal due' } },
        ],
      },
      { functionCalls: [{ name: 'list_comments', args: { tableId: 'Clients', recordId: acme.id } }] },
      { text: 'Noted.' },
    ]);
    await say(app, conversationId, 'Note the renewal on Acme').expect(202);
    const done = await conversationWhen(app, conversationId, 'idle');
    const [created, listed] = done.messages.flatMap(
      (m: { toolCalls?: Array<{ status: string; result: Record<string, unknown> }> }) => m.toolCalls ?? [],
    );
    expect(created).toMatchObject({ status: 'succeeded', result: { text: 'Renewal due' } });
    expect(listed).toMatchObject({
      status: 'succeeded',
      result: { comments: [expect.objectContaining({ text: 'Renewal due' })] },
    });
  });

  it('answers parallel calls in one turn, sending both results back together', async () => {
    const { conversationId } = await freshConversation();
    gemini.script([
      {
        functionCalls: [
          { name: 'count_records', args: { tableId: 'Clients' } },
          { name: 'count_records', args: { tableId: 'Projects' } },
        ],
      },
      { text: 'Three clients and their projects.' },
    ]);
    await say(app, conversationId, 'Count clients and projects').expect(202);
    await conversationWhen(app, conversationId, 'idle');
    const second = gemini.requests().filter((r) => r.action === 'generateContent')[1]!;
    const contents = (
      second.body as { contents: Array<{ role: string; parts: Array<{ functionResponse?: unknown }> }> }
    ).contents;
    const responses = contents.at(-1)!.parts.filter((p) => p.functionResponse);
    expect(responses).toHaveLength(2);
  });

  it('waits for approval before a write, then applies it exactly once', async () => {
    const { baseId, conversationId } = await freshConversation();
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
    await say(app, conversationId, 'Make Acme silver').expect(202);
    const waiting = await conversationWhen(app, conversationId, 'awaiting_approval');
    expect(waiting.pendingApprovals).toEqual([
      expect.objectContaining({
        tool: 'update_records',
        preview: expect.objectContaining({
          update: [{ id: acme.id, before: { Tier: 'Gold' }, after: { Tier: 'Silver' } }],
        }),
      }),
    ]);
    // Nothing changes before the decision, and a second message is refused meanwhile.
    expect(airtable.listRecords(baseId, 'Clients').find((r) => r.id === acme.id)!.fields.Tier).toBe('Gold');
    const busy = await say(app, conversationId, 'And another thing').expect(409);
    expect(busy.body.error.code).toBe('turn_in_progress');

    const approvalId = waiting.pendingApprovals[0].id as string;
    const decided = await request(app)
      .post(`/api/v1/conversations/${conversationId}/approvals/${approvalId}`)
      .set(user.auth)
      .send({ approved: true, note: 'fine' })
      .expect(200);
    expect(decided.body.approval).toMatchObject({ status: 'approved', decidedBy: user.userId, note: 'fine' });
    await request(app)
      .post(`/api/v1/conversations/${conversationId}/approvals/${approvalId}`)
      .set(user.auth)
      .send({ approved: false })
      .expect(409);

    const done = await conversationWhen(app, conversationId, 'idle');
    const call = done.messages.flatMap(
      (m: { toolCalls?: Array<{ status: string; result: { changeSet: string } }> }) => m.toolCalls ?? [],
    )[0];
    expect(call.status).toBe('succeeded');
    expect(await settledJob(app, user.auth, call.result.changeSet)).toMatchObject({ status: 'completed' });
    expect(airtable.listRecords(baseId, 'Clients').find((r) => r.id === acme.id)!.fields.Tier).toBe('Silver');
    const writes = airtable.requestLog.filter((e) => e.baseId === baseId && e.method === 'PATCH');
    expect(writes).toHaveLength(1);
    await endAndKeep(app, conversationId, 'conversation-approved-write');
  });

  it('refuses a second message within seconds while a slow model call runs', async () => {
    const { conversationId } = await freshConversation();
    let asked = false;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    gemini.script([
      async () => {
        asked = true;
        await held;
        return { text: 'That took a while.' };
      },
    ]);
    try {
      await say(app, conversationId, 'Think it over').expect(202);
      await eventually(async () => (asked ? true : undefined));
      // The model call is a local activity: its workflow task stays open while it runs, and the
      // update is answered at the worker's next heartbeat of that task (80 % of its 2 s timeout).
      const sent = Date.now();
      const busy = await say(app, conversationId, 'Are you there?').expect(409);
      expect(Date.now() - sent).toBeLessThan(5_000);
      expect(busy.body.error.code).toBe('turn_in_progress');
    } finally {
      release();
    }
    const done = await conversationWhen(app, conversationId, 'idle');
    expect(done.messages.map((m: { text: string }) => m.text)).toEqual([
      'Think it over',
      'That took a while.',
    ]);
  });

  it('changes nothing when an approval is declined, and tells the model', async () => {
    const { baseId, conversationId } = await freshConversation();
    const before = airtable.listRecords(baseId, 'Clients').length;
    gemini.script([
      {
        functionCalls: [
          { name: 'create_record', args: { tableId: 'Clients', fields: { Name: 'Initrode' } } },
        ],
      },
      { text: 'I did not add it.' },
    ]);
    await say(app, conversationId, 'Add Initrode').expect(202);
    const waiting = await conversationWhen(app, conversationId, 'awaiting_approval');
    await request(app)
      .post(`/api/v1/conversations/${conversationId}/approvals/${waiting.pendingApprovals[0].id}`)
      .set(user.auth)
      .send({ approved: false, note: 'not now' })
      .expect(200);
    const done = await conversationWhen(app, conversationId, 'idle');
    expect(done.messages.flatMap((m: { toolCalls?: unknown[] }) => m.toolCalls ?? [])[0]).toMatchObject({
      status: 'declined',
    });
    expect(airtable.listRecords(baseId, 'Clients')).toHaveLength(before);
    const last = gemini
      .requests()
      .filter((r) => r.action === 'generateContent')
      .at(-1)!;
    expect(JSON.stringify(last.body)).toContain('declined');
    await endAndKeep(app, conversationId, 'conversation-declined');
  });

  it('changes nothing when an approval expires', async () => {
    const { baseId, conversationId } = await freshConversation(quickApp);
    const before = airtable.listRecords(baseId, 'Clients').length;
    gemini.script([
      { functionCalls: [{ name: 'create_record', args: { tableId: 'Clients', fields: { Name: 'Hooli' } } }] },
      { text: 'Nobody approved it.' },
    ]);
    await say(quickApp, conversationId, 'Add Hooli').expect(202);
    const done = await conversationWhen(quickApp, conversationId, 'idle');
    expect(done.messages.flatMap((m: { toolCalls?: unknown[] }) => m.toolCalls ?? [])[0]).toMatchObject({
      status: 'expired',
    });
    expect(done.pendingApprovals).toEqual([]);
    expect(airtable.listRecords(baseId, 'Clients')).toHaveLength(before);
  });

  it('ends a turn at the step cap with a message saying so', async () => {
    const { conversationId } = await freshConversation(quickApp);
    gemini.script(Array.from({ length: 3 }, () => ({ functionCalls: [{ name: 'list_tables', args: {} }] })));
    await say(quickApp, conversationId, 'Keep looking').expect(202);
    const done = await conversationWhen(quickApp, conversationId, 'idle');
    expect(done.messages.at(-1).text).toMatch(/stopped after 3 model calls/);
    expect(gemini.requests().filter((r) => r.action === 'generateContent')).toHaveLength(3);
    await endAndKeep(quickApp, conversationId, 'conversation-step-cap');
  });

  it('waits the delay Google asks for after a 429, and does not retry a 403', async () => {
    const { conversationId } = await freshConversation();
    // Longer than the model's first retry interval (2 s): the local activity's retry honours the
    // failure's nextRetryDelay, not its own backoff.
    gemini.script([{ error: { status: 429, retryDelay: '3.5s' } }, { text: 'Back again.' }]);
    await say(app, conversationId, 'Hello').expect(202);
    const done = await conversationWhen(app, conversationId, 'idle');
    expect(done.messages.at(-1).text).toBe('Back again.');
    const [limited, retried] = gemini.requests().filter((r) => r.action === 'generateContent');
    expect(limited!.status).toBe(429);
    expect(retried!.at - limited!.at).toBeGreaterThanOrEqual(3_500);

    gemini.reset();
    gemini.script([
      { error: { status: 403, message: 'Permission denied on the key' } },
      { text: 'never sent' },
    ]);
    await say(app, conversationId, 'Again').expect(202);
    const failed = await conversationWhen(app, conversationId, 'idle');
    expect(failed.messages.at(-1).text).toMatch(/403/);
    expect(gemini.requests().filter((r) => r.action === 'generateContent')).toHaveLength(1);
  });

  it('stops before the model call that the monthly budget cannot pay for', async () => {
    const { workspaceId, conversationId } = await freshConversation();
    gemini.script([{ text: 'First answer.' }]);
    await say(app, conversationId, 'Hi').expect(202);
    await conversationWhen(app, conversationId, 'idle');
    const patched = await request(app)
      .patch(`/api/v1/workspaces/${workspaceId}`)
      .set(user.auth)
      .send({ settings: { monthlyBudgetUsd: 0.000001 } })
      .expect(200);
    expect(patched.body.settings.monthlyBudgetUsd).toBe(0.000001);
    gemini.reset();
    await say(app, conversationId, 'And now?').expect(202);
    const done = await conversationWhen(app, conversationId, 'idle');
    expect(done.messages.at(-1).text).toMatch(/monthly budget/);
    expect(gemini.requests()).toHaveLength(0);
    const usage = await request(app)
      .get(`/api/v1/workspaces/${workspaceId}/usage`)
      .set(user.auth)
      .expect(200);
    expect(usage.body).toMatchObject({
      budgetUsd: 0.000001,
      jobs: expect.objectContaining({ conversation: 1 }),
    });
    expect(usage.body.costUsd).toBeGreaterThan(0);
  });

  it("answers 404 for another user's conversation, and keeps secrets and values out of the history", async () => {
    const { baseId, conversationId } = await freshConversation();
    gemini.script([
      { functionCalls: [{ name: 'list_records', args: { tableId: 'Clients' } }] },
      { text: 'Listed.' },
    ]);
    await say(app, conversationId, 'List the clients please, my secret word is swordfish').expect(202);
    await conversationWhen(app, conversationId, 'idle');

    const stranger = await registerUser(app, 'Stranger');
    await request(app).get(`/api/v1/conversations/${conversationId}`).set(stranger.auth).expect(404);
    await request(app)
      .post(`/api/v1/conversations/${conversationId}/messages`)
      .set(stranger.auth)
      .send({ text: 'hi' })
      .expect(404);

    const history = historyText(await ctx.client.workflow.getHandle(conversationId).fetchHistory());
    expect(history).toContain(conversationId); // decoded: the test would notice a value
    expect(history).not.toContain(TOKEN);
    expect(history).not.toContain('swordfish');
    for (const record of airtable.listRecords(baseId, 'Clients'))
      expect(history).not.toContain(String(record.fields.Name));
  });
});

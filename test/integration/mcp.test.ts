import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startAirtableEmulator, type AirtableEmulator } from '@airtable-ops/airtable-emulator';
import type { Express } from 'express';
import request from 'supertest';
import { createApp } from '../../api/app';
import { composeApi } from '../../api/compose';
import { listen as serve } from '../../api/http-server';
import { sha256 } from '../../core/crypto';
import { createLogger } from '../../core/logger';
import { listenForApiKeyAccessChanges } from '../../domain/api-keys/access-cache';
import { createApiKeyService } from '../../domain/api-keys/service';
import type { NotificationFeed } from '../../db/notifications';
import { argumentsSchema, TOOLS } from '../../domain/tools';
import {
  createActiveWorkspace,
  createTestContext,
  eventually,
  registerUser,
  queryCountingPool,
  settledJob,
  startWorker,
  uniqueTaskQueue,
  type TestContext,
} from '../support/helpers';
import { TEST_ENV } from '../support/env';
import { opsSeed } from '../support/seeds';

// MCP end to end: the official SDK's Client over Streamable HTTP (and stdio) → POST /mcp → the tool
// registry → the Airtable emulator (real limits); record writes → change sets → worker → emulator.

const TOKEN = 'patMcpTests.0123456789abcdef0123';
const BASES = Array.from({ length: 6 }, (_, i) => `appMCPtestsBase${String(i).padStart(2, '0')}`);
const ROOT = path.resolve(__dirname, '../..');

/** The tools `airtable-mcp-server` has, whose names and arguments ours keep. */
const AIRTABLE_MCP_SERVER_TOOLS = [
  'list_bases',
  'list_tables',
  'describe_table',
  'list_records',
  'search_records',
  'get_record',
  'create_record',
  'update_records',
  'delete_records',
  'create_table',
  'update_table',
  'create_field',
  'update_field',
  'list_comments',
  'create_comment',
];

type Secret = string;

describe('MCP endpoint', () => {
  let ctx: TestContext;
  let emulator: AirtableEmulator;
  let app: Express;
  let quickApp: Express;
  let server: Server;
  let quickServer: Server;
  let url: URL;
  let quickUrl: URL;
  let worker: { stop(): Promise<void> };
  let owner: Awaited<ReturnType<typeof registerUser>>;
  let stranger: Awaited<ReturnType<typeof registerUser>>;
  const clients: McpClient[] = [];
  // Workspace A (the owner's, most tests) and B (the stranger's), each on its own base.
  let a: { workspaceId: string; baseId: string; read: Secret; write: Secret; writeKeyId: string };
  let b: { workspaceId: string; baseId: string; write: Secret };
  let nextBase = 0;
  let accessChanges: NotificationFeed;

  /** An API wired as api/main.ts wires it, with the MCP write wait given. */
  function apiWith(taskQueue: string, writeWaitMs: number): Express {
    return createApp(
      composeApi({
        pool: ctx.pool,
        temporal: { client: ctx.client, taskQueue },
        airtable: ctx.airtable(emulator.url),
        config: {
          jwtSecret: ctx.jwtSecret,
          encryptionKey: ctx.encryptionKey,
          accessTokenTtlSeconds: 900,
          refreshTokenTtlSeconds: 3600,
          corsOrigins: [],
          loginRateLimitPerMinute: 1000,
        },
        logger: createLogger({ level: 'silent' }),
        accessChanges,
        mcp: { writeWaitMs },
      }),
    );
  }

  /** Serves `api` as api/main.ts does, on a free port. */
  async function listen(api: Express): Promise<{ server: Server; url: URL }> {
    const server = await serve(api, 0, '127.0.0.1');
    return { server, url: new URL(`http://127.0.0.1:${(server.address() as { port: number }).port}/mcp`) };
  }

  async function createKey(
    auth: Record<string, string>,
    workspaceId: string,
    scopes: string[],
    name = 'test key',
  ): Promise<{ id: string; secret: string }> {
    const res = await request(app)
      .post(`/api/v1/workspaces/${workspaceId}/api-keys`)
      .set(auth)
      .send({ name, scopes })
      .expect(201);
    return { id: res.body.apiKey.id, secret: res.body.secret };
  }

  async function workspaceFor(user: typeof owner) {
    const baseId = BASES[nextBase++]!;
    const workspaceId = await createActiveWorkspace(app, user.auth, { baseId, token: TOKEN });
    return { baseId, workspaceId };
  }

  async function connect(secret: Secret, to = url): Promise<McpClient> {
    const client = new McpClient({ name: 'mcp-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(to, {
        requestInit: { headers: { Authorization: `Bearer ${secret}` } },
      }),
    );
    clients.push(client);
    return client;
  }

  /** A tool's result: its JSON text parsed, and whether it is an error. */
  async function call(
    client: McpClient,
    name: string,
    args: Record<string, unknown> = {},
    idempotencyKey?: string,
  ): Promise<{ isError: boolean; body: Record<string, unknown>; raw: CallToolResult }> {
    const raw = (await client.callTool({
      name,
      arguments: args,
      ...(idempotencyKey ? { _meta: { idempotencyKey } } : {}),
    })) as CallToolResult;
    const text = raw.content.find((c) => c.type === 'text');
    return {
      isError: raw.isError === true,
      body: JSON.parse(text && text.type === 'text' ? text.text : 'null'),
      raw,
    };
  }

  async function changeSetJobs(workspaceId: string): Promise<number> {
    const { rows } = await ctx.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM jobs WHERE workspace_id = $1 AND kind = 'changeset.apply'`,
      [workspaceId],
    );
    return rows[0]!.n;
  }

  function recordsNamed(baseId: string, table: string, field: string, value: string) {
    return emulator.listRecords(baseId, table).filter((r) => r.fields[field] === value);
  }

  beforeAll(async () => {
    ctx = await createTestContext();
    emulator = await startAirtableEmulator({ seed: opsSeed({ baseIds: BASES }), tokens: [TOKEN] });
    const taskQueue = uniqueTaskQueue('mcp');
    accessChanges = listenForApiKeyAccessChanges(
      process.env[TEST_ENV.databaseUrl]!,
      createLogger({ level: 'silent' }),
    );
    // Writes wait for their change set up to 45 s here (20 s by default), so a loaded machine
    // answers with the outcome rather than the job id in the tests that expect the outcome.
    app = apiWith(taskQueue, 45_000);
    // Record writes answer with their job id after 0 ms here: the bounded wait, at its bound.
    quickApp = apiWith(taskQueue, 0);
    worker = await startWorker(ctx, { taskQueue, airtableUrl: emulator.url });
    ({ server, url } = await listen(app));
    ({ server: quickServer, url: quickUrl } = await listen(quickApp));
    owner = await registerUser(app, 'Owner');
    stranger = await registerUser(app, 'Stranger');
    const [wa, wb] = await Promise.all([workspaceFor(owner), workspaceFor(stranger)]);
    const read = await createKey(owner.auth, wa.workspaceId, ['read'], 'reader');
    const write = await createKey(owner.auth, wa.workspaceId, ['read', 'write'], 'writer');
    a = { ...wa, read: read.secret, write: write.secret, writeKeyId: write.id };
    b = { ...wb, write: (await createKey(stranger.auth, wb.workspaceId, ['read', 'write'])).secret };
  });

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await new Promise((resolve) => server.close(resolve));
    await new Promise((resolve) => quickServer.close(resolve));
    await worker.stop();
    await accessChanges.close();
    await emulator.close();
    await ctx.close();
  });

  describe('API keys', () => {
    it('are created once with their secret, stored hashed, listed without it, and revoked at once', async () => {
      const res = await request(app)
        .post(`/api/v1/workspaces/${a.workspaceId}/api-keys`)
        .set(owner.auth)
        .send({ name: 'Claude Desktop', scopes: ['read'] })
        .expect(201);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body.apiKey).toMatchObject({
        id: expect.any(String),
        name: 'Claude Desktop',
        scopes: ['read'],
      });
      const secret = res.body.secret as string;
      expect(secret).toMatch(/^aok_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
      const { rows } = await ctx.pool.query(`SELECT * FROM api_keys WHERE id = $1`, [res.body.apiKey.id]);
      expect(rows[0].secret_hash).toBe(sha256(secret));
      expect(JSON.stringify(rows[0])).not.toContain(secret.slice(17));

      const listed = await request(app)
        .get(`/api/v1/workspaces/${a.workspaceId}/api-keys`)
        .set(owner.auth)
        .expect(200);
      const mine = listed.body.apiKeys.find((k: { id: string }) => k.id === res.body.apiKey.id);
      expect(mine).toMatchObject({ name: 'Claude Desktop', scopes: ['read'], revokedAt: null });
      expect(mine.prefix).toBe(secret.slice(0, 16));
      expect(JSON.stringify(listed.body)).not.toContain(secret.slice(17));

      const client = await connect(secret);
      expect((await call(client, 'list_bases')).isError).toBe(false);
      await request(app)
        .delete(`/api/v1/workspaces/${a.workspaceId}/api-keys/${res.body.apiKey.id}`)
        .set(owner.auth)
        .expect(204);
      // The very next request of the connected client is refused.
      await expect(client.callTool({ name: 'list_bases', arguments: {} })).rejects.toMatchObject({
        code: 401,
      });
      const after = await request(app)
        .get(`/api/v1/workspaces/${a.workspaceId}/api-keys`)
        .set(owner.auth)
        .expect(200);
      expect(after.body.apiKeys.find((k: { id: string }) => k.id === res.body.apiKey.id).revokedAt).toEqual(
        expect.any(String),
      );
    });

    it('are checked once for the calls that arrive while a check is in flight, and revoked for the next call', async () => {
      // The service on a pool that counts the key lookups it is asked for.
      const counting = queryCountingPool(ctx.pool, /FROM api_keys k/);
      const lookups = counting.count;
      const keys = createApiKeyService({ pool: counting.pool });
      const key = await createKey(owner.auth, a.workspaceId, ['read'], 'burst');
      const answers = await Promise.all(Array.from({ length: 20 }, () => keys.authenticate(key.secret)));
      expect(answers.map((x) => x?.principal.keyId)).toEqual(Array(20).fill(key.id));
      expect(lookups()).toBe(1);
      const wrong = `${key.secret.slice(0, -1)}${key.secret.endsWith('x') ? 'y' : 'x'}`;
      expect(await keys.authenticate(wrong)).toBeUndefined();

      await request(app)
        .delete(`/api/v1/workspaces/${a.workspaceId}/api-keys/${key.id}`)
        .set(owner.auth)
        .expect(204);
      // A check that starts after the revocation sees it.
      expect(await keys.authenticate(key.secret)).toBeUndefined();
      expect(lookups()).toBe(3);
    });

    it('refuse bad input, other users and missing sign-in with the JSON error shape', async () => {
      const route = `/api/v1/workspaces/${a.workspaceId}/api-keys`;
      const bad = await request(app)
        .post(route)
        .set(owner.auth)
        .send({ name: 'x', scopes: ['admin'] });
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatchObject({ code: 'validation_failed', details: expect.any(Array) });
      await request(app)
        .post(route)
        .set(owner.auth)
        .send({ name: 'x', scopes: ['write'] })
        .expect(400);
      await request(app)
        .post(route)
        .set(owner.auth)
        .send({ name: '', scopes: ['read'] })
        .expect(400);
      const unauthenticated = await request(app).get(route).expect(401);
      expect(unauthenticated.body.error.code).toBe('unauthorized');
      // Another user's workspace, and a key of another workspace, are as missing as none.
      const foreign = await request(app).get(route).set(stranger.auth).expect(404);
      expect(foreign.body.error.code).toBe('not_found');
      await request(app)
        .post(route)
        .set(stranger.auth)
        .send({ name: 'x', scopes: ['read'] })
        .expect(404);
      await request(app).delete(`${route}/${a.writeKeyId}`).set(stranger.auth).expect(404);
      await request(app)
        .delete(`/api/v1/workspaces/${b.workspaceId}/api-keys/${a.writeKeyId}`)
        .set(stranger.auth)
        .expect(404);
      await request(app).delete(`${route}/not-a-key`).set(owner.auth).expect(404);
      // An API key is no access token.
      await request(app)
        .get(route)
        .set({ Authorization: `Bearer ${a.write}` })
        .expect(401);
    });
  });

  describe('authentication', () => {
    it('answers 401 with WWW-Authenticate to no key, a wrong key and a revoked key', async () => {
      const initialize = {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'raw', version: '1' },
        },
      };
      const post = (headers: Record<string, string>) =>
        fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            ...headers,
          },
          body: JSON.stringify(initialize),
        });
      const none = await post({});
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="airtable-ops"');
      expect(((await none.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
      const wrongSecret = a.write.slice(0, -4) + (a.write.endsWith('AAAA') ? 'BBBB' : 'AAAA');
      for (const key of ['nonsense', wrongSecret, 'aok_000000000000_' + 'A'.repeat(43)]) {
        const res = await post({ authorization: `Bearer ${key}` });
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(
          /^Bearer realm="airtable-ops", error="invalid_token"/,
        );
      }
      const ok = await post({ authorization: `Bearer ${a.read}` });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('mcp-session-id')).toBeNull(); // stateless
      expect(((await ok.json()) as { result: { serverInfo: { name: string } } }).result.serverInfo.name).toBe(
        'airtable-ops',
      );

      // A tool call on its own POST (no session to initialize first), with the tool's time.
      const listed = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          authorization: `Bearer ${a.read}`,
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 7,
          method: 'tools/call',
          params: { name: 'list_bases', arguments: {} },
        }),
      });
      expect(listed.status).toBe(200);
      expect(listed.headers.get('server-timing')).toMatch(/^tool;dur=\d+(\.\d)?$/);
      expect(((await listed.json()) as { id: number; result: { isError?: boolean } }).id).toBe(7);

      const revoked = await createKey(owner.auth, a.workspaceId, ['read', 'write']);
      await request(app)
        .delete(`/api/v1/workspaces/${a.workspaceId}/api-keys/${revoked.id}`)
        .set(owner.auth)
        .expect(204);
      expect((await post({ authorization: `Bearer ${revoked.secret}` })).status).toBe(401);
      // The SDK client sees the 401 as such.
      const client = new McpClient({ name: 'mcp-test', version: '1.0.0' });
      await expect(
        client.connect(
          new StreamableHTTPClientTransport(url, {
            requestInit: { headers: { Authorization: `Bearer ${revoked.secret}` } },
          }),
        ),
      ).rejects.toMatchObject({ code: 401 });
    });

    it('serves POST only: no stream to GET, no session to DELETE', async () => {
      const res = await fetch(url, {
        headers: { accept: 'text/event-stream', authorization: `Bearer ${a.read}` },
      });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
      expect((await fetch(url, { method: 'DELETE' })).status).toBe(405);
    });
  });

  it("lists the registry's tools with their schemas and annotations", async () => {
    const client = await connect(a.read);
    expect(client.getServerVersion()?.name).toBe('airtable-ops');
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(TOOLS.map((t) => t.name));
    expect(tools.length).toBeGreaterThanOrEqual(20);
    for (const name of AIRTABLE_MCP_SERVER_TOOLS) expect(tools.map((t) => t.name)).toContain(name);
    for (const tool of TOOLS) {
      const listed = tools.find((t) => t.name === tool.name)!;
      expect(listed.description).toBe(tool.description);
      expect(listed.inputSchema).toEqual(argumentsSchema(tool));
      expect(listed.annotations?.readOnlyHint).toBe(tool.annotations.readOnlyHint);
      expect(listed.annotations?.destructiveHint).toBe(tool.annotations.destructiveHint);
    }
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(byName.list_records!.annotations).toMatchObject({ readOnlyHint: true });
    expect(byName.delete_records!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    expect(byName.create_record!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false });
    expect(Object.keys((byName.list_records!.inputSchema as { properties: object }).properties)).toEqual(
      expect.arrayContaining([
        'baseId',
        'tableId',
        'view',
        'maxRecords',
        'filterByFormula',
        'sort',
        'fields',
      ]),
    );
  });

  it('runs read tools against the workspace base', async () => {
    const client = await connect(a.read);
    const bases = await call(client, 'list_bases');
    expect(bases.body).toEqual({ bases: [{ id: a.baseId, name: 'Operations', permissionLevel: 'create' }] });
    const tables = await call(client, 'list_tables', {
      baseId: a.baseId,
      detailLevel: 'tableIdentifiersOnly',
    });
    expect((tables.body.tables as Array<{ name: string }>).map((t) => t.name)).toEqual([
      'Clients',
      'Projects',
      'Tasks',
    ]);
    const tasks = emulator.listRecords(a.baseId, 'Tasks');
    const listed = await call(client, 'list_records', { tableId: 'Tasks', maxRecords: 5 });
    expect((listed.body.records as unknown[]).length).toBe(5);
    // Only the fields asked for, by name or by id, as airtable-mcp-server's `fields` argument.
    const schema = await call(client, 'describe_table', { tableId: 'Tasks' });
    const estimate = (schema.body.fields as Array<{ id: string; name: string }>).find(
      (f) => f.name === 'Estimate',
    )!;
    const keysOf = (res: typeof listed) =>
      new Set((res.body.records as Array<{ fields: object }>).flatMap((r) => Object.keys(r.fields)));
    expect([...keysOf(listed)]).toEqual(expect.arrayContaining(['Title', 'Estimate', 'Project']));
    const narrow = await call(client, 'list_records', {
      tableId: 'Tasks',
      maxRecords: 5,
      fields: ['Title', estimate.id],
    });
    expect([...keysOf(narrow)].sort()).toEqual(['Estimate', 'Title']);
    const misspelt = await call(client, 'list_records', { tableId: 'Tasks', fields: ['Titel'] });
    expect(misspelt.raw.isError).toBe(true);
    expect(misspelt.body.error).toContain('No field "Titel" in table Tasks');
    const one = await call(client, 'get_record', {
      baseId: a.baseId,
      tableId: 'Tasks',
      recordId: tasks[0]!.id,
    });
    expect(one.body).toMatchObject({ id: tasks[0]!.id, fields: { Title: tasks[0]!.fields.Title } });
    const found = await call(client, 'search_records', { tableId: 'Tasks', searchTerm: 'task 007' });
    expect((found.body.records as Array<{ fields: { Title: string } }>).map((r) => r.fields.Title)).toEqual([
      'Task 007',
    ]);
    const counted = await call(client, 'count_records', { tableId: 'Tasks' });
    expect(counted.body).toMatchObject({ count: tasks.length });
    const described = await call(client, 'describe_table', {
      tableId: 'Projects',
      detailLevel: 'identifiersOnly',
    });
    expect(described.body).toMatchObject({ name: 'Projects' });
    // A CSV export comes back in the result itself, as an embedded resource.
    const csv = await call(client, 'export_csv', { tableId: 'Clients', fields: ['Name'] });
    const resource = csv.raw.content.find((c) => c.type === 'resource');
    expect(resource).toMatchObject({
      type: 'resource',
      resource: { uri: csv.body.downloadUrl, mimeType: 'text/csv; charset=utf-8' },
    });
    // Bad arguments are a tool error the client can read, not a protocol failure.
    const bad = await call(client, 'list_records', { tableId: 42 });
    expect(bad.isError).toBe(true);
    expect(String(bad.body.error)).toMatch(/^Invalid arguments: tableId/);
    const unknown = await call(client, 'no_such_tool');
    expect(unknown.isError).toBe(true);
  });

  it('applies a write with a write key exactly once, as a change set, without approval', async () => {
    const client = await connect(a.write);
    const before = await changeSetJobs(a.workspaceId);
    const args = { baseId: a.baseId, tableId: 'Clients', fields: { Name: 'Written once', Tier: 'Gold' } };
    const first = await call(client, 'create_record', args, 'call-create-1');
    expect(first.isError).toBe(false);
    expect(first.body).toMatchObject({
      status: 'completed',
      jobId: expect.stringMatching(/^changeset-/),
      recordsApplied: 1,
      created: [expect.stringMatching(/^rec/)],
    });
    expect(recordsNamed(a.baseId, 'Clients', 'Name', 'Written once')).toHaveLength(1);
    expect(recordsNamed(a.baseId, 'Clients', 'Name', 'Written once')[0]!.id).toBe(
      (first.body.created as string[])[0],
    );
    // The same call again (a client retrying), and twice more at once: the same job, nothing new.
    const again = await Promise.all([
      call(client, 'create_record', args, 'call-create-1'),
      call(await connect(a.write), 'create_record', args, 'call-create-1'),
    ]);
    for (const r of again)
      expect(r.body).toMatchObject({ jobId: first.body.jobId, status: 'completed', repeated: true });
    expect(recordsNamed(a.baseId, 'Clients', 'Name', 'Written once')).toHaveLength(1);
    expect(await changeSetJobs(a.workspaceId)).toBe(before + 1);
    // The same call id with other arguments is refused, and writes nothing.
    const reused = await call(
      client,
      'create_record',
      { ...args, fields: { Name: 'Other' } },
      'call-create-1',
    );
    expect(reused.isError).toBe(true);
    expect(reused.body.error).toMatchObject({ code: 'idempotency_key_reused' });
    expect(recordsNamed(a.baseId, 'Clients', 'Name', 'Other')).toHaveLength(0);

    // An update through the registry's update_records; the job is the owner's to follow over REST.
    const id = (first.body.created as string[])[0]!;
    const updated = await call(client, 'update_records', {
      tableId: 'Clients',
      records: [{ id, fields: { Tier: 'Silver' } }],
    });
    expect(updated.body).toMatchObject({ status: 'completed', updated: [id] });
    expect(emulator.listRecords(a.baseId, 'Clients').find((r) => r.id === id)!.fields.Tier).toBe('Silver');
    const job = await settledJob(app, owner.auth, updated.body.jobId as string);
    expect(job).toMatchObject({ kind: 'changeset.apply', status: 'completed' });
  });

  it('refuses a write whose change set is invalid, recording nothing', async () => {
    const client = await connect(a.write);
    const before = await changeSetJobs(a.workspaceId);
    const refused = await call(client, 'create_records', {
      tableId: 'Clients',
      records: [{ fields: { Name: 'Bad', Nonsense: 1 } }],
    });
    expect(refused.isError).toBe(true);
    expect(refused.body.error).toMatchObject({
      code: 'invalid_change_set',
      details: [expect.objectContaining({ code: 'unknown_field' })],
    });
    expect(await changeSetJobs(a.workspaceId)).toBe(before);
    expect(recordsNamed(a.baseId, 'Clients', 'Name', 'Bad')).toHaveLength(0);
  });

  it('refuses write tools to a read-only key, naming the missing scope, and writes nothing', async () => {
    const client = await connect(a.read);
    const before = await changeSetJobs(a.workspaceId);
    const tables = emulator.listRecords(a.baseId, 'Clients').length;
    for (const [name, args] of [
      ['create_record', { tableId: 'Clients', fields: { Name: 'Read only' } }],
      [
        'delete_records',
        { tableId: 'Clients', recordIds: [emulator.listRecords(a.baseId, 'Clients')[0]!.id] },
      ],
      ['create_table', { name: 'Sneaky', fields: [{ name: 'Name', type: 'singleLineText' }] }],
      ['create_comment', { tableId: 'Clients', recordId: 'rec00000000000000', text: 'hi' }],
    ] as const) {
      const result = await call(client, name, args);
      expect(result.isError).toBe(true);
      expect(result.body).toMatchObject({ missingScope: 'write' });
      expect(String(result.body.error)).toContain('"write" scope');
    }
    expect(await changeSetJobs(a.workspaceId)).toBe(before);
    expect(emulator.listRecords(a.baseId, 'Clients')).toHaveLength(tables);
    const schema = await call(client, 'list_tables', { detailLevel: 'tableIdentifiersOnly' });
    expect(JSON.stringify(schema.body)).not.toContain('Sneaky');
  });

  it("keeps a key to its own workspace's base and jobs", async () => {
    const client = await connect(a.write);
    const before = emulator.listRecords(b.baseId, 'Clients').length;
    for (const [name, args] of [
      ['list_records', { baseId: b.baseId, tableId: 'Clients' }],
      ['create_record', { baseId: b.baseId, tableId: 'Clients', fields: { Name: 'Foreign' } }],
    ] as const) {
      const result = await call(client, name, args);
      expect(result.isError).toBe(true);
      expect(String(result.body.error)).toContain(`base ${b.baseId} is not available`);
    }
    expect(emulator.listRecords(b.baseId, 'Clients')).toHaveLength(before);
    // The stranger's key writes to B; A's key cannot see that job.
    const other = await call(await connect(b.write), 'create_record', {
      tableId: 'Clients',
      fields: { Name: 'In B' },
    });
    expect(other.body.status).toBe('completed');
    const status = await call(client, 'job_status', { jobId: other.body.jobId });
    expect(status.isError).toBe(true);
    expect(String(status.body.error)).toContain('No job');
    expect(recordsNamed(a.baseId, 'Clients', 'Name', 'In B')).toHaveLength(0);
  });

  it('answers a write that outlasts the wait with its job id, which job_status follows', async () => {
    const client = await connect(a.write, quickUrl);
    const result = await call(client, 'create_records', {
      tableId: 'Projects',
      records: Array.from({ length: 25 }, (_, i) => ({ fields: { Name: `Slow ${i}`, Budget: i } })),
    });
    expect(result.isError).toBe(false);
    expect(result.body).toMatchObject({
      status: 'running',
      jobId: expect.stringMatching(/^changeset-/),
      follow: { tool: 'job_status', arguments: { jobId: result.body.jobId } },
    });
    const done = await eventually(async () => {
      const status = await call(client, 'job_status', { jobId: result.body.jobId });
      return status.body.status === 'completed' ? status.body : undefined;
    }, 60_000);
    expect(done).toMatchObject({ kind: 'changeset.apply', result: { recordsApplied: 25 } });
    expect(
      emulator.listRecords(a.baseId, 'Projects').filter((r) => String(r.fields.Name).startsWith('Slow ')),
    ).toHaveLength(25);
  });

  it('serves concurrent calls from several clients, each write landing once, with no 429', async () => {
    emulator.clearRequestLog();
    const readers = await Promise.all(Array.from({ length: 4 }, () => connect(a.read)));
    const writers = await Promise.all(Array.from({ length: 3 }, () => connect(a.write)));
    const reads = readers.flatMap((client, i) => [
      call(client, 'list_records', { tableId: 'Tasks', maxRecords: 3 }),
      call(client, 'count_records', { tableId: 'Clients' }),
      call(client, 'get_records', {
        tableId: 'Tasks',
        recordIds: [emulator.listRecords(a.baseId, 'Tasks')[i]!.id],
      }),
    ]);
    const writes = writers.map((client, i) =>
      call(
        client,
        'create_record',
        { tableId: 'Clients', fields: { Name: `Concurrent ${i}` } },
        `concurrent-${i}`,
      ),
    );
    // One call sent twice at once (a client retrying before the first answer): one change set.
    const twice = [0, 1].map((i) =>
      call(
        writers[i]!,
        'create_record',
        { tableId: 'Clients', fields: { Name: 'Sent twice' } },
        'sent-twice',
      ),
    );
    const [first, second] = await Promise.all(twice);
    expect(first!.body.jobId).toBe(second!.body.jobId);
    expect(recordsNamed(a.baseId, 'Clients', 'Name', 'Sent twice')).toHaveLength(1);
    const results = await Promise.all([...reads, ...writes]);
    // The answers themselves, so a failure says what went wrong.
    expect(results.filter((r) => r.isError).map((r) => r.body)).toEqual([]);
    for (const r of results.slice(reads.length)) expect(r.body.status).toBe('completed');
    for (let i = 0; i < writers.length; i++)
      expect(recordsNamed(a.baseId, 'Clients', 'Name', `Concurrent ${i}`)).toHaveLength(1);
    expect(emulator.requestLog.filter((e) => e.status === 429)).toEqual([]);
  });

  describe('over stdio (npm run mcp)', () => {
    function stdioClient(env: Record<string, string>) {
      return new StdioClientTransport({
        command: process.execPath,
        args: ['--import', 'tsx', path.join(ROOT, 'scripts/mcp-stdio.ts')],
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          NODE_ENV: 'test',
          LOG_LEVEL: 'error',
          DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'mcp-stdio-')),
          ...env,
        },
        stderr: 'pipe',
      });
    }

    it('runs the same server in its own process, checking the key on every request', async () => {
      const key = await createKey(owner.auth, a.workspaceId, ['read']);
      const client = new McpClient({ name: 'desktop', version: '1.0.0' });
      await client.connect(
        stdioClient({
          AIRTABLE_OPS_API_KEY: key.secret,
          DATABASE_URL: process.env[TEST_ENV.databaseUrl]!,
          TEMPORAL_ADDRESS: ctx.address,
          APP_ENCRYPTION_KEY: ctx.encryptionKey.toString('base64'),
          AIRTABLE_ENDPOINT_URL: emulator.url,
        }),
      );
      clients.push(client);
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(TOOLS.map((t) => t.name));
      const counted = await client.callTool({ name: 'count_records', arguments: { tableId: 'Tasks' } });
      expect(JSON.parse((counted.content as Array<{ text: string }>)[0]!.text)).toMatchObject({
        count: emulator.listRecords(a.baseId, 'Tasks').length,
      });
      const refused = (await client.callTool({
        name: 'create_record',
        arguments: { tableId: 'Tasks', fields: { Title: 'From stdio' } },
      })) as CallToolResult;
      expect(refused.isError).toBe(true);
      await request(app)
        .delete(`/api/v1/workspaces/${a.workspaceId}/api-keys/${key.id}`)
        .set(owner.auth)
        .expect(204);
      await expect(client.callTool({ name: 'list_bases', arguments: {} })).rejects.toThrow(/revoked/);
    });

    it('relays to POST /mcp when AIRTABLE_OPS_MCP_URL is set', async () => {
      const client = new McpClient({ name: 'desktop', version: '1.0.0' });
      await client.connect(
        stdioClient({ AIRTABLE_OPS_API_KEY: a.read, AIRTABLE_OPS_MCP_URL: url.toString() }),
      );
      clients.push(client);
      const bases = (await client.callTool({ name: 'list_bases', arguments: {} })) as CallToolResult;
      expect(JSON.parse((bases.content[0] as { text: string }).text)).toMatchObject({
        bases: [{ id: a.baseId }],
      });
    });
  });
});

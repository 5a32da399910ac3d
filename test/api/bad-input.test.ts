import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import type { Express } from 'express';
import fc from 'fast-check';
import request from 'supertest';
import { answerClientErrorsWithJson } from '../../api/client-errors';
import type { AirtableTableSchema } from '../../airtable/meta';
import {
  insertWorkspaceWithConnection,
  saveSchemaSnapshot,
  setWorkspaceStatus,
} from '../../domain/workspaces/store';
import {
  createTestApi,
  createTestContext,
  eventually,
  registerUser,
  uniqueTaskQueue,
  type TestContext,
} from '../support/helpers';

/**
 * The standing hostile-input test (docs/bad-input.md): generated requests against every route of
 * the API, over supertest and over raw sockets (for what an HTTP client refuses to send). Every
 * answer must be < 500, every refusal a JSON error in the contract's shape, no refused request may
 * record or start a job, and the server must be healthy afterwards.
 *
 * Three families of requests: wild ones (any route, method, path id, query, headers and body),
 * ones that are right but for one NUL or lone surrogate (in a body value or a path id), and
 * well-formed change sets, valid or mutated, for an active workspace. No worker polls the API's task
 * queue and "Airtable" is a stub that refuses every token, so nothing that starts ever runs.
 *
 * Replay a failure with the seed it prints: `BAD_INPUT_SEED=<seed> npx jest test/api/bad-input`
 * (add `BAD_INPUT_PATH=<path>` from fast-check's report to run only the failing case);
 * `BAD_INPUT_RUNS=<n>` runs more (or fewer) requests.
 */
const SEED = Number.parseInt(process.env.BAD_INPUT_SEED ?? '', 10) || 20_260_611;
const REPLAY_PATH = process.env.BAD_INPUT_PATH || undefined;
/** Generated requests per run: supertest + raw sockets (≥ 1,000 in all). */
const HTTP_RUNS = Number(process.env.BAD_INPUT_RUNS ?? 1_000);
const RAW_RUNS = Math.max(50, Math.round(HTTP_RUNS / 5));

/** The routes of api/app.ts and its routers; `{ws}` and `{job}` are path ids. */
const ROUTES = {
  healthz: { method: 'GET', path: '/healthz' },
  readyz: { method: 'GET', path: '/readyz' },
  register: { method: 'POST', path: '/api/v1/auth/register', body: 'register' },
  login: { method: 'POST', path: '/api/v1/auth/login', body: 'login' },
  refresh: { method: 'POST', path: '/api/v1/auth/refresh', body: 'refresh' },
  logout: { method: 'POST', path: '/api/v1/auth/logout', body: 'refresh' },
  me: { method: 'GET', path: '/api/v1/users/me' },
  createWorkspace: { method: 'POST', path: '/api/v1/workspaces', body: 'workspace' },
  listWorkspaces: { method: 'GET', path: '/api/v1/workspaces' },
  getWorkspace: { method: 'GET', path: '/api/v1/workspaces/{ws}' },
  deleteWorkspace: { method: 'DELETE', path: '/api/v1/workspaces/{ws}' },
  changes: { method: 'POST', path: '/api/v1/workspaces/{ws}/changes', body: 'changes' },
  getJob: { method: 'GET', path: '/api/v1/jobs/{job}' },
  cancelJob: { method: 'POST', path: '/api/v1/jobs/{job}/cancel' },
} as const satisfies Record<string, { method: string; path: string; body?: BodyKind }>;
type RouteName = keyof typeof ROUTES;
type BodyKind = 'register' | 'login' | 'refresh' | 'workspace' | 'changes';

const UNKNOWN_PATHS = [
  '/',
  '/api',
  '/api/v1',
  '/api/v1/nothing-here',
  '/api/v2/workspaces',
  '/api/v1/auth',
  '/api/v1/auth/{job}',
  '/api/v1/users/{ws}',
  '/api/v1/jobs',
  '/api/v1/jobs/{job}/cancel/now',
  '/api/v1/workspaces/{ws}/changes/{job}',
  '/healthz/{job}',
  '/{job}',
];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

/** One generated request, as supertest sends it. */
interface GeneratedRequest {
  route: RouteName | 'unknown';
  method: (typeof METHODS)[number];
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** The body as text, for the report of a failure. */
  bodyText?: string;
}

const SCHEMA: AirtableTableSchema[] = [
  {
    id: 'tblTasks000000001',
    name: 'Tasks',
    primaryFieldId: 'fldName0000000001',
    fields: [
      { id: 'fldName0000000001', name: 'Name', type: 'singleLineText' },
      { id: 'fldCount000000001', name: 'Count', type: 'number', options: { precision: 0 } },
      {
        id: 'fldDone0000000001',
        name: 'Done',
        type: 'checkbox',
        options: { icon: 'check', color: 'greenBright' },
      },
    ],
    views: [],
  },
];

describe('hostile input', () => {
  let ctx: TestContext;
  let app: Express;
  let server: Server;
  let airtable: Server;
  let taskQueue: string;
  let alice: Awaited<ReturnType<typeof registerUser>>;
  let bob: Awaited<ReturnType<typeof registerUser>>;
  /** The account whose credentials the auth routes' valid bodies use, so Alice's login stays untouched. */
  let carol: Awaited<ReturnType<typeof registerUser>>;
  /** Alice's workspace whose provisioning never runs (no worker): it stays `provisioning`. */
  let provisioningId: string;
  let provisioningJobId: string;
  /** Alice's active workspace (with a schema snapshot): change sets to it reach the plan, Postgres and "Airtable". */
  let activeId: string;
  let bobWorkspaceId: string;
  let bobJobId: string;
  /** Job rows of the test's users, updated after every accepted request. */
  let jobs = 0;
  let acceptedJobStarts = 0;
  const coverage = new Map<string, number>();
  /** Answers by status and error code, printed at the end. */
  const outcomes = new Map<string, number>();
  const rawOutcomes = new Map<string, number>();

  const countJobs = async () =>
    (
      await ctx.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM jobs WHERE user_id = ANY($1::uuid[])',
        [[alice.userId, bob.userId, carol.userId]],
      )
    ).rows[0]!.n;

  beforeAll(async () => {
    ctx = await createTestContext();
    taskQueue = uniqueTaskQueue('bad-input');
    // No worker polls the task queue, so nothing that starts ever runs, and "Airtable" refuses every
    // token at once (401): a change set the API checks against Airtable is refused quickly (409)
    // instead of waiting out its retries against an unreachable host.
    airtable = createServer((req, res) => {
      req.resume();
      res.writeHead(401, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({ error: { type: 'AUTHENTICATION_REQUIRED', message: 'Authentication required' } }),
      );
    });
    await new Promise<void>((resolve) => airtable.listen(0, '127.0.0.1', () => resolve()));
    app = createTestApi(ctx, taskQueue, {
      loginRateLimitPerMinute: 1_000_000,
      airtableUrl: `http://127.0.0.1:${(airtable.address() as AddressInfo).port}`,
    });
    server = answerClientErrorsWithJson(app.listen(0, '127.0.0.1'));
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    alice = await registerUser(app, 'Alice');
    bob = await registerUser(app, 'Bob');
    carol = await registerUser(app, 'Carol');

    const created = await request(server)
      .post('/api/v1/workspaces')
      .set(alice.auth)
      .send({ name: 'Provisioning', airtable: { baseId: 'appAAAAAAAAAAAAAA', token: 'patXXXXXXXXXXXXXX' } })
      .expect(202);
    provisioningId = created.body.workspace.id;
    provisioningJobId = created.body.job.id;
    // Ended at once: with no worker, a query of a running job's progress waits for a worker that
    // never comes, so GET /jobs/:id of a running job would not answer (see docs/bad-input.md).
    await ctx.client.workflow.getHandle(provisioningJobId).terminate('bad-input test: no worker');

    activeId = randomUUID();
    // A base of its own, so the Airtable pacer's bookings do not meet other test files'.
    const activeBase = `app${randomUUID().replace(/-/g, '').slice(0, 14)}`;
    await insertWorkspaceWithConnection(ctx.pool, {
      id: activeId,
      ownerId: alice.userId,
      name: 'Active',
      baseId: activeBase,
      token: 'patYYYYYYYYYYYYYY',
      encryptionKey: ctx.encryptionKey,
    });
    await setWorkspaceStatus(ctx.pool, activeId, 'active');
    await saveSchemaSnapshot(ctx.pool, activeId, activeBase, SCHEMA);

    bobWorkspaceId = randomUUID();
    await insertWorkspaceWithConnection(ctx.pool, {
      id: bobWorkspaceId,
      ownerId: bob.userId,
      name: 'Bob',
      baseId: 'appCCCCCCCCCCCCCC',
      token: 'patZZZZZZZZZZZZZZ',
      encryptionKey: ctx.encryptionKey,
    });
    bobJobId = `workspace-provision-${randomUUID()}`;
    await ctx.pool.query(
      `INSERT INTO jobs (id, kind, workspace_id, user_id, status) VALUES ($1, 'workspace.provision', $2, $3, 'abandoned')`,
      [bobJobId, bobWorkspaceId, bob.userId],
    );
    jobs = await countJobs();
  });

  afterAll(async () => {
    // The workflows that valid requests started never run (no worker): end them.
    const ids: string[] = [];
    for await (const wf of ctx.client.workflow.list({ query: `TaskQueue="${taskQueue}"` }))
      ids.push(wf.workflowId);
    await Promise.allSettled(
      ids.map((id) => ctx.client.workflow.getHandle(id).terminate('bad-input test done')),
    );
    for (const s of [server, airtable]) {
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      s.closeAllConnections();
      await closed;
    }
    await ctx.close();
  });

  // ---------------------------------------------------------------------------------------------
  // Generators
  // ---------------------------------------------------------------------------------------------

  /** Strings Node's HTTP client accepts in a header value. */
  const headerText = (maxLength = 60) =>
    fc.string({
      unit: fc.integer({ min: 0x20, max: 0xfe }).map((c) => String.fromCharCode(c === 0x7f ? 0xff : c)),
      maxLength,
    });

  const SPECIAL_VALUES: unknown[] = [
    '',
    ' ',
    '\ud800',
    '\udfff',
    'é',
    '😀👍🏽',
    '\u202e\u200b',
    'x'.repeat(10_000),
    '__proto__',
    'constructor',
    '../../etc/passwd',
    "' OR 1=1 --",
    '%00',
    '\\u0000',
    'null',
    'appAAAAAAAAAAAAAA',
    'recAAAAAAAAAAAAAA',
    0,
    -1,
    1e308,
    -0,
    1.5,
    Number.MAX_SAFE_INTEGER + 2,
    true,
    false,
    null,
    [],
    {},
    [[[[]]]],
    JSON.parse('{"__proto__":{"polluted":true}}'),
  ];
  const specialValue = fc.constantFrom(...SPECIAL_VALUES);
  const jsonish = fc.oneof(
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }) },
    { weight: 2, arbitrary: specialValue },
  );

  type Path = Array<string | number>;
  /** A place in a JSON value: a node (`key` unset) or the key `key` of the object at `path`. */
  type Slot = { path: Path; key?: string };

  /** Every node and every string (values and keys) of a JSON value. */
  function slotsOf(value: unknown): { nodes: Path[]; strings: Slot[] } {
    const nodes: Path[] = [];
    const strings: Slot[] = [];
    const walk = (v: unknown, path: Path) => {
      nodes.push(path);
      if (typeof v === 'string') strings.push({ path });
      else if (Array.isArray(v)) v.forEach((item, i) => walk(item, [...path, i]));
      else if (v !== null && typeof v === 'object')
        for (const key of Object.keys(v)) {
          strings.push({ path, key });
          walk((v as Record<string, unknown>)[key], [...path, key]);
        }
    };
    walk(value, []);
    return { nodes, strings };
  }

  const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
  type Container = Record<string | number, unknown>;
  /** The node at `path` below `holder.v`. */
  const nodeAt = (holder: { v: unknown }, path: Path): unknown =>
    path.reduce<unknown>((node, key) => (node as Container)[key], holder.v);
  /** Sets an own property, even one named `__proto__`. */
  const put = (obj: object, key: string | number, value: unknown) =>
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });

  /** Puts `char` (a NUL or a lone surrogate) into the `pick`-th string (a value or a key) of `value`, at offset `at`. */
  function injectBadChar(
    value: unknown,
    char: string,
    pick: number,
    at: number,
    valuesOnly = false,
  ): unknown {
    const holder = { v: clone(value) };
    const all = slotsOf(holder.v).strings;
    const values = all.filter((slot) => slot.key === undefined);
    const strings = valuesOnly && values.length > 0 ? values : all;
    if (strings.length === 0) return { [`bad${char}key`]: value };
    const slot = strings[pick % strings.length]!;
    const insert = (s: string) => s.slice(0, at % (s.length + 1)) + char + s.slice(at % (s.length + 1));
    if (slot.key !== undefined) {
      const obj = nodeAt(holder, slot.path) as Container;
      const v = obj[slot.key];
      delete obj[slot.key];
      put(obj, insert(slot.key), v);
    } else {
      const parent =
        slot.path.length === 0
          ? (holder as Container)
          : (nodeAt(holder, slot.path.slice(0, -1)) as Container);
      const key = slot.path.length === 0 ? 'v' : slot.path[slot.path.length - 1]!;
      parent[key] = insert(parent[key] as string);
    }
    return holder.v;
  }

  type Mutation =
    | { op: 'drop' | 'dup'; pick: number }
    | { op: 'set'; pick: number; value: unknown }
    | { op: 'add'; pick: number; key: string; value: unknown };
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ op: fc.constantFrom('drop' as const, 'dup' as const), pick: fc.nat() }),
    fc.record({ op: fc.constant('set' as const), pick: fc.nat(), value: jsonish }),
    fc.record({
      op: fc.constant('add' as const),
      pick: fc.nat(),
      key: fc.oneof(
        fc.string({ maxLength: 12 }),
        fc.constantFrom('__proto__', 'constructor', 'id', 'fields'),
      ),
      value: jsonish,
    }),
  );

  /** Applies one mutation to the `pick`-th node of a JSON value. */
  function mutate(value: unknown, m: Mutation): unknown {
    const holder = { v: clone(value) };
    const { nodes } = slotsOf(holder.v);
    const path = nodes[m.pick % nodes.length]!;
    const parent =
      path.length === 0 ? (holder as Container) : (nodeAt(holder, path.slice(0, -1)) as Container);
    const key = path.length === 0 ? 'v' : path[path.length - 1]!;
    const node = parent[key];
    switch (m.op) {
      case 'drop':
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else if (path.length === 0) holder.v = {};
        else delete parent[key];
        break;
      case 'dup':
        if (Array.isArray(parent)) parent.splice(key as number, 0, clone(node));
        else put(parent, key, [node, node]);
        break;
      case 'set':
        put(parent, key, m.value);
        break;
      case 'add':
        if (node !== null && typeof node === 'object' && !Array.isArray(node)) put(node, m.key, m.value);
        else put(parent, key, { [m.key]: m.value });
        break;
    }
    return holder.v;
  }

  /** Valid bodies of each kind, the seeds of the near-valid ones. */
  function validBodies(kind: BodyKind): fc.Arbitrary<unknown> {
    switch (kind) {
      case 'register':
        return fc.record({
          email: fc.nat().map((n) => `fuzz-${n}@example.com`),
          password: fc.constant('correct horse battery'),
          name: fc.constantFrom('Fuzz', 'Zoë', '名前'),
        });
      case 'login':
        return fc.constant({ email: carol.email, password: carol.password });
      case 'refresh':
        return fc.constantFrom({ refreshToken: carol.refreshToken }, { refreshToken: 'x'.repeat(40) });
      case 'workspace':
        return fc.record({
          name: fc.constantFrom('Ops', 'Sales'),
          airtable: fc.constant({ baseId: 'appAAAAAAAAAAAAAA', token: 'patXXXXXXXXXXXXXX' }),
        });
      case 'changes':
        return fc.record({
          steps: fc.array(
            fc.oneof(
              fc.record({
                table: fc.constantFrom('Tasks', 'tblTasks000000001'),
                action: fc.constant('create'),
                records: fc.array(
                  fc.record({ fields: fc.record({ Name: fc.string(), Count: fc.integer() }) }),
                  {
                    minLength: 1,
                    maxLength: 3,
                  },
                ),
                typecast: fc.boolean(),
              }),
              fc.record({
                table: fc.constant('Tasks'),
                action: fc.constantFrom('update', 'delete'),
                records: fc.array(
                  fc.record({
                    id: fc.constant('recAAAAAAAAAAAAAA'),
                    fields: fc.record({ Done: fc.boolean() }),
                  }),
                  {
                    minLength: 1,
                    maxLength: 2,
                  },
                ),
              }),
              fc.record({
                table: fc.constant('Tasks'),
                action: fc.constant('upsert'),
                records: fc.array(fc.record({ fields: fc.record({ Name: fc.string() }) }), {
                  minLength: 1,
                  maxLength: 2,
                }),
                fieldsToMergeOn: fc.constant(['Name']),
              }),
            ),
            { minLength: 1, maxLength: 3 },
          ),
        });
    }
  }

  const nearValid = (kind: BodyKind) =>
    fc
      .tuple(validBodies(kind), fc.array(mutation, { minLength: 1, maxLength: 3 }))
      .map(([body, ms]) => ms.reduce(mutate, body));

  /** A NUL (mostly) or an unpaired surrogate: text that Postgres cannot store. */
  const badChar = fc.constantFrom('\u0000', '\u0000', '\u0000', '\ud800', '\udfff');
  /** `value` with a bad character in one of its strings: mostly a value (an e-mail, a name, a cell), else a key. */
  const withNul = (value: fc.Arbitrary<unknown>, valuesOnly?: boolean) =>
    fc
      .tuple(value, badChar, fc.nat(), fc.nat(), fc.nat({ max: 3 }))
      .map(([v, char, pick, at, keys]) => injectBadChar(v, char, pick, at, valuesOnly ?? keys > 0));

  const DEEP = 30_000;
  const MALFORMED = [
    '',
    '{',
    '}',
    '{"a":}',
    '{"a" 1}',
    "{'a':1}",
    '[1,2',
    'nul',
    'undefined',
    '{"a":NaN}',
    '1e999',
    '{"a":1e999}',
    '\ufeff{}',
    '{"a":"\u0000"}',
    '{"a":"\u0001\u001f"}',
    '{"a":"\\ud800"}',
    '{"a":"\\u0000"}',
    '{"\\u0000":1}',
    '{"a":1,"a":2}',
    '{"__proto__":{"admin":true}}',
    '"just a string"',
    'true',
    '123',
    'null',
    '[]',
    '{}',
    '['.repeat(DEEP) + ']'.repeat(DEEP),
    '{"a":'.repeat(DEEP) + '1' + '}'.repeat(DEEP),
    `{"steps":[{"table":"Tasks","action":"create","records":[{"fields":{"Name":${'['.repeat(DEEP)}${']'.repeat(DEEP)}}}]}]}`,
    `{"email":"${'a'.repeat(300)}@example.com","password":"x"}`,
  ];
  const malformedText = fc.oneof(
    fc.constantFrom(...MALFORMED),
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc.tuple(nearValid('changes'), fc.nat()).map(([v, cut]) => {
      const text = JSON.stringify(v) ?? '';
      return text.slice(0, cut % Math.max(1, text.length));
    }),
  );

  /** The body of a request to `kind`'s route (or to a route without a body). */
  function bodyFor(kind: BodyKind | undefined): fc.Arbitrary<Buffer | undefined> {
    const own = kind ?? 'changes';
    const text = (v: fc.Arbitrary<unknown>) => v.map((x) => Buffer.from(JSON.stringify(x) ?? 'null'));
    return fc.oneof(
      { weight: 20, arbitrary: fc.constant(undefined) },
      { weight: 30, arbitrary: text(validBodies(own)) },
      { weight: 40, arbitrary: text(nearValid(own)) },
      { weight: 10, arbitrary: text(withNul(nearValid(own))) },
      { weight: 15, arbitrary: text(withNul(validBodies(own))) },
      { weight: 20, arbitrary: text(fc.jsonValue({ maxDepth: 4, stringUnit: 'binary' })) },
      { weight: 5, arbitrary: text(withNul(fc.jsonValue({ maxDepth: 3 }))) },
      { weight: 20, arbitrary: malformedText.map((s) => Buffer.from(s)) },
      { weight: 10, arbitrary: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)) },
      // Over the 2 MB limit of every route but change sets.
      { weight: 1, arbitrary: fc.constant(Buffer.from(`{"name":"${'x'.repeat(2_200_000)}"}`)) },
    );
  }

  /** A path id: a real one (own, another user's), or malformed in every way a URL allows. */
  function pathId(kind: 'workspace' | 'job'): fc.Arbitrary<string> {
    const known = [provisioningId, activeId, bobWorkspaceId, provisioningJobId, bobJobId];
    // Mostly ids of the right kind: Alice's (the active workspace most), then Bob's.
    const own =
      kind === 'workspace'
        ? fc.constantFrom(activeId, activeId, activeId, provisioningId, provisioningId, bobWorkspaceId)
        : fc.constantFrom(provisioningJobId, provisioningJobId, bobJobId, activeId);
    return fc.oneof(
      { weight: 4, arbitrary: own },
      { weight: 1, arbitrary: fc.constantFrom(...known) },
      {
        weight: 2,
        arbitrary: fc
          .tuple(fc.constantFrom(...known), fc.nat())
          .map(([id, at]) => `${id.slice(0, at % (id.length + 1))}%00${id.slice(at % (id.length + 1))}`),
      },
      { weight: 1, arbitrary: fc.uuid() },
      {
        weight: 3,
        arbitrary: fc.string({ unit: 'binary', maxLength: 30 }).map((s) => encodeURIComponent(s)),
      },
      {
        weight: 3,
        arbitrary: fc
          .tuple(
            fc.constantFrom(
              '%ZZ',
              '%E0%A4%A',
              '%',
              '%%',
              '%C3%28',
              '%ED%A0%80',
              '%FF',
              '%00',
              '%2F',
              '%2e%2e',
              '..',
              '%u0000',
              '%0',
            ),
            fc.constantFrom('', ...known),
            fc.boolean(),
          )
          .map(([bad, id, before]) => (before ? bad + id : id + bad)),
      },
      { weight: 1, arbitrary: fc.integer({ min: 300, max: 12_000 }).map((n) => 'a'.repeat(n)) },
    );
  }

  const query = fc.oneof(
    { weight: 6, arbitrary: fc.constant('') },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '?a=1',
        '?a=%00',
        '?%00=1',
        '?a=%ZZ',
        '?a=%E0%A4%A',
        '?a[b][c]=1',
        '?a=1&a=2',
        '?&&=&',
      ),
    },
    {
      weight: 1,
      arbitrary: fc.string({ unit: 'binary', maxLength: 20 }).map((s) => `?q=${encodeURIComponent(s)}`),
    },
  );

  function tamper(token: string, at: number): string {
    const i = at % token.length;
    return token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
  }

  function headers(): fc.Arbitrary<{ headers: Record<string, string>; compress: boolean }> {
    const optional = <T>(arb: fc.Arbitrary<T>, weight = 1) =>
      fc.oneof({ weight, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
    return fc
      .record({
        authorization: fc.oneof(
          { weight: 2, arbitrary: fc.constant(undefined) },
          { weight: 6, arbitrary: fc.constant(`Bearer ${alice.accessToken}`) },
          { weight: 1, arbitrary: fc.constant(`Bearer ${bob.accessToken}`) },
          { weight: 1, arbitrary: headerText() },
          { weight: 1, arbitrary: headerText().map((s) => `Bearer ${s}`) },
          { weight: 1, arbitrary: fc.nat().map((n) => `Bearer ${tamper(alice.accessToken, n)}`) },
          {
            weight: 1,
            arbitrary: fc.constantFrom('Bearer', 'Bearer ', 'Basic YTpi', `bearer ${alice.accessToken}`),
          },
        ),
        contentType: fc.oneof(
          { weight: 2, arbitrary: fc.constant(undefined) },
          { weight: 6, arbitrary: fc.constant('application/json') },
          {
            weight: 2,
            arbitrary: fc.constantFrom(
              'application/json; charset=utf-8',
              'application/json; charset=latin1',
              'application/json; charset=utf-16',
              'application/json; charset=utf-7',
              'application/json; charset="',
              'application/json;;;',
              'text/plain',
              'application/x-www-form-urlencoded',
              'multipart/form-data; boundary=x',
              'application/vnd.api+json',
              '*/*',
              'json',
            ),
          },
          { weight: 1, arbitrary: headerText(30) },
        ),
        contentEncoding: optional(
          fc.oneof(
            fc.constantFrom(
              'gzip',
              'deflate',
              'br',
              'zstd',
              'identity',
              'GZIP',
              'x-zip',
              'gzip, br',
              'compress',
              '',
            ),
            headerText(12),
          ),
          4,
        ),
        compress: fc.boolean(),
        coherent: fc.oneof(
          { weight: 3, arbitrary: fc.constant(false) },
          { weight: 2, arbitrary: fc.constant(true) },
        ),
        idempotencyKey: optional(
          fc.oneof(
            fc.nat().map((n) => `key-${n}`),
            headerText(),
            fc.constant('k'.repeat(300)),
            fc.constant(''),
          ),
          3,
        ),
        requestId: optional(headerText(120), 4),
        forwardedFor: optional(
          fc.oneof(headerText(40), fc.constantFrom('1.2.3.4', '::1, 10.0.0.1', 'unknown')),
          6,
        ),
        accept: optional(fc.constantFrom('text/html', 'application/xml', '*/*', 'application/json'), 4),
      })
      .map((h) => {
        // Often everything but the path or the body is right, so those reach the routes' own checks.
        if (h.coherent) {
          h.authorization = `Bearer ${alice.accessToken}`;
          h.contentType = 'application/json';
          h.contentEncoding = undefined;
        }
        const out: Record<string, string> = {};
        if (h.authorization !== undefined) out.Authorization = h.authorization;
        if (h.contentType !== undefined) out['Content-Type'] = h.contentType;
        if (h.contentEncoding !== undefined) out['Content-Encoding'] = h.contentEncoding;
        if (h.idempotencyKey !== undefined) out['Idempotency-Key'] = h.idempotencyKey;
        if (h.requestId !== undefined) out['X-Request-Id'] = h.requestId;
        if (h.forwardedFor !== undefined) out['X-Forwarded-For'] = h.forwardedFor;
        if (h.accept !== undefined) out.Accept = h.accept;
        return { headers: out, compress: h.compress };
      });
  }

  function compressed(body: Buffer, encoding: string | undefined): Buffer {
    switch (encoding?.toLowerCase()) {
      case 'gzip':
        return gzipSync(body);
      case 'deflate':
        return deflateSync(body);
      case 'br':
        return brotliCompressSync(body);
      default:
        return body;
    }
  }

  const printable = (r: GeneratedRequest): GeneratedRequest =>
    // fast-check prints a failing request this way (long paths and bodies cut).
    Object.assign(r, { [fc.toStringMethod]: () => describeRequest(r) });

  /** Requests to any route mixing every kind of bad input, plus requests that are right but for one NUL. */
  function requests(): fc.Arbitrary<GeneratedRequest> {
    return fc.oneof(
      { weight: 6, arbitrary: wildRequests() },
      { weight: 2, arbitrary: oneNulRequests() },
      { weight: 2, arbitrary: changeSetRequests() },
    );
  }

  /**
   * Well-formed requests for change sets on Alice's active workspace, with valid and near-valid
   * bodies: they reach the plan, the idempotency checks, "Airtable" (which refuses: 409) and, when
   * valid, Postgres and Temporal (202, a job that never runs).
   */
  function changeSetRequests(): fc.Arbitrary<GeneratedRequest> {
    return fc
      .record({
        body: fc.oneof(
          { weight: 1, arbitrary: validBodies('changes') },
          { weight: 3, arbitrary: nearValid('changes') },
        ),
        idempotencyKey: fc.option(
          fc.nat({ max: 20 }).map((n) => `key-${n}`),
          { nil: undefined },
        ),
      })
      .map((g) => {
        const bodyText = JSON.stringify(g.body) ?? 'null';
        return printable({
          route: 'changes',
          method: 'POST',
          path: `/api/v1/workspaces/${activeId}/changes`,
          headers: {
            Authorization: `Bearer ${alice.accessToken}`,
            'Content-Type': 'application/json',
            ...(g.idempotencyKey ? { 'Idempotency-Key': g.idempotencyKey } : {}),
          },
          body: Buffer.from(bodyText),
          bodyText,
        });
      });
  }

  /**
   * A request that would succeed (or fail on the workspace's state) but for one NUL: in the value
   * of a body field (an e-mail, a name, a cell of a change set) or in a path id.
   */
  function oneNulRequests(): fc.Arbitrary<GeneratedRequest> {
    const names = Object.keys(ROUTES) as RouteName[];
    return fc
      .record({
        route: fc.constantFrom(...names),
        inPath: fc.boolean(),
        ws: fc.constantFrom(activeId, provisioningId),
        job: fc.constant(provisioningJobId),
        at: fc.nat(),
        bodies: fc.record({
          register: withNul(validBodies('register'), true),
          login: withNul(validBodies('login'), true),
          refresh: withNul(validBodies('refresh'), true),
          workspace: withNul(validBodies('workspace'), true),
          changes: withNul(validBodies('changes'), true),
        }),
      })
      .map((g) => {
        const spec = ROUTES[g.route];
        const kind: BodyKind | undefined = 'body' in spec ? spec.body : undefined;
        const hasId = spec.path.includes('{');
        const nulInPath = hasId && (g.inPath || !kind);
        const withNulAt = (id: string) =>
          nulInPath ? `${id.slice(0, g.at % (id.length + 1))}%00${id.slice(g.at % (id.length + 1))}` : id;
        // Routes with neither a path id nor a body get the NUL in their query.
        const path =
          spec.path.replace('{ws}', withNulAt(g.ws)).replace('{job}', withNulAt(g.job)) +
          (hasId || kind ? '' : '?q=a%00b');
        // With the NUL in the path, the body is valid: the active workspace's change set must still be refused.
        const body = kind
          ? nulInPath
            ? kind === 'changes'
              ? { steps: [{ table: 'Tasks', action: 'create', records: [{ fields: { Name: 'ok' } }] }] }
              : g.bodies[kind]
            : g.bodies[kind]
          : undefined;
        const bodyText = body === undefined ? undefined : JSON.stringify(body);
        return printable({
          route: g.route,
          method: spec.method,
          path,
          headers: { Authorization: `Bearer ${alice.accessToken}`, 'Content-Type': 'application/json' },
          body: bodyText === undefined ? undefined : Buffer.from(bodyText),
          bodyText,
        });
      });
  }

  function wildRequests(): fc.Arbitrary<GeneratedRequest> {
    const names = Object.keys(ROUTES) as RouteName[];
    const target = fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom(...names) },
      { weight: 1, arbitrary: fc.constant('unknown' as const) },
    );
    return fc
      .record({
        route: target,
        unknownPath: fc.constantFrom(...UNKNOWN_PATHS),
        otherMethod: fc.oneof(
          { weight: 4, arbitrary: fc.constant(undefined) },
          { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
        ),
        ws: pathId('workspace'),
        job: pathId('job'),
        query,
        headers: headers(),
        bodies: fc.record({
          register: bodyFor('register'),
          login: bodyFor('login'),
          refresh: bodyFor('refresh'),
          workspace: bodyFor('workspace'),
          changes: bodyFor('changes'),
          none: bodyFor(undefined),
        }),
      })
      .map((g) => {
        const spec = g.route === 'unknown' ? undefined : ROUTES[g.route];
        const method = g.otherMethod ?? ((spec?.method ?? 'GET') as GeneratedRequest['method']);
        const template = spec?.path ?? g.unknownPath;
        const kind: BodyKind | undefined = spec && 'body' in spec ? spec.body : undefined;
        const headers = { ...g.headers.headers };
        let body = kind ? g.bodies[kind] : g.bodies.none;
        const bodyText = body && body.length <= 2_000 ? body.toString() : body && `<${body.length} bytes>`;
        if (body && g.headers.compress) body = compressed(body, headers['Content-Encoding']);
        const path = template.replace('{ws}', g.ws).replace('{job}', g.job) + g.query;
        return printable({ route: g.route, method, path, headers, body, bodyText });
      });
  }

  // ---------------------------------------------------------------------------------------------
  // Checks
  // ---------------------------------------------------------------------------------------------

  function describeRequest(r: GeneratedRequest): string {
    const cut = (s: string, n = 300) => (s.length > n ? `${s.slice(0, n)}…(${s.length} chars)` : s);
    return [
      `${r.method} ${cut(r.path)}`,
      ...Object.entries(r.headers).map(([k, v]) => `${k}: ${cut(JSON.stringify(v), 120)}`),
      r.bodyText === undefined ? '(no body)' : `body: ${cut(JSON.stringify(r.bodyText))}`,
    ].join('\n  ');
  }

  /** The contract's error shape: `{"error":{"code","message","details"?}}` and nothing else. */
  function errorShapeProblem(
    status: number,
    contentType: string | undefined,
    text: string,
  ): string | undefined {
    if (!/^application\/json\b/.test(contentType ?? '')) return `${status} with Content-Type ${contentType}`;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return `${status} whose body is not JSON: ${text.slice(0, 200)}`;
    }
    const error = (body as { error?: Record<string, unknown> } | null)?.error;
    const ok =
      body !== null &&
      typeof body === 'object' &&
      Object.keys(body).length === 1 &&
      error !== null &&
      typeof error === 'object' &&
      typeof error.code === 'string' &&
      error.code.length > 0 &&
      typeof error.message === 'string' &&
      Object.keys(error).every((k) => ['code', 'message', 'details'].includes(k));
    return ok ? undefined : `${status} not in the error shape: ${text.slice(0, 300)}`;
  }

  async function send(r: GeneratedRequest): Promise<{ status: number; contentType?: string; text: string }> {
    const method = r.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete' | 'head' | 'options';
    let test = request(server)[method](r.path).redirects(0).timeout({ response: 20_000, deadline: 30_000 });
    test = test.buffer(true).parse((res, callback) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => callback(null, Buffer.concat(chunks).toString('utf8')));
    });
    for (const [name, value] of Object.entries(r.headers)) test = test.set(name, value);
    // Bytes as generated: without an identity serializer, superagent would JSON.stringify a Buffer
    // whenever the Content-Type says JSON.
    if (r.body && r.method !== 'HEAD') test = test.serialize((b: unknown) => b as string).send(r.body);
    const res = await test.ok(() => true);
    return { status: res.status, contentType: res.headers['content-type'], text: (res.body as string) ?? '' };
  }

  async function check(r: GeneratedRequest): Promise<void> {
    const key = `${r.method} ${r.route}`;
    coverage.set(key, (coverage.get(key) ?? 0) + 1);
    const res = await send(r);
    const fail = (why: string) => {
      throw new Error(
        `${why}\nrequest:\n  ${describeRequest(r)}\nanswer: ${res.status} ${res.text.slice(0, 300)}`,
      );
    };
    const code = /"code":"([^"]*)"/.exec(res.text)?.[1] ?? '';
    outcomes.set(`${res.status} ${code}`.trim(), (outcomes.get(`${res.status} ${code}`.trim()) ?? 0) + 1);
    if (res.status >= 500) fail(`answered ${res.status}`);
    if (res.status >= 400 && r.method !== 'HEAD') {
      const problem = errorShapeProblem(res.status, res.contentType, res.text);
      if (problem) fail(problem);
    }
    if (res.status >= 400 && r.method === 'HEAD' && !/^application\/json\b/.test(res.contentType ?? ''))
      fail(`HEAD ${res.status} with Content-Type ${res.contentType}`);
    const after = await countJobs();
    if (after !== jobs) {
      if (res.status >= 300) fail(`a refused request (${res.status}) recorded ${after - jobs} job(s)`);
      acceptedJobStarts += after - jobs;
      jobs = after;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Raw sockets: what an HTTP client will not send
  // ---------------------------------------------------------------------------------------------

  const CRLF = '\r\n';
  type RawCase = { name: string; bytes: Buffer };

  function rawRequests(): fc.Arbitrary<RawCase> {
    const names = Object.keys(ROUTES) as RouteName[];
    return fc
      .record({
        route: fc.constantFrom(...names),
        ws: fc.constantFrom(provisioningId, activeId, bobWorkspaceId, 'x'),
        job: fc.constantFrom(provisioningJobId, bobJobId, 'x'),
        kind: fc.constantFrom(
          'nul-in-path',
          'space-in-path',
          'control-in-path',
          'utf8-in-path',
          'bad-method',
          'bad-version',
          'huge-header',
          'huge-url',
          'many-headers',
          'bad-header-name',
          'nul-in-header',
          'header-without-colon',
          'obs-fold',
          'cl-and-te',
          'two-content-lengths',
          'bad-content-length',
          'bad-chunk',
          'bare-lf',
          'garbage',
          'nul-in-body',
          'absolute-form',
          'http-1.0',
        ),
        garbage: fc.uint8Array({ minLength: 1, maxLength: 200 }),
        text: fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }),
        size: fc.integer({ min: 17_000, max: 70_000 }),
      })
      .map((g) => {
        const spec = ROUTES[g.route];
        const path = spec.path.replace('{ws}', g.ws).replace('{job}', g.job);
        const auth = `Authorization: Bearer ${alice.accessToken}`;
        const head = (line: string, extra: string[] = [], body = '') =>
          Buffer.concat([
            Buffer.from(
              [line, 'Host: 127.0.0.1', 'Connection: close', auth, ...extra].join(CRLF) + CRLF + CRLF,
              'latin1',
            ),
            Buffer.from(body),
          ]);
        const json = '{"email":"a@example.com","password":"12345678"}';
        const withBody = (extra: string[]) => head(`POST ${path} HTTP/1.1`, extra, json);
        let bytes: Buffer;
        switch (g.kind) {
          case 'nul-in-path':
            bytes = head(`${spec.method} ${path}\u0000${g.text} HTTP/1.1`);
            break;
          case 'space-in-path':
            bytes = head(`${spec.method} ${path} x HTTP/1.1`);
            break;
          case 'control-in-path':
            bytes = head(`${spec.method} ${path}\u0001\u007f HTTP/1.1`);
            break;
          case 'utf8-in-path':
            bytes = Buffer.concat([
              Buffer.from(`${spec.method} ${path}`),
              // Raw UTF-8 bytes, but no whitespace or control character (those are other cases).
              Buffer.from(
                [...g.text].map((c) => (/\s/.test(c) || c.charCodeAt(0) < 0x20 ? 'x' : c)).join(''),
                'utf8',
              ),
              Buffer.from(` HTTP/1.1${CRLF}Host: x${CRLF}Connection: close${CRLF}${auth}${CRLF}${CRLF}`),
            ]);
            break;
          case 'bad-method':
            bytes = head(`${g.text.replace(/[\s]/g, '')}X ${path} HTTP/1.1`);
            break;
          case 'bad-version':
            bytes = head(`${spec.method} ${path} HTTP/9.${g.text.length}`);
            break;
          case 'huge-header':
            bytes = head(`${spec.method} ${path} HTTP/1.1`, [`X-Pad: ${'a'.repeat(g.size)}`]);
            break;
          case 'huge-url':
            bytes = head(`${spec.method} ${path}/${'a'.repeat(g.size)} HTTP/1.1`);
            break;
          case 'many-headers':
            bytes = head(
              `${spec.method} ${path} HTTP/1.1`,
              Array.from({ length: Math.ceil(g.size / 20) }, (_, i) => `X-H${i}: ${'v'.repeat(12)}`),
            );
            break;
          case 'bad-header-name':
            bytes = head(`${spec.method} ${path} HTTP/1.1`, [`Bad Header(${g.text.length}): x`]);
            break;
          case 'nul-in-header':
            bytes = head(`${spec.method} ${path} HTTP/1.1`, [`Idempotency-Key: a\u0000b`]);
            break;
          case 'header-without-colon':
            bytes = head(`${spec.method} ${path} HTTP/1.1`, ['JustAHeader']);
            break;
          case 'obs-fold':
            bytes = head(`${spec.method} ${path} HTTP/1.1`, ['X-Folded: a', ' b']);
            break;
          case 'cl-and-te':
            bytes = withBody([`Content-Length: ${json.length}`, 'Transfer-Encoding: chunked']);
            break;
          case 'two-content-lengths':
            bytes = withBody([`Content-Length: ${json.length}`, `Content-Length: ${json.length + 1}`]);
            break;
          case 'bad-content-length':
            bytes = withBody(['Content-Length: 4x']);
            break;
          case 'bad-chunk':
            bytes = head(
              `POST ${path} HTTP/1.1`,
              ['Transfer-Encoding: chunked', 'Content-Type: application/json'],
              `zz${CRLF}{}${CRLF}0${CRLF}${CRLF}`,
            );
            break;
          case 'bare-lf':
            bytes = Buffer.from(`${spec.method} ${path} HTTP/1.1\nHost: x\nConnection: close\n\n`);
            break;
          case 'garbage':
            bytes = Buffer.concat([Buffer.from(g.garbage), Buffer.from(CRLF + CRLF)]);
            break;
          case 'nul-in-body': {
            const body = JSON.stringify({ email: `a\u0000${g.text}@example.com`, password: '12345678' });
            bytes = head(
              `POST ${path} HTTP/1.1`,
              ['Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`],
              body,
            );
            break;
          }
          case 'absolute-form':
            bytes = head(`${spec.method} http://127.0.0.1${path}%ZZ HTTP/1.1`);
            break;
          case 'http-1.0':
            bytes = Buffer.from(`${spec.method} ${path}%E0%A4%A HTTP/1.0${CRLF}${CRLF}`);
            break;
        }
        const name = `${g.kind} ${spec.method} ${path}`;
        return Object.assign({ name, bytes }, { [fc.toStringMethod]: () => `${name}: ${showBytes(bytes)}` });
      });
  }

  function showBytes(bytes: Buffer): string {
    const text = JSON.stringify(bytes.toString('latin1'));
    return text.length > 400 ? `${text.slice(0, 400)}…(${bytes.length} bytes)` : text;
  }

  /** Sends raw bytes and reads the answer until the server closes the connection. */
  function sendRaw(bytes: Buffer): Promise<Buffer> {
    const { port } = server.address() as AddressInfo;
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      const chunks: Buffer[] = [];
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('no answer within 5 s'));
      }, 5_000);
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', () => {
        // A reset after the answer was read is fine; the checks below judge what arrived.
      });
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks));
      });
      // Not end(): Node's server drops a request whose client half-closed before it was answered.
      socket.write(bytes);
    });
  }

  function parseRaw(answer: Buffer): { status: number; contentType?: string; text: string } | undefined {
    const text = answer.toString('latin1');
    const end = text.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3}) /.exec(statusLine ?? '')?.[1]);
    if (!status) return undefined;
    const header = (name: string) =>
      lines
        .find((l) => l.toLowerCase().startsWith(`${name}:`))
        ?.slice(name.length + 1)
        .trim();
    const length = Number(header('content-length') ?? NaN);
    const body = answer.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
    return {
      status,
      contentType: header('content-type'),
      text: (Number.isFinite(length) ? body.subarray(0, length) : body).toString('utf8'),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // The properties
  // ---------------------------------------------------------------------------------------------

  it(`answers ${HTTP_RUNS} generated requests with 4xx JSON errors, never 5xx, starting nothing (seed ${SEED})`, async () => {
    console.log(
      `bad-input: seed ${SEED} (replay with BAD_INPUT_SEED=${SEED}), ${HTTP_RUNS} supertest + ${RAW_RUNS} raw-socket requests`,
    );
    await fc.assert(fc.asyncProperty(requests(), check), {
      seed: SEED,
      numRuns: HTTP_RUNS,
      path: REPLAY_PATH,
      endOnFailure: true,
    });

    // Every route was exercised, with its own method and with others.
    const missing = Object.entries(ROUTES)
      .filter(([name, spec]) => (coverage.get(`${spec.method} ${name}`) ?? 0) < (REPLAY_PATH ? 0 : 20))
      .map(([name]) => name);
    expect(missing).toEqual([]);
    const wrongMethods = [...coverage]
      .filter(([key]) => {
        const [method, name] = key.split(' ') as [string, string];
        return name !== 'unknown' && ROUTES[name as RouteName].method !== method;
      })
      .reduce((n, [, count]) => n + count, 0);
    if (!REPLAY_PATH) {
      expect(wrongMethods).toBeGreaterThan(50);
      expect(
        [...coverage].filter(([k]) => k.endsWith(' unknown')).reduce((n, [, c]) => n + c, 0),
      ).toBeGreaterThan(20);
    }
    const summary = [...outcomes].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k}: ${n}`);
    console.log(
      `bad-input: ${acceptedJobStarts} valid request(s) started a job, as they may; answers:\n  ${summary.join('\n  ')}`,
    );
  });

  it(`answers ${RAW_RUNS} malformed raw HTTP requests with JSON errors (seed ${SEED})`, async () => {
    await fc.assert(
      fc.asyncProperty(rawRequests(), async ({ name, bytes }) => {
        coverage.set('raw', (coverage.get('raw') ?? 0) + 1);
        const answer = await sendRaw(bytes);
        const res = parseRaw(answer);
        const shown = answer.toString('latin1').slice(0, 400);
        if (!res) throw new Error(`${name}: no HTTP answer: ${JSON.stringify(shown)}`);
        const kind = name.split(' ')[0]!;
        rawOutcomes.set(`${kind} ${res.status}`, (rawOutcomes.get(`${kind} ${res.status}`) ?? 0) + 1);
        if (res.status >= 500) throw new Error(`${name}: answered ${res.status}: ${shown}`);
        if (res.status >= 400) {
          const problem = errorShapeProblem(res.status, res.contentType, res.text);
          if (problem) throw new Error(`${name}: ${problem}`);
        }
        const after = await countJobs();
        if (after !== jobs && res.status >= 300) throw new Error(`${name}: a refused request recorded a job`);
        jobs = after;
      }),
      { seed: SEED, numRuns: RAW_RUNS, endOnFailure: true },
    );
    console.log(
      `bad-input raw answers: ${[...rawOutcomes]
        .sort()
        .map(([k, n]) => `${k}: ${n}`)
        .join(', ')}`,
    );
  });

  it('is healthy afterwards, and only valid requests started workflows', async () => {
    const health = await request(server).get('/healthz').expect(200);
    expect(health.body).toEqual({ status: 'ok' });
    // Alice's login was never given to the auth routes: her token still works.
    const auth = alice.auth;
    expect((await request(server).get('/api/v1/users/me').set(auth).expect(200)).body.id).toBe(alice.userId);
    const list = await request(server).get('/api/v1/workspaces').set(auth).expect(200);
    expect(list.body.workspaces.map((w: { id: string }) => w.id)).toEqual(
      expect.arrayContaining([provisioningId, activeId]),
    );
    await request(server).get(`/api/v1/workspaces/${activeId}`).set(auth).expect(200);

    // Temporal agrees: the workflows on this API's task queue are exactly the jobs valid requests recorded.
    const { rows } = await ctx.pool.query<{ id: string }>(
      `SELECT id FROM jobs WHERE user_id = ANY($1::uuid[]) AND status <> 'abandoned' ORDER BY id`,
      [[alice.userId, bob.userId, carol.userId]],
    );
    const expected = rows.map((r) => r.id);
    expect(expected.length).toBe(1 + acceptedJobStarts);
    await eventually(async () => {
      const started: string[] = [];
      for await (const wf of ctx.client.workflow.list({ query: `TaskQueue="${taskQueue}"` }))
        started.push(wf.workflowId);
      started.sort();
      return JSON.stringify(started) === JSON.stringify(expected) ? true : undefined;
    }, 15_000);
  });
});

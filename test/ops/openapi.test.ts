import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { Express } from 'express';
import request from 'supertest';
import { mountedRoutes, openApiPath } from '../../api/openapi';
import {
  createTestApi,
  createTestContext,
  registerUser,
  uniqueTaskQueue,
  type TestContext,
} from '../support/helpers';

// The OpenAPI document is generated from the zod schemas the routes validate with; these tests hold
// it to the app: every mounted route is documented (and nothing else), the document is valid
// OpenAPI 3.1, the documented auth is the real one, and real answers match the documented ones.

type Operation = {
  security?: Array<Record<string, string[]>>;
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
};
type Document = { openapi: string; paths: Record<string, Record<string, Operation>> };

describe('OpenAPI document', () => {
  let ctx: TestContext;
  let app: Express;
  let doc: Document;

  beforeAll(async () => {
    ctx = await createTestContext();
    app = createTestApi(ctx, uniqueTaskQueue('openapi'));
    const res = await request(app).get('/api/openapi.json').expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    doc = res.body as Document;
  });
  afterAll(() => ctx.close());

  it('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toBe('3.1.0');
    // @seriousme/openapi-schema-validator (the OpenAPI Initiative's 3.1 schemas) is ESM only: its CLI
    // runs it in a process of its own.
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'openapi-')), 'openapi.json');
    writeFileSync(file, JSON.stringify(doc));
    const cli = require.resolve('@seriousme/openapi-schema-validator/bin/validate-api-cli.js');
    const { stdout } = await promisify(execFile)(process.execPath, [cli, file]).catch(
      (err: { stdout?: string }) => ({ stdout: err.stdout ?? String(err) }),
    );
    const result = JSON.parse(stdout) as { valid: boolean; errors?: unknown };
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('documents every mounted route, and only those', () => {
    const mounted = mountedRoutes(app).map((r) => `${r.method.toUpperCase()} ${openApiPath(r.path)}`);
    expect(mounted.length).toBeGreaterThan(30);
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    expect(mounted.filter((r) => !documented.includes(r))).toEqual([]);
    expect(documented.filter((r) => !mounted.includes(r))).toEqual([]);
  });

  it('describes request bodies with the schemas the routes validate with', () => {
    const register = doc.paths['/api/v1/auth/register']!.post!;
    const body = register.requestBody!.content['application/json']!.schema as {
      properties: Record<string, { minLength?: number; format?: string }>;
      required: string[];
      additionalProperties: boolean;
    };
    expect(body.properties.password!.minLength).toBe(8);
    expect(body.properties.email!.format).toBe('email');
    expect(body.required).toEqual(expect.arrayContaining(['email', 'password']));
    expect(body.additionalProperties).toBe(false);
    const changes = doc.paths['/api/v1/workspaces/{id}/changes']!.post!;
    expect(JSON.stringify(changes.requestBody)).toContain('"upsert"');
  });

  it('documents every error with the one error shape', () => {
    for (const [p, ops] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(ops))
        for (const [status, answer] of Object.entries(op.responses))
          if (Number(status) >= 400 && `${method} ${p} ${status}` !== 'get /readyz 503')
            expect({
              at: `${method} ${p} ${status}`,
              schema: answer.content?.['application/json']?.schema,
            }).toEqual({
              at: `${method} ${p} ${status}`,
              schema: { $ref: '#/components/schemas/Error' },
            });
  });

  it('documents the auth each route really asks for', async () => {
    const checked: string[] = [];
    for (const [p, ops] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(ops)) {
        const url = p.replace(/\{[^}]+\}/g, () => randomUUID());
        const res = await request(app)[method as 'get'](url).send({});
        const needsToken = (op.security ?? []).length > 0;
        if (needsToken)
          expect({ route: `${method} ${p}`, status: res.status }).toEqual({
            route: `${method} ${p}`,
            status: 401,
          });
        else
          expect({ route: `${method} ${p}`, status: res.status }).not.toEqual({
            route: `${method} ${p}`,
            status: 401,
          });
        checked.push(`${method} ${p}`);
      }
    expect(checked.length).toBeGreaterThan(30);
  });

  it('answers as documented', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ ...doc, $id: 'openapi.json' } as object);
    const check = (method: string, p: string, status: number, body: unknown) => {
      const schema = doc.paths[p]?.[method]?.responses[String(status)]?.content?.['application/json']?.schema;
      expect({ at: `${method} ${p} ${status}`, documented: schema !== undefined }).toEqual({
        at: `${method} ${p} ${status}`,
        documented: true,
      });
      const pointer = `openapi.json#/paths/${p.replace(/~/g, '~0').replace(/\//g, '~1')}/${method}/responses/${status}/content/application~1json/schema`;
      const validate = ajv.getSchema(pointer)!;
      const ok = validate(body);
      expect({ at: `${method} ${p} ${status}`, errors: ok ? null : validate.errors }).toEqual({
        at: `${method} ${p} ${status}`,
        errors: null,
      });
    };

    const user = await registerUser(app);
    const registered = await request(app)
      .post('/api/v1/auth/register')
      .send({ email: `doc-${randomUUID()}@example.com`, password: 'a long password', name: 'Doc' })
      .expect(201);
    check('post', '/api/v1/auth/register', 201, registered.body);
    const login = await request(app)
      .post('/api/v1/auth/login')
      .send({ email: user.email, password: user.password })
      .expect(200);
    check('post', '/api/v1/auth/login', 200, login.body);
    check('get', '/api/v1/users/me', 200, (await request(app).get('/api/v1/users/me').set(user.auth)).body);
    const patched = await request(app)
      .patch('/api/v1/users/me')
      .set(user.auth)
      .send({ preferences: { timeZone: 'Europe/Paris' } })
      .expect(200);
    check('patch', '/api/v1/users/me', 200, patched.body);
    check(
      'get',
      '/api/v1/workspaces',
      200,
      (await request(app).get('/api/v1/workspaces').set(user.auth)).body,
    );
    check('get', '/healthz', 200, (await request(app).get('/healthz')).body);
    const invalid = await request(app).post('/api/v1/auth/register').send({ email: 'nope' }).expect(400);
    check('post', '/api/v1/auth/register', 400, invalid.body);
    const missing = await request(app).get(`/api/v1/jobs/${randomUUID()}`).set(user.auth).expect(404);
    check('get', '/api/v1/jobs/{id}', 404, missing.body);
    const unauthorized = await request(app).get('/api/v1/workspaces').expect(401);
    check('get', '/api/v1/workspaces', 401, unauthorized.body);
  });
});

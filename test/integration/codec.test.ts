import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { promisify } from 'node:util';
import type { Payload } from '@temporalio/common';
import request from 'supertest';
import {
  derivePayloadKey,
  ENCRYPTED_ENCODING,
  isEncrypted,
  PayloadEncryptionCodec,
  payloadWorkflowId,
  WORKFLOW_ID,
} from '../../temporal/codec';
import { TEST_ENV } from '../support/env';
import {
  createActiveWorkspace,
  registerUser,
  startTestPlatform,
  type TestPlatform,
} from '../support/helpers';
import { SMALL_BASE_ID, smallSeed } from '../support/seeds';

// Payloads are encrypted in Temporal's history (temporal/codec.ts), and the codec server
// (/codec/decode, /codec/encode) shows them decrypted to the right people only: the Temporal CLI
// with a user's access token sees that user's workflows in plain, nobody else's.

const TOKEN = 'patCodecTest.0123456789abcdef0123';
const CODEC_TOKEN = randomBytes(24).toString('base64url');
process.env.CODEC_TOKEN = CODEC_TOKEN;

const run = promisify(execFile);

describe('payload encryption and the codec server', () => {
  let platform: TestPlatform;
  let server: Server;
  let codecUrl: string;
  let workspaceId: string;
  let jobId: string;

  beforeAll(async () => {
    platform = await startTestPlatform({ name: 'codec', seed: smallSeed(), tokens: [TOKEN] });
    server = platform.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    codecUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/codec`;
    workspaceId = await createActiveWorkspace(platform.app, platform.user.auth, {
      baseId: SMALL_BASE_ID,
      token: TOKEN,
    });
    const { rows } = await platform.ctx.pool.query<{ id: string }>(
      `SELECT id FROM jobs WHERE workspace_id = $1 AND kind = 'workspace.provision'`,
      [workspaceId],
    );
    jobId = rows[0]!.id;
  }, 120_000);
  afterAll(async () => {
    delete process.env.CODEC_TOKEN;
    await new Promise((resolve) => server.close(resolve));
    await platform.close();
  });

  /**
   * `temporal workflow show` of the provisioning job (JSON output, with extra CLI arguments): the
   * output and, as text, every payload's data it shows (the CLI prints data base64-encoded).
   */
  async function show(...args: string[]): Promise<string> {
    const cli = process.env[TEST_ENV.temporalCli]!;
    const { stdout } = await run(
      cli,
      [
        'workflow',
        'show',
        '--workflow-id',
        jobId,
        '--address',
        platform.ctx.address,
        '--output',
        'json',
        ...args,
      ],
      { maxBuffer: 20_000_000 },
    );
    const shown: string[] = [];
    const visit = (value: unknown): void => {
      if (!value || typeof value !== 'object') return;
      const { metadata, data } = value as { metadata?: unknown; data?: unknown };
      if (metadata && typeof data === 'string') shown.push(Buffer.from(data, 'base64').toString('latin1'));
      else Object.values(value).forEach(visit);
    };
    visit(JSON.parse(stdout));
    return `${stdout}\n${shown.join('\n')}`;
  }

  /** Every payload of the job's raw history (as stored by Temporal, before any codec). */
  async function rawPayloads(): Promise<Payload[]> {
    const { history } = await platform.ctx.client.workflowService.getWorkflowExecutionHistory({
      namespace: 'default',
      execution: { workflowId: jobId },
    });
    const found: Payload[] = [];
    // Search attributes are payloads too, kept plain by Temporal to be searchable (ids, kinds); so
    // are the SDK's own markers (a patch's name), which hold nothing of the platform's.
    const visit = (value: unknown): void => {
      if (!value || typeof value !== 'object' || value instanceof Uint8Array) return;
      if ('metadata' in value && 'data' in value) found.push(value as Payload);
      else
        for (const [key, inner] of Object.entries(value))
          if (key !== 'searchAttributes' && key !== 'markerRecordedEventAttributes') visit(inner);
    };
    visit(history);
    return found;
  }

  it('keeps inputs, results and activity payloads as ciphertext in the history', async () => {
    const payloads = await rawPayloads();
    expect(payloads.length).toBeGreaterThan(5);
    for (const p of payloads) {
      expect(isEncrypted(p)).toBe(true);
      expect(payloadWorkflowId(p)).toBe(jobId);
      expect(Buffer.from(p.data!).toString('latin1')).not.toContain(SMALL_BASE_ID);
      expect(Buffer.from(p.data!).toString('latin1')).not.toContain(workspaceId);
    }
    // The job API, the platform's own client, reads them as before.
    const job = await request(platform.app).get(`/api/v1/jobs/${jobId}`).set(platform.user.auth).expect(200);
    expect(job.body.status).toBe('completed');
  });

  it('`temporal workflow show` shows no plaintext without the codec, and plain payloads with it', async () => {
    const without = await show();
    expect(without).toContain(jobId);
    expect(without).not.toContain(SMALL_BASE_ID); // claimWorkspace's result: { baseId }
    expect(without).toContain(Buffer.from(ENCRYPTED_ENCODING).toString('base64'));
    const decoded = await show(
      '--codec-endpoint',
      codecUrl,
      '--codec-auth',
      `Bearer ${platform.user.accessToken}`,
    );
    expect(decoded).toContain(SMALL_BASE_ID);
    expect(decoded).toContain(workspaceId);
  });

  it('does not decode another user’s workflows for them', async () => {
    const stranger = await registerUser(platform.app, 'Stranger');
    const theirs = await show('--codec-endpoint', codecUrl, '--codec-auth', `Bearer ${stranger.accessToken}`);
    expect(theirs).not.toContain(SMALL_BASE_ID);
    // Directly: the payload comes back as it was sent, still encrypted.
    const sealed = (await rawPayloads())[0]!;
    const wire = {
      metadata: Object.fromEntries(
        Object.entries(sealed.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')]),
      ),
      data: Buffer.from(sealed.data!).toString('base64'),
    };
    const res = await request(platform.app)
      .post('/codec/decode')
      .set(stranger.auth)
      .set('X-Namespace', 'default')
      .send({ payloads: [wire] })
      .expect(200);
    expect(res.body.payloads).toEqual([wire]);
    // Relabelled as a workflow of the stranger's own: the ciphertext is bound to its workflow id.
    const own = await createActiveWorkspace(platform.app, stranger.auth, {
      baseId: SMALL_BASE_ID,
      token: TOKEN,
    });
    const { rows } = await platform.ctx.pool.query<{ id: string }>(
      `SELECT id FROM jobs WHERE workspace_id = $1`,
      [own],
    );
    const relabelled = {
      ...wire,
      metadata: { ...wire.metadata, [WORKFLOW_ID]: Buffer.from(rows[0]!.id).toString('base64') },
    };
    const refused = await request(platform.app)
      .post('/codec/decode')
      .set(stranger.auth)
      .send({ payloads: [relabelled] })
      .expect(400);
    expect(JSON.stringify(refused.body)).not.toContain(SMALL_BASE_ID);
    // The owner decodes it.
    const mine = await request(platform.app)
      .post('/codec/decode')
      .set(platform.user.auth)
      .send({ payloads: [wire] })
      .expect(200);
    expect(mine.body.payloads[0].metadata.encoding).toBe(Buffer.from('json/plain').toString('base64'));
  });

  it('refuses callers without a valid token; the codec token decodes everything, also in the path', async () => {
    const sealed = (await rawPayloads()).map((p) => ({
      metadata: Object.fromEntries(
        Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')]),
      ),
      data: Buffer.from(p.data!).toString('base64'),
    }));
    await request(platform.app).post('/codec/decode').send({ payloads: sealed }).expect(401);
    await request(platform.app)
      .post('/codec/decode')
      .set('Authorization', 'Bearer not-a-token')
      .send({ payloads: sealed })
      .expect(401);
    await request(platform.app).post('/codec/t/wrong-token/decode').send({ payloads: sealed }).expect(401);
    for (const call of [
      request(platform.app).post('/codec/decode').set('Authorization', `Bearer ${CODEC_TOKEN}`),
      request(platform.app).post(`/codec/t/${CODEC_TOKEN}/decode`),
    ]) {
      const res = await call.send({ payloads: sealed }).expect(200);
      const text = res.body.payloads
        .map((p: { data: string }) => Buffer.from(p.data, 'base64').toString())
        .join('\n');
      expect(text).toContain(SMALL_BASE_ID);
    }
    // Payloads of another namespace are left alone.
    const other = await request(platform.app)
      .post('/codec/decode')
      .set('Authorization', `Bearer ${CODEC_TOKEN}`)
      .set('X-Namespace', 'someone-else')
      .send({ payloads: sealed })
      .expect(200);
    expect(other.body.payloads).toEqual(sealed);
  });

  it('encodes for the Web UI and the CLI, and passes unencrypted payloads through', async () => {
    const plain = {
      metadata: { encoding: Buffer.from('json/plain').toString('base64') },
      data: Buffer.from('{"hello":"world"}').toString('base64'),
    };
    const encoded = await request(platform.app)
      .post('/codec/encode')
      .set(platform.user.auth)
      .send({ payloads: [plain] })
      .expect(200);
    expect(encoded.body.payloads[0].metadata.encoding).toBe(
      Buffer.from(ENCRYPTED_ENCODING).toString('base64'),
    );
    expect(encoded.body.payloads[0].data).not.toBe(plain.data);
    const back = await request(platform.app)
      .post('/codec/decode')
      .set('Authorization', `Bearer ${CODEC_TOKEN}`)
      .send({ payloads: encoded.body.payloads })
      .expect(200);
    expect(back.body.payloads).toEqual([plain]);
    const passed = await request(platform.app)
      .post('/codec/decode')
      .set(platform.user.auth)
      .send({ payloads: [plain] })
      .expect(200);
    expect(passed.body.payloads).toEqual([plain]);
  });

  it('lets the Temporal Web UI’s origin call it (CORS)', async () => {
    const ok = await request(platform.app)
      .options('/codec/decode')
      .set('Origin', 'http://127.0.0.1:8233')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'content-type,x-namespace,authorization');
    expect(ok.status).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe('http://127.0.0.1:8233');
    expect(ok.headers['access-control-allow-headers']).toMatch(/X-Namespace/i);
    const evil = await request(platform.app)
      .options('/codec/decode')
      .set('Origin', 'https://evil.example')
      .set('Access-Control-Request-Method', 'POST');
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('rotates keys: payloads sealed with an older key still open; a missing key fails clearly', async () => {
    const old = derivePayloadKey(randomBytes(32));
    const next = { id: 'k2', key: randomBytes(32) };
    const payload: Payload = { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"x"') };
    const sealedOld = new PayloadEncryptionCodec([old]).encrypt(payload, 'wf-1');
    const rotated = new PayloadEncryptionCodec([next, old]);
    expect(Buffer.from(rotated.decrypt(sealedOld).data!).toString()).toBe('"x"');
    expect(Buffer.from(rotated.encrypt(payload).metadata!['encryption-key-id']!).toString()).toBe('k2');
    expect(() => new PayloadEncryptionCodec([next]).decrypt(sealedOld)).toThrow(/key "app-[0-9a-f]{8}"/);
  });
});

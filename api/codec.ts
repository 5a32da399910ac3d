import type { Payload } from '@temporalio/common';
import cors from 'cors';
import { Router, type Request, type RequestHandler } from 'express';
import { z } from 'zod';
import { ServiceError, unauthorized } from '../core/errors';
import { isEncrypted, payloadCodec, payloadWorkflowId, type PayloadEncryptionCodec } from '../temporal/codec';
import { CodecPayloads } from './answers';
import type { ApiDeps } from './context';
import { jsonBody } from './input-guards';
import { sameSecret } from './metrics';
import { documentRoutes } from './openapi';

/**
 * The codec server: Temporal's remote codec protocol, so the Web UI and the CLI show the platform's
 * encrypted payloads decrypted (`temporal workflow show --codec-endpoint …/codec --codec-auth
 * "Bearer <access token>"`; the Web UI with `--ui-codec-endpoint`).
 *
 * - `POST /codec/decode`, `POST /codec/encode`: `{payloads:[{metadata,data}]}` in and out, values
 *   base64 as the Web UI sends them.
 * - A caller with a platform access token decodes the payloads of the workflows (jobs) of the
 *   workspaces they own, and nothing else: each encrypted payload names its workflow in its
 *   metadata (bound to the ciphertext), the job row says which workspace, the workspace whose it
 *   is. Others' payloads come back as they were, still ciphertext (the protocol answers as many
 *   payloads as it was sent).
 * - A caller with the codec token (CODEC_TOKEN: operators, the local Web UI) decodes everything.
 *   The Web UI cannot send a header of its own, so the token may also be the path's last part
 *   before the operation: `/codec/t/<token>/decode` (what `npm start` gives the local Web UI).
 * - CORS allows the Web UI's origins (CODEC_CORS_ORIGINS; by default the local dev server's UI).
 * - `X-Namespace`, when sent, must be the platform's namespace; payloads of another are left alone.
 */

/** What the codec server needs besides the API's services. */
export interface CodecServerOptions {
  /** The operators' token; unset: access tokens only. @default CODEC_TOKEN */
  codecToken?: string;
  /** Origins allowed to call from a browser (the Temporal Web UI). @default CODEC_CORS_ORIGINS, else the local UI */
  corsOrigins?: string[];
  /** @default TEMPORAL_NAMESPACE or 'default' */
  namespace?: string;
  /** @default the process's codec */
  codec?: PayloadEncryptionCodec;
}

/** The codec server's settings from the environment. */
export function codecOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): {
  codecToken: string | undefined;
  corsOrigins: string[];
  namespace: string;
} {
  const uiPort = env.TEMPORAL_UI_PORT?.trim() || '8233';
  const origins = env.CODEC_CORS_ORIGINS?.trim()
    ? env.CODEC_CORS_ORIGINS.split(',')
        .map((o) => o.trim())
        .filter(Boolean)
    : [`http://127.0.0.1:${uiPort}`, `http://localhost:${uiPort}`];
  const token = env.CODEC_TOKEN?.trim() || undefined;
  if (token !== undefined && token.length < 24) throw new Error('CODEC_TOKEN must be at least 24 characters');
  return { codecToken: token, corsOrigins: origins, namespace: env.TEMPORAL_NAMESPACE?.trim() || 'default' };
}

const Body = z
  .object({
    payloads: z
      .array(
        z
          .object({
            metadata: z.record(z.string(), z.string().max(1_000_000)).optional(),
            data: z.string().optional(),
          })
          .loose(),
      )
      .max(10_000),
  })
  .loose();

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

type Caller = { kind: 'operator' } | { kind: 'user'; userId: string };

/** The payloads of the protocol (base64 strings) as the SDK's payloads (bytes), and back. */
function fromWire(payloads: z.output<typeof Body>['payloads']): Payload[] {
  return payloads.map((p, i) => {
    const metadata: Record<string, Uint8Array> = {};
    for (const [key, value] of Object.entries(p.metadata ?? {})) {
      if (!BASE64.test(value)) throw badPayload(i, `metadata.${key} is not base64`);
      metadata[key] = Buffer.from(value, 'base64');
    }
    if (p.data !== undefined && !BASE64.test(p.data)) throw badPayload(i, 'data is not base64');
    return { metadata, data: Buffer.from(p.data ?? '', 'base64') };
  });
}

function toWire(payloads: Payload[]): Array<{ metadata: Record<string, string>; data: string }> {
  return payloads.map((p) => ({
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [
        k,
        Buffer.from(v ?? new Uint8Array()).toString('base64'),
      ]),
    ),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  }));
}

function badPayload(index: number, message: string): ServiceError {
  return new ServiceError(400, 'validation_failed', 'Invalid codec request', [
    { path: `payloads.${index}`, message },
  ]);
}

/** `/codec/…`: mount before the general body parser (batches of payloads may be large). */
export function codecRouter(deps: ApiDeps, options: CodecServerOptions = {}): Router {
  const settings = { ...codecOptionsFromEnv(), ...options };
  const codec = options.codec ?? payloadCodec;
  const { sessions } = deps.services;
  const router = Router();

  router.use(
    cors({
      origin: settings.corsOrigins,
      methods: ['POST'],
      allowedHeaders: ['Content-Type', 'Authorization', 'X-Namespace'],
      credentials: true,
      maxAge: 600,
    }),
  );
  router.use(jsonBody('16mb'));

  /** Who calls: the codec token (header or path) makes an operator, an access token a user. */
  async function callerOf(req: Request): Promise<Caller> {
    const pathToken = req.params.token as string | undefined;
    const bearer = /^Bearer ([^\s]+)$/i.exec(req.get('authorization') ?? '')?.[1];
    if (
      settings.codecToken &&
      (sameSecret(pathToken, settings.codecToken) || sameSecret(bearer, settings.codecToken))
    )
      return { kind: 'operator' };
    if (pathToken !== undefined) throw unauthorized('Invalid codec token');
    const userId = bearer ? await sessions.authenticate(bearer) : undefined;
    if (!userId) throw unauthorized(bearer ? 'Invalid or expired access token' : 'Authentication required');
    return { kind: 'user', userId };
  }

  /** Of `workflowIds`, those that are jobs of workspaces `userId` owns. */
  async function ownedWorkflows(userId: string, workflowIds: string[]): Promise<Set<string>> {
    if (workflowIds.length === 0) return new Set();
    const { rows } = await deps.pool.query<{ id: string }>(
      `SELECT j.id FROM jobs j JOIN workspaces w ON w.id = j.workspace_id
       WHERE j.id = ANY($1::text[]) AND w.owner_id = $2`,
      [workflowIds, userId],
    );
    return new Set(rows.map((r) => r.id));
  }

  const decode: RequestHandler = async (req, res) => {
    const caller = await callerOf(req);
    const body = Body.safeParse(req.body);
    if (!body.success)
      throw new ServiceError(400, 'validation_failed', 'Expected {payloads:[{metadata,data}]}');
    const payloads = fromWire(body.data.payloads);
    // The CLI sends an empty X-Namespace: no namespace said.
    const namespace = req.get('X-Namespace') || undefined;
    const ours = namespace === undefined || namespace === settings.namespace;
    let allowed: (p: Payload) => boolean = () => ours;
    if (caller.kind === 'user') {
      const ids = [
        ...new Set(
          payloads
            .filter(isEncrypted)
            .map(payloadWorkflowId)
            .filter((id) => id !== undefined),
        ),
      ];
      const owned = await ownedWorkflows(caller.userId, ids);
      allowed = (p) => {
        const id = payloadWorkflowId(p);
        return ours && id !== undefined && owned.has(id);
      };
    }
    const decoded = payloads.map((p, i) => {
      if (!isEncrypted(p) || !allowed(p)) return p;
      try {
        return codec.decrypt(p);
      } catch (err) {
        throw badPayload(i, (err as Error).message);
      }
    });
    res.setHeader('Cache-Control', 'no-store');
    res.json({ payloads: toWire(decoded) });
  };

  const encode: RequestHandler = async (req, res) => {
    await callerOf(req);
    const body = Body.safeParse(req.body);
    if (!body.success)
      throw new ServiceError(400, 'validation_failed', 'Expected {payloads:[{metadata,data}]}');
    res.json({ payloads: toWire(fromWire(body.data.payloads).map((p) => codec.encrypt(p))) });
  };

  router.post('/decode', decode);
  router.post('/encode', encode);
  router.post('/t/:token/decode', decode);
  router.post('/t/:token/encode', encode);
  return router;
}

/** Masks the codec token of `/codec/t/<token>/…` in a URL that is about to be logged. */
export function maskCodecToken(url: string): string {
  return url.replace(/^(\/codec\/t\/)[^/?#]+/, '$1[redacted]');
}

const codecRoute = (path: string, summary: string, description: string) => ({
  method: 'post' as const,
  path,
  summary,
  description,
  auth: 'codec' as const,
  body: Body,
  headers: z.object({ 'X-Namespace': z.string().optional() }),
  answers: { 200: { description: 'The payloads, in the same order', schema: CodecPayloads } },
});

documentRoutes('/codec', 'Codec', [
  codecRoute(
    '/decode',
    'Decrypt payloads (Temporal remote codec)',
    'An access token decodes the payloads of its own workspaces’ workflows (others come back unchanged); ' +
      'the codec token decodes every payload.',
  ),
  codecRoute('/encode', 'Encrypt payloads (Temporal remote codec)', 'Payloads sealed with the current key.'),
  {
    ...codecRoute(
      '/t/:token/decode',
      'Decrypt payloads, the codec token in the path (for the Web UI, which sends no header)',
      'Like /codec/decode with the codec token.',
    ),
  },
  {
    ...codecRoute(
      '/t/:token/encode',
      'Encrypt payloads, the codec token in the path',
      'Like /codec/encode with the codec token.',
    ),
  },
]);

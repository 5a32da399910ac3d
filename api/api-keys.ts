import { Router, type Request } from 'express';
import { z } from 'zod';
import { notFound } from '../core/errors';
import { authenticate } from './auth';
import type { ApiDeps } from './context';
import { parseOrThrow } from './errors';
import { documentRoutes } from './openapi';

const WorkspaceId = z.uuid();
const CreateBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    scopes: z
      .array(z.enum(['read', 'write']))
      .min(1)
      .max(2)
      .refine((s) => s.includes('read'), { error: 'must include "read": ["read"] or ["read","write"]' }),
  })
  .strict();

/**
 * A workspace's API keys (`/api/v1/workspaces/:id/api-keys`), for MCP clients: created (the secret
 * is in this answer only), listed without secrets, revoked at once. The workspace's owner only.
 */
export function apiKeysRouter(deps: ApiDeps): Router {
  const { workspaces, apiKeys, sessions } = deps.services;
  const router = Router();
  const signedIn = authenticate(sessions);

  async function ownedWorkspace(req: Request) {
    const id = req.params.id as string;
    if (!WorkspaceId.safeParse(id).success) throw notFound('Workspace');
    return workspaces.owned(id, req.userId!);
  }

  router.post('/:id/api-keys', signedIn, async (req, res) => {
    const body = parseOrThrow(CreateBody, req.body);
    const workspace = await ownedWorkspace(req);
    const created = await apiKeys.create(workspace, req.userId!, body);
    res.setHeader('Cache-Control', 'no-store');
    res.status(201).json(created);
  });

  router.get('/:id/api-keys', signedIn, async (req, res) => {
    const workspace = await ownedWorkspace(req);
    res.json({ apiKeys: await apiKeys.list(workspace) });
  });

  router.delete('/:id/api-keys/:keyId', signedIn, async (req, res) => {
    const workspace = await ownedWorkspace(req);
    await apiKeys.revoke(workspace, req.params.keyId as string);
    res.status(204).end();
  });

  return router;
}

const ApiKeyAnswer = z.looseObject({
  id: z.string(),
  name: z.string(),
  scopes: z.array(z.enum(['read', 'write'])),
});

documentRoutes('/api/v1/workspaces', 'MCP', [
  {
    method: 'post',
    path: '/:id/api-keys',
    summary: 'Create a workspace API key for MCP clients (the secret is in this answer only)',
    params: { id: WorkspaceId },
    body: CreateBody,
    answers: {
      201: {
        description: 'The key and its secret',
        schema: z.object({ apiKey: ApiKeyAnswer, secret: z.string() }),
      },
    },
    errors: { 409: 'The workspace has too many active keys' },
  },
  {
    method: 'get',
    path: '/:id/api-keys',
    summary: 'The workspace’s API keys, without secrets',
    params: { id: WorkspaceId },
    answers: { 200: { description: 'The keys', schema: z.object({ apiKeys: z.array(ApiKeyAnswer) }) } },
  },
  {
    method: 'delete',
    path: '/:id/api-keys/:keyId',
    summary: 'Revoke a key at once',
    params: { id: WorkspaceId },
    answers: { 204: { description: 'Revoked' } },
  },
]);

import { Router } from 'express';
import { z } from 'zod';
import { notFound, ServiceError } from '../core/errors';
import { CHANGE_SET_LIMITS } from '../domain/change-sets/model';
import type { Workspace } from '../domain/workspaces/store';
import { authenticate } from './auth';
import type { ApiDeps } from './context';
import { parseOrThrow } from './errors';
import { JobRef, Workspace as WorkspaceAnswer, WorkspaceCreated, WorkspaceList } from './answers';
import { documentRoutes } from './openapi';

const CreateWorkspaceBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    airtable: z
      .object({
        baseId: z
          .string()
          .regex(/^app[A-Za-z0-9]{14}$/, { error: 'must be an Airtable base id (app + 14 characters)' }),
        token: z.string().trim().min(10).max(512),
      })
      .strict(),
  })
  .strict();
const WorkspaceId = z.uuid({ error: 'must be a workspace id' });

const Fields = z.record(z.string().min(1), z.unknown());
const ChangeSetBody = z
  .object({
    steps: z
      .array(
        z
          .object({
            table: z.string().trim().min(1),
            action: z.enum(['create', 'update', 'upsert', 'delete']),
            records: z.array(z.object({ id: z.string().optional(), fields: Fields.optional() }).strict()),
            fieldsToMergeOn: z.array(z.string().min(1)).optional(),
            typecast: z.boolean().optional(),
          })
          .strict(),
      )
      .min(1, { error: 'A change set needs at least one step' })
      .max(CHANGE_SET_LIMITS.maxSteps),
  })
  .strict();

/** Bodies of change sets may be larger than other requests: 10,000 records fit. */
export const CHANGE_SET_BODY_LIMIT = '16mb';

/** The workspace as the API shows it: never the token. */
export function presentWorkspace(w: Workspace) {
  return {
    id: w.id,
    name: w.name,
    status: w.status,
    ...(w.error ? { error: w.error } : {}),
    airtable: { baseId: w.airtableBaseId },
    settings: { approvalPolicy: w.approvalPolicy, monthlyBudgetUsd: w.monthlyBudgetUsd, model: w.model },
    createdAt: w.createdAt,
    updatedAt: w.updatedAt,
  };
}

/** Workspaces: create (provisioning saga), list, get, delete (deprovisioning), and their change sets. */
export function workspacesRouter(deps: ApiDeps): Router {
  const { workspaces, changeSets, sessions } = deps.services;
  const router = Router();
  router.use(authenticate(sessions));

  /** The caller's workspace; a malformed id is as missing as another user's workspace. */
  async function owned(id: string, userId: string) {
    if (!WorkspaceId.safeParse(id).success) throw notFound('Workspace');
    return workspaces.owned(id, userId);
  }

  router.post('/', async (req, res) => {
    const body = parseOrThrow(CreateWorkspaceBody, req.body);
    const { workspace, jobId } = await workspaces.create({ ownerId: req.userId!, ...body });
    res.status(202).json({
      workspace: { id: workspace.id, name: workspace.name, status: workspace.status },
      job: { id: jobId },
    });
  });

  router.get('/', async (req, res) => {
    const list = await workspaces.list(req.userId!);
    res.json({ workspaces: list.map(presentWorkspace) });
  });

  router.get('/:id', async (req, res) => {
    res.json(presentWorkspace(await owned(req.params.id as string, req.userId!)));
  });

  router.post('/:id/changes', async (req, res) => {
    const workspace = await owned(req.params.id as string, req.userId!);
    const idempotencyKey = req.get('Idempotency-Key');
    if (idempotencyKey !== undefined && !/^[\x21-\x7e]{1,200}$/.test(idempotencyKey))
      throw new ServiceError(
        400,
        'invalid_idempotency_key',
        'Idempotency-Key must be 1 to 200 visible ASCII characters',
      );
    const { steps } = parseOrThrow(ChangeSetBody, req.body);
    const { jobId, existing } = await changeSets.submit({
      workspace,
      userId: req.userId!,
      steps,
      idempotencyKey,
    });
    res.status(existing ? 200 : 202).json({ job: { id: jobId } });
  });

  router.delete('/:id', async (req, res) => {
    const workspace = await owned(req.params.id as string, req.userId!);
    const { jobId } = await workspaces.remove(workspace, req.userId!);
    res.status(202).json({ job: { id: jobId } });
  });

  return router;
}

documentRoutes('/api/v1/workspaces', 'Workspaces', [
  {
    method: 'post',
    path: '/',
    summary: 'Create a workspace: its provisioning job checks the Airtable token and base',
    body: CreateWorkspaceBody,
    answers: { 202: { description: 'Provisioning started', schema: WorkspaceCreated } },
    errors: { 503: 'The workflow service is unavailable; nothing was started' },
  },
  {
    method: 'get',
    path: '/',
    summary: 'The caller’s workspaces',
    answers: { 200: { description: 'The workspaces', schema: WorkspaceList } },
  },
  {
    method: 'get',
    path: '/:id',
    summary: 'One workspace',
    params: { id: WorkspaceId },
    answers: { 200: { description: 'The workspace', schema: WorkspaceAnswer } },
  },
  {
    method: 'post',
    path: '/:id/changes',
    summary: 'Submit an all-or-nothing change set (up to 16 MB)',
    params: { id: WorkspaceId },
    headers: z.object({
      'Idempotency-Key': z
        .string()
        .regex(/^[\x21-\x7e]{1,200}$/)
        .optional()
        .meta({ description: 'Resubmitting with the same key answers the same job' }),
    }),
    body: ChangeSetBody,
    answers: {
      202: { description: 'The change set job started', schema: JobRef },
      200: { description: 'The same Idempotency-Key was used before: its job', schema: JobRef },
    },
    errors: {
      413: 'The body is too large',
      422: 'The Idempotency-Key was used with another change set, or the plan is invalid',
      503: 'The workflow service is unavailable; nothing was started',
    },
  },
  {
    method: 'delete',
    path: '/:id',
    summary: 'Deprovision the workspace (schedules removed, secrets erased, rows gone)',
    description:
      'The workspace is `deprovisioning` from the answer on: no new change set, conversation or sync is accepted for it. Repeating the call answers the same job.',
    params: { id: WorkspaceId },
    answers: { 202: { description: 'The deprovisioning job', schema: JobRef } },
    errors: {
      409: '`workspace_busy`: the workspace is still being provisioned',
      503: 'The workflow service is unavailable; nothing was started and the workspace is as it was',
    },
  },
]);

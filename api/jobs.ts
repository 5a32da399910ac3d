import { Router } from 'express';
import type { ApiDeps } from './context';
import { authenticate } from './auth';

/** `GET /api/v1/jobs/:id` and `POST /api/v1/jobs/:id/cancel`. */
export function jobsRouter(deps: ApiDeps): Router {
  const { jobs, sessions } = deps.services;
  const router = Router();
  router.use(authenticate(sessions));

  router.get('/:id', async (req, res) => {
    const job = await jobs.owned(req.params.id as string, req.userId!);
    res.json(await jobs.describe(job));
  });

  router.post('/:id/cancel', async (req, res) => {
    const job = await jobs.owned(req.params.id as string, req.userId!);
    await jobs.cancel(job);
    res.status(202).json({ job: { id: job.id, status: 'cancelling' } });
  });

  return router;
}

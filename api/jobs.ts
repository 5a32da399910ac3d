import { Router } from 'express';
import { z } from 'zod';
import { ServiceError } from '../core/errors';
import { formatJobCursor, jobEventReader, parseJobCursor } from '../domain/jobs/events';
import type { ApiDeps } from './context';
import { authenticate } from './auth';
import { requestedCursor, streamEvents } from './sse';
import { EventStreamText, Job, JobCancelling } from './answers';
import { documentRoutes } from './openapi';

/** `GET /api/v1/jobs/:id`, its events (`GET /api/v1/jobs/:id/events`) and `POST /api/v1/jobs/:id/cancel`. */
export function jobsRouter(deps: ApiDeps): Router {
  const { jobs, sessions } = deps.services;
  const router = Router();
  router.use(authenticate(sessions));

  router.get('/:id', async (req, res) => {
    const job = await jobs.owned(req.params.id as string, req.userId!);
    res.json(await jobs.describe(job));
  });

  router.get('/:id/events', async (req, res) => {
    const job = await jobs.owned(req.params.id as string, req.userId!);
    const from = parseJobCursor(requestedCursor(req));
    if (!from)
      throw new ServiceError(
        400,
        'invalid_cursor',
        'Last-Event-ID (or ?after=) must be an event id such as 0.12',
      );
    const reader = jobEventReader({ client: deps.temporalClient, jobs }, job, from);
    await streamEvents(req, res, {
      from: formatJobCursor(from),
      read: (_after, signal) => reader.read(signal),
      isFinal: (event) => event.type === 'ended',
      // Reads long-poll Temporal; an empty one means the job has not started yet.
      pollMs: 1_000,
    });
  });

  router.post('/:id/cancel', async (req, res) => {
    const job = await jobs.owned(req.params.id as string, req.userId!);
    await jobs.cancel(job);
    res.status(202).json({ job: { id: job.id, status: 'cancelling' } });
  });

  return router;
}

documentRoutes('/api/v1/jobs', 'Jobs', [
  {
    method: 'get',
    path: '/:id',
    summary: 'A job’s state, read from its workflow (progress while it runs)',
    answers: { 200: { description: 'The job', schema: Job } },
  },
  {
    method: 'get',
    path: '/:id/events',
    summary: 'Server-sent events of the job’s progress until it ends',
    description:
      'Events: `started`, `step_completed`, `step_failed`, `child_completed`, `child_failed`, ' +
      '`cancel_requested`, `progress` (the progress query after the events before it) and `ended` (the ' +
      'job as `GET /api/v1/jobs/{id}` answers it; the last event). Ids are places in the workflow’s ' +
      'history (`run.event`): reconnect with `Last-Event-ID` (or `?after=`) and nothing is missed.',
    headers: z.object({ 'Last-Event-ID': z.string().optional() }),
    query: z.object({ after: z.string().optional() }),
    answers: {
      200: { description: 'The event stream', schema: EventStreamText, contentType: 'text/event-stream' },
    },
  },
  {
    method: 'post',
    path: '/:id/cancel',
    summary: 'Cancel a running job (a change set then undoes what it applied)',
    answers: { 202: { description: 'Cancelling', schema: JobCancelling } },
    errors: { 409: 'The job is not running' },
  },
]);

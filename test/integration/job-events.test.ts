import type { Server } from 'node:http';
import request from 'supertest';
import { registerUser, startTestPlatform, type TestPlatform } from '../support/helpers';
import { SMALL_BASE_ID, smallSeed } from '../support/seeds';

// GET /api/v1/jobs/:id/events: server-sent events of a job's progress until it ends, read from the
// workflow's history; a client that reconnects with Last-Event-ID gets every later event.

const TOKEN = 'patJobEventsTest.0123456789abcdef';

interface Event {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

describe('job events', () => {
  let platform: TestPlatform;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    platform = await startTestPlatform({ name: 'job-events', seed: smallSeed(), tokens: [TOKEN] });
    server = platform.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await platform.close();
  });

  /** Reads the stream until it ends (or `timeoutMs`), returning its events. */
  async function read(
    jobId: string,
    headers: Record<string, string> = {},
    query = '',
    timeoutMs = 60_000,
  ): Promise<Event[]> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const res = await fetch(`${base}/api/v1/jobs/${jobId}/events${query}`, {
      headers: { ...platform.user.auth, ...headers },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events: Event[] = [];
    const decoder = new TextDecoder();
    let buffer = '';
    try {
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
      }
    } finally {
      clearTimeout(timer);
    }
    return events;
  }

  async function provision(name: string): Promise<string> {
    const created = await request(platform.app)
      .post('/api/v1/workspaces')
      .set(platform.user.auth)
      .send({ name, airtable: { baseId: SMALL_BASE_ID, token: TOKEN } })
      .expect(202);
    return created.body.job.id as string;
  }

  it('streams a job from its start to its end, then closes', async () => {
    const jobId = await provision('Events');
    const events = await read(jobId);
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('started');
    expect(types.at(-1)).toBe('ended');
    expect(types.filter((t) => t === 'ended')).toHaveLength(1);
    const steps = events.filter((e) => e.type === 'step_completed').map((e) => e.data.step);
    expect(steps).toEqual(expect.arrayContaining(['claimJob', 'verifyAirtableAccess']));
    const ended = events.at(-1)!.data;
    expect(ended).toMatchObject({ id: jobId, kind: 'workspace.provision', status: 'completed' });
    // The same answer as GET /api/v1/jobs/:id.
    const view = await request(platform.app).get(`/api/v1/jobs/${jobId}`).set(platform.user.auth).expect(200);
    expect(ended.status).toBe(view.body.status);
    // Ids are strictly increasing places in the history.
    const places = events
      .filter((e) => e.type !== 'progress')
      .map((e) => e.id.split('.').map(Number) as [number, number]);
    for (let i = 1; i < places.length; i++) {
      const [r0, e0] = places[i - 1]!;
      const [r1, e1] = places[i]!;
      expect(r1 > r0 || (r1 === r0 && e1 > e0)).toBe(true);
    }
  });

  it('sends a client reconnecting with Last-Event-ID every later event, and nothing before', async () => {
    const jobId = await provision('Reconnect');
    const all = (await read(jobId)).filter((e) => e.type !== 'progress');
    expect(all.length).toBeGreaterThanOrEqual(4);
    for (const cut of [0, 1, Math.floor(all.length / 2), all.length - 2]) {
      const resumed = (await read(jobId, { 'Last-Event-ID': all[cut]!.id })).filter(
        (e) => e.type !== 'progress',
      );
      expect(resumed.map((e) => `${e.id} ${e.type}`)).toEqual(
        all.slice(cut + 1).map((e) => `${e.id} ${e.type}`),
      );
    }
    // ?after= works like the header (for clients that cannot set it).
    const after = await read(jobId, {}, `?after=${encodeURIComponent(all[1]!.id)}`);
    expect(after.filter((e) => e.type !== 'progress').map((e) => e.id)).toEqual(
      all.slice(2).map((e) => e.id),
    );
  });

  it('follows a job live: events arrive while it runs', async () => {
    // Start reading before the job has done anything.
    const jobId = await provision('Live');
    const started = Date.now();
    const events = await read(jobId);
    expect(events.at(-1)!.type).toBe('ended');
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it('answers 404 for another user’s job, exactly as for a missing one, and 400 for a bad cursor', async () => {
    const jobId = await provision('Private');
    const stranger = await registerUser(platform.app, 'Stranger');
    const theirs = await request(platform.app)
      .get(`/api/v1/jobs/${jobId}/events`)
      .set(stranger.auth)
      .expect(404);
    const missing = await request(platform.app)
      .get('/api/v1/jobs/00000000-0000-4000-8000-000000000000/events')
      .set(stranger.auth)
      .expect(404);
    expect(theirs.body).toEqual(missing.body);
    await request(platform.app).get(`/api/v1/jobs/${jobId}/events`).expect(401);
    const bad = await request(platform.app)
      .get(`/api/v1/jobs/${jobId}/events`)
      .set({ ...platform.user.auth, 'Last-Event-ID': 'nonsense' })
      .expect(400);
    expect(bad.body.error.code).toBe('invalid_cursor');
  });
});

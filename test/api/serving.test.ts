import { AsyncLocalStorage } from 'node:async_hooks';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { oneRequestPerTurn } from '../../api/admission';
import { KEEP_ALIVE_TIMEOUT_MS, listen } from '../../api/http-server';

const execFileAsync = promisify(execFile);

/** Sends GET /?id=0…n-1 at once, each on a connection of its own, and prints the bodies as JSON. */
const BURST_CLIENT = `
const http = require('node:http');
const [port, n] = process.argv.slice(1).map(Number);
Promise.all(Array.from({ length: n }, (_, i) => new Promise((resolve, reject) => {
  http.get({ host: '127.0.0.1', port, path: '/?id=' + i, agent: false }, (res) => {
    let body = '';
    res.on('data', (c) => (body += c));
    res.on('end', () => resolve(body));
  }).on('error', reject);
}))).then((bodies) => console.log(JSON.stringify(bodies)));
`;

/** A GET over a connection of its own, answered with its body and headers. */
function get(port: number, path: string, headers: Record<string, string> = {}) {
  return new Promise<{ body: string; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ body, headers: res.headers }));
    });
    req.on('error', reject);
  });
}

describe('serving', () => {
  it('keeps idle connections longer than load balancers do, and says so to clients', async () => {
    const app = express();
    app.get('/', (_req, res) => void res.json({ ok: true }));
    const server = await listen(app, 0, '127.0.0.1');
    try {
      const { port } = server.address() as AddressInfo;
      const res = await get(port, '/', { Connection: 'keep-alive' });
      expect(res.headers['keep-alive']).toBe(`timeout=${KEEP_ALIVE_TIMEOUT_MS / 1000}`);
      expect(KEEP_ALIVE_TIMEOUT_MS).toBeGreaterThan(60_000);
      expect(server.headersTimeout).toBeGreaterThan(server.keepAliveTimeout);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('admits requests one per turn in arrival order, each in its own async context', async () => {
    const context = new AsyncLocalStorage<string>();
    const arrived: string[] = [];
    const admitted: Array<{ id: string; turn: number }> = [];
    // Counts turns of the event loop: an immediate that schedules the next.
    let turn = 0;
    let counting = true;
    const tick = () => {
      turn++;
      if (counting) setImmediate(tick);
    };
    setImmediate(tick);
    let held = false;
    const app = express();
    app.use((req, _res, next) => {
      const id = String(req.query.id);
      arrived.push(id);
      if (!held) {
        // The first request holds the process while the others arrive: a burst, all ready at once.
        held = true;
        const until = performance.now() + 300;
        while (performance.now() < until);
      }
      context.run(id, next);
    });
    app.use(oneRequestPerTurn());
    app.get('/', (req, res) => {
      admitted.push({ id: String(req.query.id), turn });
      res.json({ id: req.query.id, context: context.getStore() });
    });
    const server = await listen(app, 0, '127.0.0.1');
    try {
      const { port } = server.address() as AddressInfo;
      // From another process, so that the requests are sent while this one is held.
      const { stdout } = await execFileAsync(process.execPath, ['-e', BURST_CLIENT, String(port), '30']);
      const bodies = (JSON.parse(stdout) as string[]).map(
        (body) => JSON.parse(body) as { id: string; context: string },
      );
      // Each request ran in its own context, not in that of the request whose turn admitted it.
      for (const body of bodies) expect(body.context).toBe(body.id);
      expect(admitted.map((a) => a.id)).toEqual(arrived);
      // No two in the same turn, though most arrived in one.
      const turns = admitted.map((a) => a.turn);
      expect(new Set(turns).size).toBe(turns.length);
    } finally {
      counting = false;
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEMO_BASE_ID } from '../src';
import { BASE_ID, conformanceSeed } from './helpers';

const ROOT = path.resolve(__dirname, '../../..');

interface Started {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  url: string;
}

/** Runs the CLI as `npm run emulator:airtable` does and waits for its URL line. */
function startCli(args: string[]): Promise<Started> {
  const child = spawn(
    path.join(ROOT, 'node_modules/.bin/tsx'),
    [path.join(ROOT, 'emulators/airtable/src/main.ts'), ...args],
    { cwd: ROOT },
  );
  let output = '';
  child.stdout.on('data', (chunk) => (output += String(chunk)));
  child.stderr.on('data', (chunk) => (output += String(chunk)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL within 20 s:\n${output}`)), 20_000);
    const onData = () => {
      const match = /AIRTABLE_ENDPOINT_URL=(http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match && /Bases: /.test(output)) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolve({ child, output: () => output, url: match[1]! });
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}:\n${output}`));
    });
  });
}

function exitOf(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('CLI (npm run emulator:airtable)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airtable-emulator-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves a seed file with the given token, prints URL, token and bases, and stops on SIGTERM', async () => {
    const seedFile = path.join(dir, 'seed.json');
    writeFileSync(seedFile, JSON.stringify(conformanceSeed()));
    const persistFile = path.join(dir, 'state.json');
    const { child, output, url } = await startCli([
      '--port',
      '0',
      '--token',
      'patCliToken000001.x',
      '--seed',
      seedFile,
      '--no-limits',
      '--latency',
      '1-3',
      '--persist',
      persistFile,
    ]);
    try {
      expect(output()).toContain(`Airtable emulator listening on ${url}`);
      expect(output()).toContain('AIRTABLE_TOKEN=patCliToken000001.x');
      expect(output()).toContain(`Bases: ${BASE_ID}`);
      const answer = await fetch(`${url}/v0/${BASE_ID}/Tasks`, {
        headers: { Authorization: 'Bearer patCliToken000001.x' },
      });
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { records: unknown[] }).records).toHaveLength(3);
      // --no-limits: a burst far over 5/s goes through.
      const burst = await Promise.all(
        Array.from({ length: 12 }, () =>
          fetch(`${url}/v0/meta/bases`, { headers: { Authorization: 'Bearer patCliToken000001.x' } }),
        ),
      );
      expect(burst.every((r) => r.status === 200)).toBe(true);
    } finally {
      const exited = exitOf(child);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
    expect(output()).toContain('Airtable emulator stopped (SIGTERM)');
    expect(existsSync(persistFile)).toBe(true);
  });

  it('serves the demo base with a generated token and real limits by default, and stops on SIGINT', async () => {
    const { child, output, url } = await startCli(['--port', '0']);
    try {
      const token = /AIRTABLE_TOKEN=(pat[A-Za-z0-9]{14}\.[0-9a-f]{64})/.exec(output())?.[1];
      expect(token).toBeDefined();
      expect(output()).toContain(`Bases: ${DEMO_BASE_ID}`);
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        statuses.push(
          (
            await fetch(`${url}/v0/${DEMO_BASE_ID}/Tasks?maxRecords=1`, {
              headers: { Authorization: `Bearer ${token}` },
            })
          ).status,
        );
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    } finally {
      const exited = exitOf(child);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    }
  });

  it('exits with status 2 on an unknown argument', async () => {
    const child = spawn(
      path.join(ROOT, 'node_modules/.bin/tsx'),
      [path.join(ROOT, 'emulators/airtable/src/main.ts'), '--bogus'],
      { cwd: ROOT },
    );
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    expect(await exitOf(child)).toBe(2);
    expect(stderr).toContain('unknown argument --bogus');
  });
});

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EmulatorSeed } from '@airtable-ops/airtable-emulator';
import { freePort } from '../temporal/dev-server';

/** The Airtable emulator in a process of its own, so a benchmark's figures are the client's alone. */
export interface EmulatorProcess {
  url: string;
  stop(): void;
}

/**
 * Starts `emulators/airtable/src/main.ts` with real limits, `seed`, `token` and a latency range like
 * `100-250`, at a higher scheduling priority than the benchmark's own processes.
 */
export async function startEmulatorProcess(options: {
  seed: EmulatorSeed;
  token: string;
  latency: string;
}): Promise<EmulatorProcess> {
  const seedFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'bench-seed-')), 'seed.json');
  writeFileSync(seedFile, JSON.stringify(options.seed));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const root = path.join(__dirname, '..');
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(root, 'emulators/airtable/src/main.ts'),
      '--port',
      String(port),
      '--token',
      options.token,
      '--seed',
      seedFile,
      '--latency',
      options.latency,
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => c.toString().includes(url) && resolve());
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
  });
  // The emulator stands in for Airtable's servers, which do not share a CPU with our workers: on a
  // small machine a starved emulator would stamp requests late and crowd the ones it then takes.
  try {
    os.setPriority(child.pid!, -10);
  } catch {
    console.error('note: the emulator runs at normal priority (raising it needs CAP_SYS_NICE)');
  }
  return { url, stop: () => child.kill('SIGTERM') };
}

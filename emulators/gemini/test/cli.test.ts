import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { GoogleGenAI } from '@google/genai';
import { DEFAULT_GEMINI_KEY } from '../src';
import { apiErrorOf } from './helpers';

const ROOT = path.resolve(__dirname, '../../..');
const MAIN = path.join(ROOT, 'emulators/gemini/src/main.ts');

interface Started {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  url: string;
}

/** Runs the CLI as `npm run emulator:gemini` does and waits for its URL line. */
function startCli(args: string[]): Promise<Started> {
  const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), [MAIN, ...args], { cwd: ROOT });
  let output = '';
  child.stdout.on('data', (chunk) => (output += String(chunk)));
  child.stderr.on('data', (chunk) => (output += String(chunk)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL within 15 s:\n${output}`)), 15_000);
    const onData = () => {
      const match = /GEMINI_BASE_URL=(http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match && /Control API/.test(output)) {
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

describe('CLI (npm run emulator:gemini)', () => {
  it('prints its URL and key, serves the SDK with the given options, and stops on SIGTERM', async () => {
    const { child, output, url } = await startCli(['--port', '0', '--key', 'cli-key', '--retry-delay', '9']);
    try {
      expect(output()).toContain(`Gemini emulator listening on ${url}`);
      expect(output()).toContain('GEMINI_API_KEY=cli-key');
      const ai = new GoogleGenAI({ apiKey: 'cli-key', httpOptions: { baseUrl: url } });
      const answer = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'ping' });
      expect(answer.text).toBe('You said: "ping"');
      await fetch(`${url}/__emulator/faults`, {
        method: 'PUT',
        body: JSON.stringify({ failNext: { status: 429 } }),
      });
      const { body } = await apiErrorOf(
        ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'ping' }),
      );
      expect(JSON.stringify(body)).toContain('"retryDelay":"9s"');
    } finally {
      const exited = exitOf(child);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
    expect(output()).toContain('Gemini emulator stopped (SIGTERM)');
  });

  it('prints the default key when none is given, and stops on SIGINT', async () => {
    const { child, output } = await startCli(['--latency', '1-2']);
    try {
      expect(output()).toContain(`GEMINI_API_KEY=${DEFAULT_GEMINI_KEY}`);
    } finally {
      const exited = exitOf(child);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    }
  });

  it('exits with status 2 on an unknown argument', async () => {
    const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), [MAIN, '--bogus'], { cwd: ROOT });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    expect(await exitOf(child)).toBe(2);
    expect(stderr).toContain('unknown argument --bogus');
  });
});

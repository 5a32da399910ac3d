/**
 * `npx tsx emulators/gemini/src/main.ts --port P [--host H] [--key K]... [--model M]...
 *   [--latency MS | MIN-MAX] [--retry-delay S] [--script FILE]`
 *
 * Starts the emulator and prints its URL and key; SIGINT/SIGTERM stop it cleanly.
 */
import { readFileSync } from 'node:fs';
import {
  DEFAULT_GEMINI_KEY,
  DEFAULT_MODELS,
  startGeminiEmulator,
  type GeminiEmulatorOptions,
  type ScriptedTurn,
} from './index';

const USAGE = `Usage: emulator:gemini -- --port P [--host H] [--key K]... [--model M]...
       [--latency MS|MIN-MAX] [--retry-delay S] [--script FILE]`;

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): GeminiEmulatorOptions {
  const options: GeminiEmulatorOptions = {};
  const keys: string[] = [];
  const models: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) fail(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--port': {
        const port = Number(value());
        if (!Number.isInteger(port) || port < 0 || port > 65535)
          fail('--port needs a port number (0 = any free port)');
        options.port = port;
        break;
      }
      case '--host':
        options.host = value();
        break;
      case '--key':
        keys.push(value());
        break;
      case '--model':
        models.push(value());
        break;
      case '--latency': {
        const text = value();
        const range = /^(\d+)-(\d+)$/.exec(text);
        if (range && Number(range[2]) >= Number(range[1]))
          options.faults = { ...options.faults, latencyMs: [Number(range[1]), Number(range[2])] };
        else if (/^\d+$/.test(text)) options.faults = { ...options.faults, latencyMs: Number(text) };
        else fail('--latency is MS or MIN-MAX, e.g. 100-250');
        break;
      }
      case '--retry-delay': {
        const text = value();
        if (!/^\d+(\.\d+)?s?$/.test(text)) fail('--retry-delay is a number of seconds, e.g. 32');
        options.retryDelay = text.endsWith('s') ? text : `${text}s`;
        break;
      }
      case '--script': {
        const file = value();
        try {
          options.script = JSON.parse(readFileSync(file, 'utf8')) as ScriptedTurn[];
        } catch (err) {
          fail(`cannot read script ${file}: ${err instanceof Error ? err.message : String(err)}`);
        }
        break;
      }
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      default:
        fail(`unknown argument ${arg}`);
    }
  }
  if (keys.length > 0) {
    options.key = keys[0]!;
    options.keys = keys.slice(1);
  }
  if (models.length > 0) options.models = [...DEFAULT_MODELS, ...models];
  return options;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  let emulator;
  try {
    emulator = await startGeminiEmulator(options);
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  const lines = [
    `Gemini emulator listening on ${emulator.url}`,
    `GEMINI_BASE_URL=${emulator.url}`,
    ...emulator.keys.map((key) => `GEMINI_API_KEY=${key}`),
    ...(options.key === undefined ? [`(the default key ${DEFAULT_GEMINI_KEY}; choose one with --key)`] : []),
    `Models: ${emulator.models.join(', ')}`,
    `Client: new GoogleGenAI({ apiKey, httpOptions: { baseUrl: '${emulator.url}' } })`,
    'Control API: GET /__emulator/health, GET|DELETE /__emulator/requests, GET|POST|DELETE /__emulator/script, GET|PUT /__emulator/faults, POST /__emulator/reset',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    emulator.close().then(
      () => {
        process.stdout.write(`Gemini emulator stopped (${signal})\n`);
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`failed to stop cleanly: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

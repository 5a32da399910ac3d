/**
 * `npx tsx emulators/airtable/src/main.ts --port P [--host H] [--token T]... [--seed FILE] [--no-limits]
 *   [--latency MS | MIN-MAX] [--persist FILE] [--random-seed N] [--demo-records N]`
 *
 * Starts the emulator and prints its URL, token(s) and bases; SIGINT/SIGTERM stop it cleanly (and
 * write the state file when --persist is given).
 */
import { readFileSync } from 'node:fs';
import {
  buildDemoSeed,
  startAirtableEmulator,
  type AirtableEmulatorOptions,
  type EmulatorSeed,
} from './index';

const USAGE = `Usage: emulator:airtable -- --port P [--host H] [--token T]... [--seed FILE] [--no-limits]
       [--latency MS|MIN-MAX] [--persist FILE] [--random-seed N] [--demo-records N]`;

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): AirtableEmulatorOptions {
  const options: AirtableEmulatorOptions = {};
  const tokens: string[] = [];
  let demoRecords: number | undefined;
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
    const integer = (): number => {
      const v = Number(value());
      if (!Number.isInteger(v) || v < 0) fail(`${flag} needs a whole number`);
      return v;
    };
    switch (flag) {
      case '--port':
        options.port = integer();
        break;
      case '--host':
        options.host = value();
        break;
      case '--token':
        tokens.push(value());
        break;
      case '--seed': {
        const file = value();
        try {
          options.seed = JSON.parse(readFileSync(file, 'utf8')) as EmulatorSeed;
        } catch (err) {
          fail(`cannot read seed ${file}: ${err instanceof Error ? err.message : String(err)}`);
        }
        break;
      }
      case '--no-limits':
        options.limits = { enabled: false };
        break;
      case '--latency': {
        const text = value();
        const range = /^(\d+)-(\d+)$/.exec(text);
        if (range) options.latencyMs = [Number(range[1]), Number(range[2])];
        else if (/^\d+$/.test(text)) options.latencyMs = Number(text);
        else fail('--latency is MS or MIN-MAX, e.g. 100-250');
        break;
      }
      case '--persist':
        options.persistPath = value();
        break;
      case '--random-seed':
        options.randomSeed = integer();
        break;
      case '--demo-records':
        demoRecords = integer();
        break;
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      default:
        fail(`unknown argument ${arg}`);
    }
  }
  if (tokens.length > 0) options.tokens = tokens;
  if (demoRecords !== undefined && !options.seed) options.seed = buildDemoSeed({ records: demoRecords });
  return options;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const emulator = await startAirtableEmulator(options);
  const bases = (await (await fetch(`${emulator.url}/__emulator/health`)).json()) as { bases: string[] };
  const lines = [
    `Airtable emulator listening on ${emulator.url}`,
    `AIRTABLE_ENDPOINT_URL=${emulator.url}`,
    ...emulator.tokens.map((token) => `AIRTABLE_TOKEN=${token}`),
    `Bases: ${bases.bases.join(', ')}`,
    `Limits: ${options.limits?.enabled === false ? 'off' : '5 req/s per base, 50 req/s per token, 30 s penalty'}`,
    ...(options.persistPath ? [`State file: ${options.persistPath}`] : []),
    'Control API: GET /__emulator/health, GET|DELETE /__emulator/log, PUT /__emulator/{faults,limits,latency}',
    '  webhooks: GET /__emulator/webhooks/{baseId}, POST /__emulator/clock/advance, POST /__emulator/bases/{baseId}/tables/{table}/ui-edit',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    emulator.close().then(
      () => {
        process.stdout.write(`Airtable emulator stopped (${signal})\n`);
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
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(
    `${err instanceof Error && err.name === 'SeedError' ? `invalid seed: ${message}` : message}\n`,
  );
  process.exit(1);
});

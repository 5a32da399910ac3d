import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import type { Logger } from '../core/logger';
import { SEARCH_ATTRIBUTE_KEYS } from './search-attributes';

/** Options for {@link startDevServer}. */
export interface DevServerOptions {
  /** Path of the `temporal` executable (see resolveTemporalCli). */
  cliPath: string;
  /** @default '127.0.0.1' */
  ip?: string;
  /** gRPC frontend port; 0 picks a free one. @default 7233 */
  port?: number;
  /** Web UI port; `false` runs headless. @default port + 1000 */
  uiPort?: number | false;
  /** SQLite file that keeps workflows across restarts; omitted = in memory. */
  dbFilename?: string;
  /** @default 'default' */
  namespace?: string;
  /** Where the server's own output goes. @default inherited stderr is not used; output is discarded */
  logFile?: string;
  logger?: Logger;
  /** @default 60000 */
  readyTimeoutMs?: number;
  /** The codec server the Web UI decodes payloads with (`--ui-codec-endpoint`). */
  uiCodecEndpoint?: string;
  /**
   * Server settings passed as `--dynamic-config-value key=value`; an entry set to `undefined` leaves
   * the server's own default. @default {@link DEV_SERVER_DYNAMIC_CONFIG}
   */
  dynamicConfig?: Record<string, string | number | boolean | undefined>;
}

/**
 * What the dev server runs with besides its defaults, for the latency of one conversation's steps
 * (bench/agent-step-overhead.ts measures each; docs/operations.md says what to set on a cluster).
 */
export const DEV_SERVER_DYNAMIC_CONFIG = {
  /**
   * Every new task reaches matching through the history service's transfer queue, which the server
   * reads at most 20 times a second per shard by default; the dev server has one shard, so each
   * activity and workflow task of a lone conversation waited ~30 ms for the next read.
   */
  'history.transferProcessorMaxPollRPS': 10_000,
  /**
   * An activity the workflow task schedules comes back to the worker in the answer to that task's
   * completion (the SDK asks for it), skipping transfer queue and matching.
   */
  'system.enableActivityEagerExecution': true,
} as const;

/** A running dev server. */
export interface DevServer {
  address: string;
  uiUrl?: string;
  /** The child process, or undefined when an already running server was reused. */
  process?: ChildProcess;
  stop(): Promise<void>;
}

/** Asks the OS for a free TCP port on loopback. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** True when a Temporal frontend answers at `address` within `timeoutMs`. */
export async function temporalAnswers(address: string, timeoutMs = 2_000): Promise<boolean> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: timeoutMs });
    try {
      await connection.workflowService.getSystemInfo({});
      return true;
    } finally {
      await connection.close();
    }
  } catch {
    return false;
  }
}

/**
 * Starts `temporal server start-dev` with the platform's search attributes registered and waits
 * until its frontend answers. A server already listening on the requested port is reused rather
 * than fought over (for instance one left by an earlier `npm start`).
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const ip = options.ip ?? '127.0.0.1';
  const port = options.port === 0 ? await freePort(ip) : (options.port ?? 7233);
  const address = `${ip}:${port}`;
  const uiPort = options.uiPort === false ? undefined : (options.uiPort ?? port + 1000);
  const uiUrl = uiPort === undefined ? undefined : `http://${ip === '0.0.0.0' ? '127.0.0.1' : ip}:${uiPort}`;
  const namespace = options.namespace ?? 'default';

  if (options.port !== 0 && (await temporalAnswers(address, 1_000))) {
    options.logger?.warn({ address }, 'a Temporal server already answers on this port; reusing it');
    return { address, uiUrl, stop: async () => undefined };
  }

  const args = ['server', 'start-dev', '--ip', ip, '--port', String(port), '--log-level', 'warn'];
  args.push(...(uiPort === undefined ? ['--headless'] : ['--ui-port', String(uiPort)]));
  if (uiPort !== undefined && options.uiCodecEndpoint)
    args.push('--ui-codec-endpoint', options.uiCodecEndpoint);
  if (options.dbFilename) {
    mkdirSync(path.dirname(options.dbFilename), { recursive: true });
    args.push('--db-filename', options.dbFilename);
  }
  if (namespace !== 'default') args.push('--namespace', namespace);
  for (const [key, value] of Object.entries(options.dynamicConfig ?? DEV_SERVER_DYNAMIC_CONFIG))
    if (value !== undefined) args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  for (const key of SEARCH_ATTRIBUTE_KEYS)
    args.push('--search-attribute', `${key.name}=${searchAttributeTypeName(key.type)}`);

  const child = spawn(options.cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const sink = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
  const collect = (chunk: Buffer) => {
    sink?.write(chunk);
    if (output.length < 20_000) output += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  let ready = false;
  while (!ready && Date.now() < deadline) {
    const early = await Promise.race([exited, new Promise<'wait'>((r) => setTimeout(() => r('wait'), 250))]);
    if (early !== 'wait')
      throw new Error(`Temporal dev server exited with code ${early}:\n${output.slice(-4000)}`);
    ready = await temporalAnswers(address, 1_000);
  }
  if (!ready) {
    child.kill('SIGKILL');
    throw new Error(`Temporal dev server did not answer on ${address} in time:\n${output.slice(-4000)}`);
  }
  options.logger?.info({ address, uiUrl, dbFilename: options.dbFilename }, 'Temporal dev server is up');

  return {
    address,
    uiUrl,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      sink?.end();
    },
  };
}

function searchAttributeTypeName(type: string): string {
  // The SDK spells types in upper snake case; the CLI wants the server's names.
  const names: Record<string, string> = {
    KEYWORD: 'Keyword',
    TEXT: 'Text',
    INT: 'Int',
    DOUBLE: 'Double',
    BOOL: 'Bool',
    DATETIME: 'Datetime',
    KEYWORD_LIST: 'KeywordList',
  };
  const name = names[type];
  if (!name) throw new Error(`Unsupported search attribute type ${type}`);
  return name;
}

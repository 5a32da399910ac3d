import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { resolveTemporalCli } from '../temporal/cli';
import { dataConverter } from '../temporal/data-converter';
import { startDevServer, type DevServer, type DevServerOptions } from '../temporal/dev-server';

/** Options for {@link startBenchTemporal}. */
export interface BenchTemporalOptions {
  /**
   * Opens a NativeConnection for a worker in this process (install the SDK's Runtime first).
   * `false` leaves @temporalio/worker, webpack included, out of a process that runs no worker.
   * @default true
   */
  worker?: boolean;
  /** A server already running, for diagnosis: connect to it and start nothing. */
  address?: string;
  /** The dev server's output. @default temporal.log in a fresh bench-temporal-* folder of the OS temp folder */
  logFile?: string;
  /** Passed to startDevServer as is: `undefined` runs DEV_SERVER_DYNAMIC_CONFIG, `{}` the server's defaults. */
  dynamicConfig?: DevServerOptions['dynamicConfig'];
}

/** A benchmark's Temporal: a headless dev server on a free port (or `address`) and a client of it. */
export interface BenchTemporal {
  address: string;
  /** The dev server's process (for its CPU time); undefined with `address`. */
  serverProcess?: ChildProcess;
  client: Client;
  /** Closes the connections before stopping the server, so none is cut mid-call. Safe to call twice. */
  stop(): Promise<void>;
}

/** {@link startBenchTemporal} for a process without a worker: a client only. */
export async function startBenchTemporal(
  options: BenchTemporalOptions & { worker: false },
): Promise<BenchTemporal>;
/**
 * Starts what every Temporal benchmark needs, on a server of its own so no other run's workflows
 * share it. A run that dies without `stop()` (process.exit) kills the server on the way out:
 * nothing reads its output once this process is gone.
 */
export async function startBenchTemporal(
  options?: BenchTemporalOptions,
): Promise<BenchTemporal & { connection: NativeConnection }>;
export async function startBenchTemporal(
  options: BenchTemporalOptions = {},
): Promise<BenchTemporal & { connection?: NativeConnection }> {
  let server: DevServer;
  if (options.address) server = { address: options.address, stop: async () => undefined };
  else {
    const cli = await resolveTemporalCli();
    server = await startDevServer({
      cliPath: cli.path,
      port: 0,
      uiPort: false,
      logFile:
        options.logFile ?? path.join(mkdtempSync(path.join(os.tmpdir(), 'bench-temporal-')), 'temporal.log'),
      dynamicConfig: options.dynamicConfig,
    });
  }
  const child = server.process;
  const abandon = () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', abandon);

  let connection: NativeConnection | undefined;
  if (options.worker !== false) {
    const { NativeConnection } = await import('@temporalio/worker');
    connection = await NativeConnection.connect({ address: server.address });
  }
  const clientConnection = await Connection.connect({ address: server.address });
  const client = new Client({ connection: clientConnection, dataConverter });
  let stopped: Promise<void> | undefined;
  return {
    address: server.address,
    serverProcess: child,
    connection,
    client,
    stop() {
      stopped ??= (async () => {
        await connection?.close();
        await clientConnection.close();
        await server.stop();
        process.off('exit', abandon);
      })();
      return stopped;
    },
  };
}

/** A history event's time (a protobuf Timestamp) in epoch milliseconds. */
export function eventTimeMs(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  return Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;
}

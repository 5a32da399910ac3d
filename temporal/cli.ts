import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../core/logger';

const execFileAsync = promisify(execFile);

/** The one place the Temporal CLI version is pinned. Later versions carry a `replace` directive `go install` refuses. */
export const TEMPORAL_CLI_VERSION = '1.5.1';
const GO_MODULE = 'github.com/temporalio/cli/cmd/temporal';
/** Used when the machine's own Go cannot build the CLI; fetched through the Go module proxy. */
const FALLBACK_GO_TOOLCHAIN = 'go1.25.0';

/** How the CLI was found, for the start-up log. */
export type TemporalCliSource = 'env' | 'path' | 'cache' | 'sdk-download' | 'go-install';

export interface ResolvedTemporalCli {
  path: string;
  source: TemporalCliSource;
}

/**
 * The machine-wide cache folder for the CLI binary: outside the work tree so every clone on a
 * machine (and every CI run) builds it at most once.
 * @default `$TEMPORAL_CLI_CACHE_DIR` or `$XDG_CACHE_HOME/airtable-ops/temporal-cli/v<version>` (`~/.cache/...`)
 */
export function temporalCliCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TEMPORAL_CLI_CACHE_DIR) return env.TEMPORAL_CLI_CACHE_DIR;
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'airtable-ops', 'temporal-cli', `v${TEMPORAL_CLI_VERSION}`);
}

function isExecutable(file: string): boolean {
  try {
    return statSync(file).isFile() && (statSync(file).mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  const result = spawnSync(process.platform === 'win32' ? 'where' : 'which', [name], { encoding: 'utf8' });
  const found = result.status === 0 ? result.stdout.split('\n')[0]?.trim() : undefined;
  return found || undefined;
}

/**
 * Finds the Temporal CLI, installing it when nothing is there, in this order: `TEMPORAL_CLI_PATH`,
 * `temporal` on PATH, the cache folder, the SDK's own download (machines with internet), then
 * `go install` of the pinned version (machines with Go but no internet, like our CI).
 */
export async function resolveTemporalCli(
  logger?: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ResolvedTemporalCli> {
  if (env.TEMPORAL_CLI_PATH) {
    if (!isExecutable(env.TEMPORAL_CLI_PATH))
      throw new Error(`TEMPORAL_CLI_PATH is not an executable: ${env.TEMPORAL_CLI_PATH}`);
    return { path: env.TEMPORAL_CLI_PATH, source: 'env' };
  }
  const fromPath = onPath('temporal');
  if (fromPath) return { path: fromPath, source: 'path' };

  const cacheDir = temporalCliCacheDir(env);
  const cached = path.join(cacheDir, 'temporal');
  if (isExecutable(cached)) return { path: cached, source: 'cache' };
  mkdirSync(cacheDir, { recursive: true });

  const failures: string[] = [];
  try {
    logger?.info('Temporal CLI not found; trying the SDK download');
    return { path: await downloadWithSdk(cacheDir, cached), source: 'sdk-download' };
  } catch (err) {
    failures.push(`SDK download: ${(err as Error).message}`);
  }
  try {
    logger?.info(
      `building the Temporal CLI v${TEMPORAL_CLI_VERSION} with go install (takes a few minutes, once per machine)`,
    );
    return { path: await goInstall(cacheDir, cached, logger, env), source: 'go-install' };
  } catch (err) {
    failures.push(`go install: ${(err as Error).message}`);
  }
  throw new Error(
    `Could not find or install the Temporal CLI. Set TEMPORAL_CLI_PATH, put 'temporal' on PATH, or set TEMPORAL_ADDRESS to use an existing cluster.\n  ${failures.join('\n  ')}`,
  );
}

/** Lets the SDK fetch the CLI into our cache folder, then moves the binary to the cached path. */
async function downloadWithSdk(cacheDir: string, target: string): Promise<string> {
  const downloadDir = path.join(cacheDir, 'sdk-download');
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const startup = TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'cached-download', downloadDir, version: `v${TEMPORAL_CLI_VERSION}` },
      ui: false,
    },
  });
  // Without internet the download hangs on connect; give it a bounded time.
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), 60_000);
  });
  try {
    const testEnv = await Promise.race([startup, timeout]);
    await testEnv.teardown();
  } finally {
    clearTimeout(timer);
  }
  const binary = findExecutable(downloadDir);
  if (!binary) throw new Error('the SDK reported success but left no executable');
  renameSync(binary, target);
  rmSync(downloadDir, { recursive: true, force: true });
  return target;
}

function findExecutable(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const nested = findExecutable(full);
      if (nested) return nested;
    } else if (isExecutable(full)) return full;
  }
  return undefined;
}

async function goInstall(
  cacheDir: string,
  target: string,
  logger: Logger | undefined,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  const go = onPath('go') ?? (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go) throw new Error('go is not installed');
  // Build into a private folder and rename, so a concurrent start never sees a half-written binary.
  const gobin = path.join(cacheDir, `build-${process.pid}`);
  mkdirSync(gobin, { recursive: true });
  const attempt = async (toolchain?: string) => {
    await execFileAsync(go, ['install', `${GO_MODULE}@v${TEMPORAL_CLI_VERSION}`], {
      env: { ...env, GOBIN: gobin, ...(toolchain ? { GOTOOLCHAIN: toolchain } : {}) },
      maxBuffer: 64 * 1024 * 1024,
    });
  };
  try {
    try {
      await attempt();
    } catch (err) {
      logger?.warn(
        { err: (err as Error).message },
        `go install failed; retrying with GOTOOLCHAIN=${FALLBACK_GO_TOOLCHAIN}`,
      );
      await attempt(FALLBACK_GO_TOOLCHAIN);
    }
    const built = path.join(gobin, 'temporal');
    chmodSync(built, 0o755);
    renameSync(built, target);
    return target;
  } finally {
    rmSync(gobin, { recursive: true, force: true });
  }
}

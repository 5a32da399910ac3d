import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';
import { CONSOLE_BUNDLE_DIR, CONSOLE_MANIFEST, type ConsoleManifest } from '../api/console';
import { PROJECT_ROOT } from '../core/config';

/**
 * `npm run build:console`: bundles the web console (console/src, Preact) with esbuild into
 * console/dist: hashed script and styles, each beside its brotli and gzip copy, the page, and
 * build.json last. `npm start` and the test run call {@link ensureConsoleBuilt}, which builds only
 * when the sources changed.
 */

const SOURCE_DIR = path.join(PROJECT_ROOT, 'console');
/** Besides the sources: what else decides the bundle's bytes. */
const BUILD_INPUTS = [
  path.join(PROJECT_ROOT, 'scripts', 'build-console.ts'),
  path.join(PROJECT_ROOT, 'node_modules', 'preact', 'package.json'),
  path.join(PROJECT_ROOT, 'node_modules', '@preact', 'signals', 'package.json'),
  path.join(PROJECT_ROOT, 'node_modules', '@preact', 'signals-core', 'package.json'),
  path.join(PROJECT_ROOT, 'node_modules', 'esbuild', 'package.json'),
];
/** Old hashed files are kept this long, for pages still open (or servers still running) that name them. */
const KEEP_OLD_ASSETS_MS = 24 * 3600 * 1000;

function sourceFiles(dir = SOURCE_DIR): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'dist' || entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...sourceFiles(full));
    else files.push(full);
  }
  return files.sort();
}

/** A hash of everything the bundle is built from: the console's files and the build's own inputs. */
export function consoleSourceHash(): string {
  const hash = createHash('sha256');
  for (const file of [...sourceFiles(), ...BUILD_INPUTS]) {
    hash.update(path.relative(PROJECT_ROOT, file)).update('\0');
    try {
      hash.update(readFileSync(file));
    } catch {
      hash.update('missing');
    }
    hash.update('\0');
  }
  return hash.digest('hex');
}

function readManifest(dir: string): ConsoleManifest | undefined {
  try {
    return JSON.parse(readFileSync(path.join(dir, CONSOLE_MANIFEST), 'utf8')) as ConsoleManifest;
  } catch {
    return undefined;
  }
}

/**
 * Writes a file whole or not at all (a temporary name, then a rename), so a server reading the
 * bundle while another process builds it never sees half a file.
 */
function writeAtomically(file: string, body: Buffer | string): void {
  const temporary = `${file}.${process.pid}-${randomUUID().slice(0, 8)}.tmp`;
  writeFileSync(temporary, body);
  renameSync(temporary, file);
}

export interface ConsoleBuild {
  dir: string;
  manifest: ConsoleManifest;
  /** Bytes per asset: raw, brotli, gzip. */
  sizes: Record<string, { raw: number; br: number; gzip: number }>;
  ms: number;
}

/** Bundles the console into `dir` (default console/dist). */
export async function buildConsole(dir = CONSOLE_BUNDLE_DIR): Promise<ConsoleBuild> {
  const started = Date.now();
  const sourceHash = consoleSourceHash();
  // Loaded when a build is needed: esbuild is a dev dependency, absent from a production install.
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: { app: path.join(SOURCE_DIR, 'src', 'main.tsx') },
    tsconfig: path.join(SOURCE_DIR, 'tsconfig.json'),
    bundle: true,
    minify: true,
    format: 'esm',
    // Every browser with ES modules, optional chaining and fetch streams; no polyfills needed.
    target: ['es2020', 'chrome92', 'firefox100', 'safari15'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    define: { 'process.env.NODE_ENV': '"production"' },
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    sourcemap: 'linked',
    legalComments: 'eof',
    outdir: dir,
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  mkdirSync(dir, { recursive: true });
  const assets: string[] = [];
  const sizes: ConsoleBuild['sizes'] = {};
  for (const output of result.outputFiles) {
    const name = path.basename(output.path);
    const body = Buffer.from(output.contents);
    writeAtomically(path.join(dir, name), body);
    assets.push(name);
    if (name.endsWith('.map')) continue;
    const br = brotliCompressSync(body, {
      params: {
        [zlibConstants.BROTLI_PARAM_QUALITY]: 11,
        [zlibConstants.BROTLI_PARAM_SIZE_HINT]: body.length,
      },
    });
    const gzip = gzipSync(body, { level: 9 });
    writeAtomically(path.join(dir, `${name}.br`), br);
    writeAtomically(path.join(dir, `${name}.gz`), gzip);
    sizes[name] = { raw: body.length, br: br.length, gzip: gzip.length };
  }
  const script = assets.find((a) => a.endsWith('.js'));
  const styles = assets.find((a) => a.endsWith('.css'));
  if (!script || !styles) throw new Error(`esbuild wrote no script or no styles: ${assets.join(', ')}`);
  const html = readFileSync(path.join(SOURCE_DIR, 'index.html'), 'utf8')
    .replace('%APP_STYLES%', `/console/${styles}`)
    .replace('%APP_SCRIPT%', `/console/${script}`);
  const index = `index-${createHash('sha256').update(html).digest('hex').slice(0, 8)}.html`;
  writeAtomically(path.join(dir, index), html);
  const manifest: ConsoleManifest = { sourceHash, builtAt: new Date().toISOString(), index, assets };
  writeAtomically(path.join(dir, CONSOLE_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  pruneOldFiles(dir, new Set([index, CONSOLE_MANIFEST, ...assets.flatMap((a) => [a, `${a}.br`, `${a}.gz`])]));
  return { dir, manifest, sizes, ms: Date.now() - started };
}

function pruneOldFiles(dir: string, current: Set<string>): void {
  const now = Date.now();
  for (const name of readdirSync(dir)) {
    if (current.has(name)) continue;
    const file = path.join(dir, name);
    try {
      const age = now - statSync(file).mtimeMs;
      // A temporary file younger than a minute may be another build's, being written now.
      if (age > KEEP_OLD_ASSETS_MS || (name.endsWith('.tmp') && age > 60_000)) rmSync(file, { force: true });
    } catch {
      // another build pruned it first
    }
  }
}

/** Builds the console unless console/dist already holds a build of the current sources. */
export async function ensureConsoleBuilt(
  dir = CONSOLE_BUNDLE_DIR,
): Promise<{ built: boolean; manifest: ConsoleManifest }> {
  const existing = readManifest(dir);
  if (existing && existing.sourceHash === consoleSourceHash()) return { built: false, manifest: existing };
  const { manifest } = await buildConsole(dir);
  return { built: true, manifest };
}

if (require.main === module) {
  buildConsole()
    .then(({ dir, sizes, ms }) => {
      const rows = Object.entries(sizes).map(
        ([name, s]) => `  ${name}  ${s.raw} B, ${s.br} B brotli, ${s.gzip} B gzip`,
      );
      process.stdout.write(
        `console built in ${ms} ms into ${path.relative(process.cwd(), dir)}/\n${rows.join('\n')}\n`,
      );
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}

import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { PROJECT_ROOT } from '../core/config';
import { ServiceError } from '../core/errors';
import { documentRoutes } from './openapi';

/**
 * Where `npm run build:console` (scripts/build-console.ts) writes the console's bundle. From the
 * compiled API (`dist/api/`) PROJECT_ROOT is `dist/`, so an image copies the bundle to
 * `dist/console/dist/`, as it copies the migrations to `dist/db/migrations/`.
 */
export const CONSOLE_BUNDLE_DIR = path.join(PROJECT_ROOT, 'console', 'dist');

/** The file the build writes last: which assets the current bundle has, and what it was built from. */
export const CONSOLE_MANIFEST = 'build.json';

/** What the build records in {@link CONSOLE_MANIFEST}. */
export interface ConsoleManifest {
  /** Hash of the console's sources and of the build's own inputs: the bundle is stale when it differs. */
  sourceHash: string;
  builtAt: string;
  /** The page template, with `%TEMPORAL_UI_PORT%` and `%TEMPORAL_NAMESPACE%` left for the server. */
  index: string;
  /** Hashed file names, served under `/console/` and cached for a year; `.gz` and `.br` beside each. */
  assets: string[];
}

/** Where the console links jobs in the Temporal Web UI: the page's own host name, this port and namespace. */
export interface ConsoleOptions {
  /** @default 8233 (TEMPORAL_UI_PORT) */
  temporalUiPort?: number;
  /** @default 'default' (TEMPORAL_NAMESPACE) */
  temporalNamespace?: string;
  /** @default CONSOLE_BUNDLE_DIR */
  bundleDir?: string;
}

/**
 * The console's options from the app's config: the composition root passes the whole config
 * (`temporal.uiPort`, `temporal.namespace`); tests and benchmarks pass part of it, and get the defaults.
 */
export function consoleOptionsOf(config: object): ConsoleOptions {
  const temporal = (config as { temporal?: { uiPort?: unknown; namespace?: unknown } }).temporal;
  return {
    ...(typeof temporal?.uiPort === 'number' ? { temporalUiPort: temporal.uiPort } : {}),
    ...(typeof temporal?.namespace === 'string' ? { temporalNamespace: temporal.namespace } : {}),
  };
}

/**
 * Nothing the console loads comes from another origin: scripts, styles and API calls from this
 * server, images only inline. Stricter than helmet's default (no `https:` styles or fonts), and
 * without `upgrade-insecure-requests`, which would send a plain-HTTP local install's assets to HTTPS.
 */
const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

interface Variant {
  body: Buffer;
  encoding?: 'br' | 'gzip';
}

interface ServedFile {
  contentType: string;
  etag: string;
  cacheControl: string;
  identity: Variant;
  br?: Variant;
  gzip?: Variant;
}

interface LoadedBundle {
  manifestMtimeMs: number;
  index: ServedFile;
  assets: Map<string, ServedFile>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

const etagOf = (body: Buffer) => `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;

function readOptional(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

function escapeAttribute(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Reads the bundle into memory (a few tens of KB): assets precompressed by the build, the page here. */
function loadBundle(dir: string, options: ConsoleOptions, manifestMtimeMs: number): LoadedBundle {
  const manifest = JSON.parse(readFileSync(path.join(dir, CONSOLE_MANIFEST), 'utf8')) as ConsoleManifest;
  const assets = new Map<string, ServedFile>();
  for (const name of manifest.assets) {
    const body = readFileSync(path.join(dir, name));
    const br = readOptional(path.join(dir, `${name}.br`));
    const gzip = readOptional(path.join(dir, `${name}.gz`));
    assets.set(name, {
      contentType: CONTENT_TYPES[path.extname(name)] ?? 'application/octet-stream',
      etag: etagOf(body),
      // Hashed names: a new build is a new name, so a copy never needs checking again.
      cacheControl: 'public, max-age=31536000, immutable',
      identity: { body },
      ...(br ? { br: { body: br, encoding: 'br' as const } } : {}),
      ...(gzip ? { gzip: { body: gzip, encoding: 'gzip' as const } } : {}),
    });
  }
  const html = Buffer.from(
    readFileSync(path.join(dir, manifest.index), 'utf8')
      .replaceAll('%TEMPORAL_UI_PORT%', escapeAttribute(String(options.temporalUiPort ?? 8233)))
      .replaceAll('%TEMPORAL_NAMESPACE%', escapeAttribute(options.temporalNamespace ?? 'default')),
  );
  return {
    manifestMtimeMs,
    assets,
    index: {
      contentType: 'text/html; charset=utf-8',
      etag: etagOf(html),
      // The page names the current assets: revalidated on every load (a 304 when nothing changed).
      cacheControl: 'no-cache',
      identity: { body: html },
      br: {
        body: brotliCompressSync(html, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 11 } }),
        encoding: 'br',
      },
      gzip: { body: gzipSync(html, { level: 9 }), encoding: 'gzip' },
    },
  };
}

/** The encodings the client accepts (q=0 refuses one). */
function acceptedEncodings(req: Request): Set<string> {
  const accepted = new Set<string>();
  for (const part of (req.get('Accept-Encoding') ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    if (name && (q === undefined || Number(q) > 0)) accepted.add(name);
  }
  return accepted;
}

function send(req: Request, res: Response, file: ServedFile): void {
  const accepted = acceptedEncodings(req);
  const variant = (accepted.has('br') && file.br) || (accepted.has('gzip') && file.gzip) || file.identity;
  res.setHeader('Content-Security-Policy', CONSOLE_CSP);
  res.setHeader('Content-Type', file.contentType);
  res.setHeader('Cache-Control', file.cacheControl);
  res.setHeader('Vary', 'Accept-Encoding');
  res.setHeader('ETag', file.etag);
  if (req.get('If-None-Match') === file.etag) {
    res.status(304).end();
    return;
  }
  if (variant.encoding) res.setHeader('Content-Encoding', variant.encoding);
  res.setHeader('Content-Length', String(variant.body.length));
  res.status(200);
  if (req.method === 'HEAD') res.end();
  else res.end(variant.body);
}

/**
 * The web console: `GET /` is the single-page app's page, `GET /console/<hashed file>` its script
 * and styles, all from memory, brotli or gzip as the client accepts. Anything else falls through to
 * the JSON API's 404. A rebuilt bundle is picked up at the next page load (its manifest's mtime).
 */
export function consoleRouter(options: ConsoleOptions = {}): Router {
  const dir = options.bundleDir ?? CONSOLE_BUNDLE_DIR;
  let loaded: LoadedBundle | undefined;

  function current(): LoadedBundle {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(path.join(dir, CONSOLE_MANIFEST)).mtimeMs;
    } catch {
      if (loaded) return loaded;
      throw new ServiceError(
        503,
        'console_not_built',
        'The web console has not been built: run `npm run build:console` (npm start builds it)',
      );
    }
    if (!loaded || loaded.manifestMtimeMs !== mtimeMs) loaded = loadBundle(dir, options, mtimeMs);
    return loaded;
  }

  const router = Router();
  router.get('/', (req, res) => send(req, res, current().index));
  router.get('/console/:file', (req, res, next) => {
    const name = req.params.file as string;
    let bundle = loaded ?? current();
    let file = bundle.assets.get(name);
    // A page from a newer build than the one in memory asks for names this copy does not know yet.
    if (!file) {
      bundle = current();
      file = bundle.assets.get(name);
    }
    if (!file) return next();
    send(req, res, file);
  });
  return router;
}

documentRoutes('', 'Console', [
  {
    method: 'get',
    path: '/',
    summary: 'The web console (a single-page app; brotli or gzip as accepted)',
    auth: 'none',
    answers: { 200: { description: 'The page', schema: z.string(), contentType: 'text/html' } },
    errors: { 503: 'The console has not been built (npm run build:console)' },
  },
  {
    method: 'get',
    path: '/console/:file',
    summary: 'A script, style sheet or source map of the console (hashed name, cached for a year)',
    auth: 'none',
    answers: { 200: { description: 'The file', schema: z.string(), contentType: 'text/javascript' } },
  },
]);

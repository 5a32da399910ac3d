import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { assistantAnswer } from './assistant';
import { errors, GeminiError, googleError, normalizeRetryDelay, statusCode } from './errors';
import { drawLatency, normalizeFaults, takeFailure, type ActiveFaults } from './faults';
import { parseGenerateContent, requestChars, type ParsedRequest } from './request';
import { buildResponse, buildStream, tokensOf, type AnswerContext, type ModelAnswer } from './response';
import { checkAnswer, ScriptQueues } from './script';
import type {
  AnsweredBy,
  GeminiFaults,
  GeminiRequestLogEntry,
  GeminiRequestView,
  GenerateContentResponse,
  ScriptedAnswer,
  ScriptedTurn,
  ScriptOptions,
} from './types';

/** The key the emulator accepts when none is configured (the CLI prints it). */
export const DEFAULT_GEMINI_KEY = 'gemini-emulator-key';

/** Model ids served by default (`models/` prefix not included). */
export const DEFAULT_MODELS: readonly string[] = [
  'gemini-2.0-flash',
  'gemini-2.0-flash-lite',
  'gemini-2.5-flash',
  'gemini-2.5-flash-lite',
  'gemini-2.5-pro',
  'gemini-flash-latest',
  'gemini-flash-lite-latest',
  'gemini-pro-latest',
  'gemini-3-flash-preview',
  'gemini-3-pro-preview',
  'gemini-3.1-flash-lite-preview',
  'gemini-3.1-pro-preview',
];

/** Model id prefixes that think: thought signatures, `thoughtsTokenCount`, signature checks. */
export const DEFAULT_THINKING_MODELS: readonly string[] = ['gemini-3'];

/** The header that picks a script queue (see {@link ScriptOptions.scope}). */
export const SCOPE_HEADER = 'x-emulator-scope';

/** How to start an emulator. */
export interface GeminiEmulatorOptions {
  /** @default 0 (a free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** The accepted API key (`x-goog-api-key` header or `?key=`). @default {@link DEFAULT_GEMINI_KEY} */
  key?: string;
  /** More accepted keys (e.g. one per parallel test, each with its own script queue). */
  keys?: string[];
  /** Model ids served; others answer 404 NOT_FOUND. @default {@link DEFAULT_MODELS} */
  models?: string[];
  /**
   * Model id prefixes of thinking models: their function calls carry a `thoughtSignature` (the
   * first call of a turn), their usage has `thoughtsTokenCount`, and requests to them must send
   * signatures back. `[]` turns this off. @default ['gemini-3']
   */
  thinkingModels?: string[];
  /** `retryDelay` of 429 answers (`"32s"` or seconds). @default '32s' */
  retryDelay?: string | number;
  /** Status for an unknown key: 403 PERMISSION_DENIED (the facts) or 400 INVALID_ARGUMENT. @default 403 */
  badKeyStatus?: 400 | 403;
  /** @default no faults */
  faults?: GeminiFaults;
  /** Turns queued on the shared queue at start. */
  script?: ScriptedTurn[];
  /**
   * When a request's script queues exist but are used up: answer with the built-in assistant, or
   * fail with 500 INTERNAL (so a test notices an unexpected extra call). @default 'assistant'
   */
  whenScriptEmpty?: 'assistant' | 'error';
  /** Preferred size in characters of a streamed text chunk. @default 24 */
  streamChunkChars?: number;
  /** Larger bodies answer 400 as Google does. @default 20971520 (20 MiB) */
  maxBodyBytes?: number;
  /** Requests kept in the log (oldest dropped). @default 10000 */
  requestLogLimit?: number;
}

/** A running emulator. */
export interface GeminiEmulator {
  /** e.g. `http://127.0.0.1:54321`, for `httpOptions.baseUrl`. */
  readonly url: string;
  readonly port: number;
  /** The first accepted key. */
  readonly key: string;
  /** Every accepted key. */
  readonly keys: readonly string[];
  readonly models: readonly string[];
  /** Queues answers; returns how many the queue now holds. Throws a TypeError on a malformed turn. */
  script(turns: ScriptedTurn[], options?: ScriptOptions): number;
  /** Empties one queue, or all of them. */
  clearScript(scope?: string): void;
  /** Turns left per queue (`""` is the shared queue). */
  pendingScript(): Record<string, number>;
  /** Replaces every fault (latency included). */
  setFaults(faults: GeminiFaults): void;
  /** The faults in force (queued failures with what remains of them). */
  faults(): ActiveFaults;
  /** Answered model API requests, oldest first (a copy). */
  requests(): GeminiRequestLogEntry[];
  clearRequests(): void;
  /** Clears scripts, faults and the request log. */
  reset(): void;
  /** Stops listening and cuts open connections (streams included). */
  close(): Promise<void>;
}

interface Route {
  model?: string;
  action: 'generateContent' | 'streamGenerateContent' | 'countTokens' | 'get' | 'list';
}

type Outcome =
  | { kind: 'json'; status: number; body: unknown; by: AnsweredBy }
  | { kind: 'stream'; chunks: GenerateContentResponse[]; by: AnsweredBy };

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** `/v1beta/models/gemini-2.5-flash:generateContent` → model and action; undefined for other paths. */
function parseRoute(method: string, pathname: string): Route | undefined {
  const match = /^\/(v1beta|v1|v1alpha)\/models(?:\/([^/:]+)(?::([A-Za-z]+))?)?\/?$/.exec(pathname);
  if (!match) return undefined;
  let model: string | undefined;
  try {
    model = match[2] === undefined ? undefined : decodeURIComponent(match[2]);
  } catch {
    return undefined;
  }
  const action = match[3];
  if (model === undefined) return method === 'GET' && action === undefined ? { action: 'list' } : undefined;
  if (action === undefined) return method === 'GET' ? { model, action: 'get' } : undefined;
  if (method !== 'POST') return undefined;
  if (action === 'generateContent' || action === 'streamGenerateContent' || action === 'countTokens')
    return { model, action };
  return undefined;
}

function modelInfo(model: string, thinking: boolean) {
  return {
    name: `models/${model}`,
    version: '001',
    displayName: model,
    description: `Gemini emulator stand-in for ${model}`,
    inputTokenLimit: 1_048_576,
    outputTokenLimit: 65_536,
    supportedGenerationMethods: ['generateContent', 'countTokens'],
    thinking,
  };
}

/** Starts a Gemini API emulator on loopback. */
export async function startGeminiEmulator(options: GeminiEmulatorOptions = {}): Promise<GeminiEmulator> {
  const key = options.key ?? DEFAULT_GEMINI_KEY;
  const keys = [...new Set([key, ...(options.keys ?? [])])];
  if (keys.some((k) => typeof k !== 'string' || k === ''))
    throw new TypeError('keys must be non-empty strings');
  const models = [...(options.models ?? DEFAULT_MODELS)];
  const thinkingModels = [...(options.thinkingModels ?? DEFAULT_THINKING_MODELS)];
  const retryDelay = normalizeRetryDelay(options.retryDelay ?? '32s');
  const badKeyStatus = options.badKeyStatus ?? 403;
  if (badKeyStatus !== 400 && badKeyStatus !== 403) throw new TypeError('badKeyStatus must be 400 or 403');
  const whenScriptEmpty = options.whenScriptEmpty ?? 'assistant';
  const streamChunkChars = options.streamChunkChars ?? 24;
  if (!(streamChunkChars >= 1)) throw new TypeError('streamChunkChars must be >= 1');
  const maxBodyBytes = options.maxBodyBytes ?? 20 * 1024 * 1024;
  const logLimit = options.requestLogLimit ?? 10_000;

  let faults = normalizeFaults(options.faults ?? {});
  const scripts = new ScriptQueues();
  if (options.script) scripts.add(options.script);
  const requestLog: GeminiRequestLogEntry[] = [];
  const sleepers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  let closed = false;

  const isThinking = (model: string) => thinkingModels.some((prefix) => model.startsWith(prefix));

  const sleep = (ms: number): Promise<void> =>
    ms <= 0 || closed
      ? Promise.resolve()
      : new Promise((resolve) => {
          const sleeper = {
            timer: setTimeout(() => {
              sleepers.delete(sleeper);
              resolve();
            }, ms),
            resolve,
          };
          sleepers.add(sleeper);
        });

  function readBody(req: IncomingMessage): Promise<{ text: string } | { tooLarge: true }> {
    return new Promise((resolve, reject) => {
      let size = Number(req.headers['content-length'] ?? 0);
      let tooLarge = size > maxBodyBytes;
      size = 0;
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBodyBytes) tooLarge = true;
        if (!tooLarge) chunks.push(chunk);
      });
      req.on('end', () =>
        resolve(tooLarge ? { tooLarge: true } : { text: Buffer.concat(chunks).toString('utf8') }),
      );
      req.on('error', reject);
    });
  }

  /** The answer a script or the assistant gives to a valid generateContent request. */
  async function answerFor(
    parsed: ParsedRequest,
    view: GeminiRequestView,
  ): Promise<{ answer: ModelAnswer; by: AnsweredBy } | { error: GeminiError; by: AnsweredBy }> {
    const thinking = isThinking(view.model);
    const turn = scripts.take(view.scope, view.key);
    if (turn === undefined) {
      if (whenScriptEmpty === 'error' && scripts.hasQueue(view.scope, view.key))
        return {
          error: errors.emulatorFailure('the script is used up (whenScriptEmpty: "error")'),
          by: 'emulator',
        };
      const reply = assistantAnswer(parsed);
      return {
        answer: {
          ...('text' in reply ? { text: reply.text } : {}),
          functionCalls: 'functionCalls' in reply ? reply.functionCalls : [],
          finishReason: 'STOP',
          thoughtSignature: thinking,
        },
        by: 'assistant',
      };
    }
    let scripted: ScriptedAnswer;
    try {
      scripted =
        typeof turn === 'function' ? checkAnswer(await turn(view), 'scripted function result') : turn;
    } catch (err) {
      return {
        error: errors.emulatorFailure(
          `scripted turn failed: ${err instanceof Error ? err.message : String(err)}`,
        ),
        by: 'script',
      };
    }
    if ('error' in scripted) {
      const spec = scripted.error;
      return {
        error: googleError(statusCode(spec.status), {
          ...(spec.message !== undefined ? { message: spec.message } : {}),
          retryDelay: spec.retryDelay !== undefined ? normalizeRetryDelay(spec.retryDelay) : retryDelay,
          model: view.model,
          ...(spec.details !== undefined ? { details: spec.details } : {}),
        }),
        by: 'script',
      };
    }
    return {
      answer: {
        ...(scripted.text !== undefined ? { text: scripted.text } : {}),
        functionCalls: scripted.functionCalls ?? [],
        finishReason: scripted.finishReason ?? 'STOP',
        thoughtSignature: scripted.thoughtSignature ?? thinking,
        ...(scripted.usageMetadata ? { usageMetadata: scripted.usageMetadata } : {}),
      },
      by: 'script',
    };
  }

  async function processApiRequest(
    req: IncomingMessage,
    url: URL,
    entry: Partial<GeminiRequestLogEntry>,
  ): Promise<Outcome> {
    const received = await readBody(req);
    let body: unknown;
    let badJson = false;
    if ('text' in received && received.text.trim() !== '') {
      try {
        body = JSON.parse(received.text);
      } catch {
        badJson = true;
        body = received.text;
      }
    }
    entry.body = body;

    const headerKey = req.headers['x-goog-api-key'];
    const givenKey =
      (Array.isArray(headerKey) ? headerKey[0] : headerKey) ?? url.searchParams.get('key') ?? '';
    if (givenKey === '') throw Object.assign(errors.missingKey(), { by: 'auth' });
    if (!keys.includes(givenKey)) throw Object.assign(errors.badKey(badKeyStatus), { by: 'auth' });

    const method = req.method ?? 'GET';
    const route = parseRoute(method, url.pathname);
    if (!route) throw errors.routeNotFound(url.pathname);
    entry.action = route.action;
    if (route.model !== undefined) {
      entry.model = route.model;
      if (!models.includes(route.model))
        throw errors.modelNotFound(route.model, route.action === 'get' ? 'get' : route.action);
    }
    if (route.action === 'list')
      return {
        kind: 'json',
        status: 200,
        body: { models: models.map((m) => modelInfo(m, isThinking(m))) },
        by: 'emulator',
      };
    if (route.action === 'get')
      return {
        kind: 'json',
        status: 200,
        body: modelInfo(route.model!, isThinking(route.model!)),
        by: 'emulator',
      };
    const model = route.model!;

    await sleep(drawLatency(faults.latencyMs));
    const failure = takeFailure(faults);
    if (failure)
      throw Object.assign(
        googleError(failure.status, {
          ...(failure.message !== undefined ? { message: failure.message } : {}),
          retryDelay: failure.retryDelay ?? retryDelay,
          model,
        }),
        { by: 'fault' },
      );
    if (faults.serverErrorRate > 0 && Math.random() < faults.serverErrorRate) {
      const statuses = faults.serverErrorStatuses;
      const status = statuses[Math.floor(Math.random() * statuses.length)]!;
      throw Object.assign(googleError(status, { retryDelay, model }), { by: 'fault' });
    }

    if ('tooLarge' in received) throw errors.tooLarge(maxBodyBytes);
    if (badJson) throw errors.badJson();
    const thinking = isThinking(model);

    if (route.action === 'countTokens') {
      const raw =
        isObject(body) && isObject(body.generateContentRequest) ? body.generateContentRequest : body;
      const { model: _model, ...rest } = isObject(raw) ? raw : {};
      const parsed = parseGenerateContent(rest, { thinking: false });
      const totalTokens = Math.max(1, tokensOf(requestChars(parsed.body)));
      return {
        kind: 'json',
        status: 200,
        body: { totalTokens, promptTokensDetails: [{ modality: 'TEXT', tokenCount: totalTokens }] },
        by: 'emulator',
      };
    }

    const parsed = parseGenerateContent(body, { thinking });
    const scopeHeader = req.headers[SCOPE_HEADER];
    const scope = Array.isArray(scopeHeader) ? scopeHeader[0] : scopeHeader;
    const stream = route.action === 'streamGenerateContent';
    const view: GeminiRequestView = {
      model,
      stream,
      key: givenKey,
      ...(scope !== undefined ? { scope } : {}),
      body: parsed.body,
      ...(parsed.lastUserText !== undefined ? { lastUserText: parsed.lastUserText } : {}),
      functionResponses: parsed.functionResponses,
      declaredFunctions: parsed.declarations.map((d) => d.name),
    };
    const result = await answerFor(parsed, view);
    if ('error' in result) throw Object.assign(result.error, { by: result.by });
    const context: AnswerContext = {
      model,
      promptChars: requestChars(parsed.body),
      thinking,
      streamChunkChars,
    };
    if (stream) return { kind: 'stream', chunks: buildStream(result.answer, context), by: result.by };
    return { kind: 'json', status: 200, body: buildResponse(result.answer, context), by: result.by };
  }

  function send(res: ServerResponse, status: number, body: unknown): void {
    if (res.headersSent || res.destroyed) return;
    if (body === undefined) {
      res.writeHead(status).end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=UTF-8',
      'Content-Length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  async function writeStream(res: ServerResponse, chunks: GenerateContentResponse[]): Promise<void> {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
    });
    for (let i = 0; i < chunks.length; i++) {
      if (closed || res.destroyed) return;
      if (i > 0) await sleep(faults.streamChunkDelayMs);
      res.write(`data: ${JSON.stringify(chunks[i])}\n\n`);
    }
    res.end();
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const url = new URL(req.url ?? '/', 'http://emulator');
    const entry: Partial<GeminiRequestLogEntry> = {};
    let outcome: Outcome;
    try {
      outcome = await processApiRequest(req, url, entry);
    } catch (err) {
      if (err instanceof GeminiError) {
        const by = (err as GeminiError & { by?: AnsweredBy }).by ?? 'validation';
        outcome = { kind: 'json', status: err.status, body: err.body, by };
      } else {
        process.emitWarning(
          `gemini emulator: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        );
        const failure = errors.emulatorFailure('failed to handle this request');
        outcome = { kind: 'json', status: 500, body: failure.body, by: 'emulator' };
      }
    }
    if (outcome.kind === 'stream') await writeStream(res, outcome.chunks);
    else send(res, outcome.status, outcome.body);
    const redacted = (req.url ?? '/').replace(/([?&]key=)[^&]*/g, '$1REDACTED');
    requestLog.push({
      at,
      method: req.method ?? 'GET',
      path: redacted,
      ...(entry.model !== undefined ? { model: entry.model } : {}),
      ...(entry.action !== undefined ? { action: entry.action } : {}),
      stream: entry.action === 'streamGenerateContent',
      status: outcome.kind === 'stream' ? 200 : outcome.status,
      durationMs: Date.now() - at,
      answeredBy: outcome.by,
      ...(typeof req.headers[SCOPE_HEADER] === 'string' ? { scope: req.headers[SCOPE_HEADER] } : {}),
      ...(entry.body !== undefined ? { body: entry.body } : {}),
      response: outcome.kind === 'stream' ? outcome.chunks : outcome.body,
    });
    if (requestLog.length > logLimit) requestLog.splice(0, requestLog.length - logLimit);
  }

  async function handleControl(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const controlError = (status: number, message: string) =>
      send(res, status, googleError(status, { message }).body);
    if (!isLoopback(req.socket.remoteAddress))
      return controlError(403, 'The control API answers loopback callers only');
    const url = new URL(req.url ?? '/', 'http://emulator');
    const received = await readBody(req);
    let body: unknown;
    if ('text' in received && received.text.trim() !== '') {
      try {
        body = JSON.parse(received.text);
      } catch {
        return controlError(400, 'Invalid JSON payload received. Unexpected token.');
      }
    }
    const name = url.pathname.replace(/^\/__emulator\/?/, '').replace(/\/$/, '');
    try {
      switch (`${req.method ?? 'GET'} ${name}`) {
        case 'GET health':
          return send(res, 200, {
            status: 'ok',
            url: emulator.url,
            models,
            thinkingModels,
            pendingScript: scripts.pending(),
          });
        case 'GET requests': {
          const since = Number(url.searchParams.get('since') ?? 0);
          return send(res, 200, {
            requests: requestLog.filter((e) => e.at >= (Number.isFinite(since) ? since : 0)),
          });
        }
        case 'DELETE requests':
          requestLog.length = 0;
          return send(res, 204, undefined);
        case 'GET script':
          return send(res, 200, { pending: scripts.pending() });
        case 'POST script': {
          const turns = Array.isArray(body) ? body : isObject(body) ? body.turns : undefined;
          const scope = isObject(body) && typeof body.scope === 'string' ? body.scope : undefined;
          if (!Array.isArray(turns))
            return controlError(400, 'Send an array of turns, or {"turns": [...], "scope"?}');
          const queued = scripts.add(turns as ScriptedTurn[], scope);
          return send(res, 200, { queued, pending: scripts.pending() });
        }
        case 'DELETE script':
          scripts.clear(url.searchParams.get('scope') ?? undefined);
          return send(res, 204, undefined);
        case 'GET faults':
          return send(res, 200, faults);
        case 'PUT faults':
          faults = normalizeFaults((body ?? {}) as GeminiFaults);
          return send(res, 200, faults);
        case 'POST reset':
          emulator.reset();
          return send(res, 204, undefined);
        default:
          return controlError(404, `No control endpoint ${req.method ?? 'GET'} ${url.pathname}`);
      }
    } catch (err) {
      if (err instanceof TypeError) return controlError(400, err.message);
      throw err;
    }
  }

  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    const handler = path === '/__emulator' || path.startsWith('/__emulator/') ? handleControl : handleApi;
    handler(req, res).catch((err: unknown) => {
      process.emitWarning(`gemini emulator: ${err instanceof Error ? err.message : String(err)}`);
      send(res, 500, errors.emulatorFailure('failed to handle this request').body);
    });
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = options.host ?? '127.0.0.1';
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;

  const emulator: GeminiEmulator = {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    key,
    keys,
    models,
    script(turns, scriptOptions) {
      return scripts.add(turns, scriptOptions?.scope);
    },
    clearScript(scope) {
      scripts.clear(scope);
    },
    pendingScript() {
      return scripts.pending();
    },
    setFaults(next) {
      faults = normalizeFaults(next);
    },
    faults() {
      return structuredClone(faults);
    },
    requests() {
      return requestLog.slice();
    },
    clearRequests() {
      requestLog.length = 0;
    },
    reset() {
      scripts.clear();
      faults = normalizeFaults({});
      requestLog.length = 0;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const sleeper of sleepers) {
        clearTimeout(sleeper.timer);
        sleeper.resolve();
      }
      sleepers.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  return emulator;
}

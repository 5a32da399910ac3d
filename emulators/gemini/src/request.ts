/**
 * Reading a `generateContent` body: Google's JSON parser (unknown names refused, camelCase or
 * snake_case accepted), the `Schema` subset of function declarations, the turn order of function
 * calls and responses, and the thought-signature check of Gemini 3 models.
 */
import { errors, fieldViolations } from './errors';
import type {
  GenerateContentRequest,
  WireContent,
  WireFunctionDeclaration,
  WireFunctionResponse,
  WirePart,
  WireTool,
} from './types';

/** A request body as read: normalized to camelCase, with what the answerers need pre-computed. */
export interface ParsedRequest {
  body: GenerateContentRequest;
  declarations: WireFunctionDeclaration[];
  lastUserText?: string;
  functionResponses: WireFunctionResponse[];
}

type Violation = { field: string; description: string };

const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Maps both spellings of each known field to its camelCase name. */
function fieldMap(names: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const name of names) {
    map.set(name, name);
    map.set(snake(name), name);
  }
  return map;
}

const REQUEST_FIELDS = fieldMap([
  'model',
  'contents',
  'systemInstruction',
  'tools',
  'toolConfig',
  'safetySettings',
  'generationConfig',
  'cachedContent',
  'serviceTier',
  'store',
]);
const CONTENT_FIELDS = fieldMap(['role', 'parts']);
const PART_DATA_FIELDS = [
  'text',
  'inlineData',
  'fileData',
  'functionCall',
  'functionResponse',
  'executableCode',
  'codeExecutionResult',
  'toolCall',
  'toolResponse',
];
const PART_FIELDS = fieldMap([
  ...PART_DATA_FIELDS,
  'thought',
  'thoughtSignature',
  'videoMetadata',
  'mediaResolution',
  'partMetadata',
]);
const DECLARATION_FIELDS = fieldMap([
  'name',
  'description',
  'parameters',
  'parametersJsonSchema',
  'response',
  'responseJsonSchema',
  'behavior',
]);
/** The OpenAPI-subset `Schema` of the Gemini API: anything else (e.g. `additionalProperties`, `$schema`) is refused. */
const SCHEMA_FIELDS = fieldMap([
  'type',
  'format',
  'title',
  'description',
  'nullable',
  'enum',
  'maxItems',
  'minItems',
  'properties',
  'required',
  'minProperties',
  'maxProperties',
  'minLength',
  'maxLength',
  'pattern',
  'example',
  'anyOf',
  'propertyOrdering',
  'default',
  'items',
  'minimum',
  'maximum',
]);
const SCHEMA_TYPES = new Set([
  'TYPE_UNSPECIFIED',
  'STRING',
  'NUMBER',
  'INTEGER',
  'BOOLEAN',
  'ARRAY',
  'OBJECT',
  'NULL',
]);
const MODES = new Set(['MODE_UNSPECIFIED', 'AUTO', 'ANY', 'NONE', 'VALIDATED']);
const FUNCTION_NAME = /^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$/;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const bad = (message: string) => errors.invalidArgument(message);

/** Renames known snake_case keys to camelCase and records unknown ones. */
function normalizeKeys(
  value: Record<string, unknown>,
  known: Map<string, string>,
  at: string,
  violations: Violation[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    const name = known.get(key);
    if (name === undefined) {
      violations.push({
        field: at,
        description: `Invalid JSON payload received. Unknown name "${key}"${at ? ` at '${at}'` : ''}: Cannot find field.`,
      });
    } else out[name] = field;
  }
  return out;
}

function readPart(raw: unknown, at: string, violations: Violation[]): WirePart {
  if (!isObject(raw)) throw bad(`Invalid value at '${at}': a part must be an object.`);
  const part = normalizeKeys(raw, PART_FIELDS, at, violations) as WirePart;
  const data = PART_DATA_FIELDS.filter((name) => part[name] !== undefined && part[name] !== null);
  if (data.length === 0)
    throw bad(
      `* GenerateContentRequest.${at}.data: required oneof field 'data' must have one initialized field\n`,
    );
  if (data.length > 1)
    throw bad(
      `Invalid JSON payload received. Oneof field 'data' is already set. Cannot set '${snake(data[1]!)}'`,
    );
  if (part.text !== undefined && typeof part.text !== 'string')
    throw bad(`Invalid value at '${at}.text' (TYPE_STRING), ${JSON.stringify(part.text)}`);
  if (part.thoughtSignature !== undefined && typeof part.thoughtSignature !== 'string')
    throw bad(
      `Invalid value at '${at}.thought_signature' (TYPE_BYTES), ${JSON.stringify(part.thoughtSignature)}`,
    );
  if (part.functionCall !== undefined) {
    const call = part.functionCall as unknown;
    if (!isObject(call) || typeof call.name !== 'string' || call.name === '')
      throw bad(`* GenerateContentRequest.${at}.function_call.name: Name cannot be empty.\n`);
    if (call.args !== undefined && !isObject(call.args))
      throw bad(`Invalid value at '${at}.function_call.args' (type.googleapis.com/google.protobuf.Struct)`);
  }
  if (part.functionResponse !== undefined) {
    const response = part.functionResponse as unknown;
    if (!isObject(response) || typeof response.name !== 'string' || response.name === '')
      throw bad(`* GenerateContentRequest.${at}.function_response.name: Name cannot be empty.\n`);
    if (response.response !== undefined && !isObject(response.response))
      throw bad(
        `Invalid value at '${at}.function_response.response' (type.googleapis.com/google.protobuf.Struct)`,
      );
  }
  return part;
}

function readContent(raw: unknown, at: string, violations: Violation[], system = false): WireContent {
  if (!isObject(raw)) throw bad(`Invalid value at '${at}': a content must be an object.`);
  const content = normalizeKeys(raw, CONTENT_FIELDS, at, violations);
  const role = content.role;
  if (!system && role !== undefined && role !== '' && role !== 'user' && role !== 'model')
    throw bad('Please use a valid role: user, model.');
  const parts = content.parts;
  if (!Array.isArray(parts) || parts.length === 0)
    throw bad(`* GenerateContentRequest.${at}.parts: contents.parts must not be empty.\n`);
  return {
    role: role === 'model' ? 'model' : 'user',
    parts: parts.map((part, j) => readPart(part, `${at}.parts[${j}]`, violations)),
  };
}

function checkSchema(raw: unknown, at: string, violations: Violation[]): void {
  if (!isObject(raw))
    throw bad(`Invalid value at '${at}' (type.googleapis.com/google.ai.generativelanguage.v1beta.Schema)`);
  const schema = normalizeKeys(raw, SCHEMA_FIELDS, at, violations);
  if (schema.type !== undefined) {
    if (typeof schema.type !== 'string' || !SCHEMA_TYPES.has(schema.type.toUpperCase()))
      throw bad(
        `Invalid value at '${at}.type' (type.googleapis.com/google.ai.generativelanguage.v1beta.Type), ${JSON.stringify(schema.type)}`,
      );
  }
  if (schema.properties !== undefined) {
    if (!isObject(schema.properties)) throw bad(`Invalid value at '${at}.properties'`);
    Object.values(schema.properties).forEach((value, k) =>
      checkSchema(value, `${at}.properties[${k}].value`, violations),
    );
  }
  if (schema.items !== undefined) checkSchema(schema.items, `${at}.items`, violations);
  if (schema.anyOf !== undefined) {
    if (!Array.isArray(schema.anyOf)) throw bad(`Invalid value at '${at}.any_of'`);
    schema.anyOf.forEach((value, k) => checkSchema(value, `${at}.any_of[${k}]`, violations));
  }
  for (const list of ['required', 'enum', 'propertyOrdering'] as const) {
    const value = schema[list];
    if (value !== undefined && (!Array.isArray(value) || value.some((v) => typeof v !== 'string')))
      throw bad(`Invalid value at '${at}.${snake(list)}' (TYPE_STRING)`);
  }
}

function readTools(
  raw: unknown,
  violations: Violation[],
): { tools: WireTool[]; declarations: WireFunctionDeclaration[] } {
  if (!Array.isArray(raw)) throw bad("Invalid value at 'tools': tools must be a list.");
  const declarations: WireFunctionDeclaration[] = [];
  const names = new Set<string>();
  const tools = raw.map((tool, i): WireTool => {
    if (!isObject(tool)) throw bad(`Invalid value at 'tools[${i}]': a tool must be an object.`);
    const list = tool.functionDeclarations ?? tool.function_declarations;
    if (list === undefined) return tool as WireTool;
    if (!Array.isArray(list)) throw bad(`Invalid value at 'tools[${i}].function_declarations'`);
    const functionDeclarations = list.map((rawDeclaration, j): WireFunctionDeclaration => {
      const at = `tools[${i}].function_declarations[${j}]`;
      if (!isObject(rawDeclaration)) throw bad(`Invalid value at '${at}'`);
      const declaration = normalizeKeys(rawDeclaration, DECLARATION_FIELDS, at, violations);
      const name = declaration.name;
      if (typeof name !== 'string' || !FUNCTION_NAME.test(name))
        throw bad(
          `* GenerateContentRequest.${at}.name: Invalid function name. Must start with a letter or an underscore. Must be alphameric (a-z, A-Z, 0-9), underscores (_), dots (.), colons (:), or dashes (-), with a maximum length of 64.\n`,
        );
      if (names.has(name)) throw bad(`Duplicate function declaration found: ${name}`);
      names.add(name);
      if (declaration.parameters !== undefined && declaration.parametersJsonSchema !== undefined)
        throw bad(
          `* GenerateContentRequest.${at}: parameters and parameters_json_schema cannot both be set; use one of them.\n`,
        );
      if (declaration.parameters !== undefined)
        checkSchema(declaration.parameters, `${at}.parameters`, violations);
      if (declaration.response !== undefined) checkSchema(declaration.response, `${at}.response`, violations);
      if (
        declaration.parametersJsonSchema !== undefined &&
        !isObject(declaration.parametersJsonSchema) &&
        typeof declaration.parametersJsonSchema !== 'boolean'
      )
        throw bad(
          `Invalid value at '${at}.parameters_json_schema' (type.googleapis.com/google.protobuf.Value)`,
        );
      return declaration as unknown as WireFunctionDeclaration;
    });
    declarations.push(...functionDeclarations);
    const { function_declarations: _snake, ...rest } = tool;
    return { ...rest, functionDeclarations };
  });
  return { tools, declarations };
}

function readToolConfig(raw: unknown): GenerateContentRequest['toolConfig'] {
  if (!isObject(raw)) throw bad("Invalid value at 'tool_config'");
  const config = raw.functionCallingConfig ?? raw.function_calling_config;
  if (config === undefined) return {};
  if (!isObject(config)) throw bad("Invalid value at 'tool_config.function_calling_config'");
  const mode = config.mode;
  if (mode !== undefined && (typeof mode !== 'string' || !MODES.has(mode)))
    throw bad(
      `Invalid value at 'tool_config.function_calling_config.mode' (type.googleapis.com/google.ai.generativelanguage.v1beta.FunctionCallingConfig.Mode), ${JSON.stringify(mode)}`,
    );
  const allowed = config.allowedFunctionNames ?? config.allowed_function_names;
  if (allowed !== undefined && (!Array.isArray(allowed) || allowed.some((n) => typeof n !== 'string')))
    throw bad("Invalid value at 'tool_config.function_calling_config.allowed_function_names' (TYPE_STRING)");
  return {
    functionCallingConfig: {
      ...(mode !== undefined ? { mode: mode as 'AUTO' } : {}),
      ...(allowed !== undefined ? { allowedFunctionNames: allowed as string[] } : {}),
    },
  };
}

function readGenerationConfig(raw: unknown): Record<string, unknown> {
  if (!isObject(raw)) throw bad("Invalid value at 'generation_config'");
  const number = (name: string, min: number, max: number, integer = false) => {
    const value = raw[name] ?? raw[snake(name)];
    if (value === undefined) return;
    if (typeof value !== 'number' || (integer && !Number.isInteger(value)))
      throw bad(
        `Invalid value at 'generation_config.${snake(name)}' (${integer ? 'TYPE_INT32' : 'TYPE_FLOAT'}), ${JSON.stringify(value)}`,
      );
    if (value < min || value > max)
      throw bad(`* GenerateContentRequest.generation_config.${snake(name)}: must be in [${min}, ${max}]\n`);
  };
  number('temperature', 0, 2);
  number('topP', 0, 1);
  number('maxOutputTokens', 1, 2 ** 31 - 1, true);
  number('candidateCount', 1, 8, true);
  return raw;
}

type Turn = { role: 'user' | 'model'; start: number; contents: WireContent[] };

/** Consecutive contents of one role form one turn (a streamed answer is replayed as several). */
function turnsOf(contents: WireContent[]): Turn[] {
  const turns: Turn[] = [];
  contents.forEach((content, index) => {
    const role = content.role === 'model' ? 'model' : 'user';
    const last = turns[turns.length - 1];
    if (last && last.role === role) last.contents.push(content);
    else turns.push({ role, start: index, contents: [content] });
  });
  return turns;
}

const countParts = (turn: Turn | undefined, field: 'functionCall' | 'functionResponse'): number =>
  turn ? turn.contents.reduce((n, c) => n + c.parts.filter((p) => p[field] !== undefined).length, 0) : 0;

/** Function calls must answer a user turn, and function responses must answer every call of the turn before. */
function checkFunctionTurns(contents: WireContent[]): void {
  const turns = turnsOf(contents);
  turns.forEach((turn, t) => {
    if (turn.role === 'model' && countParts(turn, 'functionCall') > 0 && t === 0)
      throw bad(
        'Please ensure that function call turn comes immediately after a user turn or after a function response turn.',
      );
    const responses = countParts(turn, 'functionResponse');
    if (turn.role === 'user' && responses > 0) {
      const calls = countParts(turns[t - 1], 'functionCall');
      if (calls === 0)
        throw bad('Please ensure that function response turn comes immediately after a function call turn.');
      if (calls !== responses)
        throw bad(
          'Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.',
        );
    }
  });
}

/**
 * Gemini 3: the first function call of every model turn of the current turn (since the latest user
 * text) must carry the signature it was given.
 */
function checkThoughtSignatures(contents: WireContent[]): void {
  let since = 0;
  contents.forEach((content, index) => {
    if (content.role !== 'model' && content.parts.some((p) => typeof p.text === 'string')) since = index;
  });
  for (const turn of turnsOf(contents)) {
    if (turn.role !== 'model' || turn.start < since) continue;
    for (let k = 0; k < turn.contents.length; k++) {
      const part = turn.contents[k]!.parts.find((p) => p.functionCall !== undefined);
      if (!part) continue;
      if (typeof part.thoughtSignature !== 'string' || part.thoughtSignature === '')
        throw errors.missingThoughtSignature(part.functionCall!.name, turn.start + k + 1);
      break;
    }
  }
}

/** Reads and checks a generateContent body; throws a `GeminiError` with Google's 400 answers. */
export function parseGenerateContent(raw: unknown, options: { thinking: boolean }): ParsedRequest {
  if (!isObject(raw)) throw bad('Invalid JSON payload received. Root element must be a message.');
  const violations: Violation[] = [];
  const top = normalizeKeys(raw, REQUEST_FIELDS, '', violations);
  // Unknown top-level names are reported first, as Google's parser does.
  if (violations.length > 0) throw fieldViolations(violations);
  if (!Array.isArray(top.contents) || top.contents.length === 0)
    throw bad('* GenerateContentRequest.contents: contents is not specified\n');
  const contents = top.contents.map((content, i) => readContent(content, `contents[${i}]`, violations));
  const body: GenerateContentRequest = { contents };
  if (top.systemInstruction !== undefined) {
    const system = readContent(top.systemInstruction, 'system_instruction', violations, true);
    body.systemInstruction = { parts: system.parts };
  }
  let declarations: WireFunctionDeclaration[] = [];
  if (top.tools !== undefined) {
    const read = readTools(top.tools, violations);
    body.tools = read.tools;
    declarations = read.declarations;
  }
  if (top.toolConfig !== undefined) body.toolConfig = readToolConfig(top.toolConfig);
  if (top.generationConfig !== undefined) body.generationConfig = readGenerationConfig(top.generationConfig);
  if (top.safetySettings !== undefined) {
    if (!Array.isArray(top.safetySettings)) throw bad("Invalid value at 'safety_settings'");
    body.safetySettings = top.safetySettings;
  }
  if (typeof top.cachedContent === 'string') body.cachedContent = top.cachedContent;
  if (violations.length > 0) throw fieldViolations(violations);

  checkFunctionTurns(contents);
  if (options.thinking) checkThoughtSignatures(contents);

  let lastUserText: string | undefined;
  for (let i = contents.length - 1; i >= 0 && lastUserText === undefined; i--) {
    const content = contents[i]!;
    if (content.role === 'model') continue;
    const texts = content.parts.filter((p) => typeof p.text === 'string' && !p.thought).map((p) => p.text!);
    if (texts.length > 0) lastUserText = texts.join('\n');
  }
  const last = contents[contents.length - 1]!;
  const functionResponses =
    last.role === 'user'
      ? last.parts.filter((p) => p.functionResponse !== undefined).map((p) => p.functionResponse!)
      : [];
  return { body, declarations, ...(lastUserText !== undefined ? { lastUserText } : {}), functionResponses };
}

/** Total characters of everything a request sends the model (for token estimates). */
export function requestChars(body: GenerateContentRequest): number {
  let chars = 0;
  const countPart = (part: WirePart) => {
    if (typeof part.text === 'string') chars += part.text.length;
    else if (part.functionCall) chars += JSON.stringify(part.functionCall).length;
    else if (part.functionResponse) chars += JSON.stringify(part.functionResponse).length;
    else if (part.inlineData?.data) chars += Math.ceil(part.inlineData.data.length / 4);
  };
  for (const content of body.contents) content.parts.forEach(countPart);
  body.systemInstruction?.parts.forEach(countPart);
  if (body.tools) chars += JSON.stringify(body.tools).length;
  return chars;
}

/**
 * The emulator's built-in assistant, used when no script answers a request: small and
 * deterministic. Asked about bases, tables or records while such tools are declared (the names of
 * airtable-mcp-server: list_bases, list_tables, describe_table, list_records, search_records,
 * get_record, …), it calls the matching tool with arguments filled in from the conversation and the
 * tool's schema; given the function responses, it summarises them in text; otherwise it echoes.
 */
import type { ParsedRequest } from './request';
import type { ScriptedFunctionCall, WireContent, WireFunctionDeclaration } from './types';

export type AssistantAnswer = { text: string } | { functionCalls: ScriptedFunctionCall[] };

const BASE_ID = /\bapp[A-Za-z0-9]{14}\b/;
const TABLE_ID = /\btbl[A-Za-z0-9]{14}\b/g;
const RECORD_ID = /\brec[A-Za-z0-9]{14}\b/;
const STOPWORDS = new Set([
  'the',
  'a',
  'an',
  'all',
  'my',
  'our',
  'this',
  'that',
  'each',
  'every',
  'table',
  'tables',
  'record',
  'records',
  'row',
  'rows',
  'entries',
  'base',
  'bases',
  'there',
  'are',
  'is',
  'it',
  'them',
  'me',
  'us',
  'and',
]);

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

interface Slots {
  baseId?: string;
  table?: string;
  recordId?: string;
  searchTerm?: string;
  maxRecords?: number;
}

interface Shape {
  properties: string[];
  required: string[];
}

function shapeOf(declaration: WireFunctionDeclaration): Shape {
  const schema = (declaration.parameters ?? declaration.parametersJsonSchema) as unknown;
  if (!isObject(schema)) return { properties: [], required: [] };
  const properties = isObject(schema.properties) ? Object.keys(schema.properties) : [];
  const required = Array.isArray(schema.required)
    ? schema.required.filter((r): r is string => typeof r === 'string')
    : [];
  return { properties, required };
}

/** Arguments for a tool from what the conversation gave, or the first required one that is missing. */
function fillArgs(
  declaration: WireFunctionDeclaration,
  slots: Slots,
): { args: Record<string, unknown> } | { missing: string } {
  const { properties, required } = shapeOf(declaration);
  const args: Record<string, unknown> = {};
  for (const property of properties) {
    let value: unknown;
    if (/^base(Id)?$/i.test(property)) value = slots.baseId;
    else if (/^(tableId|tableIdOrName|tableName|table)$/i.test(property)) value = slots.table;
    else if (/^record(Id)?$/i.test(property)) value = slots.recordId;
    else if (/^(searchTerm|query|search|term)$/i.test(property)) value = slots.searchTerm;
    else if (/^(maxRecords|limit|pageSize)$/i.test(property)) value = slots.maxRecords;
    if (value !== undefined) args[property] = value;
  }
  const missing = required.find((name) => args[name] === undefined);
  return missing === undefined ? { args } : { missing };
}

function textsOf(contents: WireContent[]): string[] {
  const texts: string[] = [];
  for (const content of contents)
    for (const part of content.parts) {
      if (typeof part.text === 'string') texts.push(part.text);
      if (part.functionResponse) texts.push(JSON.stringify(part.functionResponse.response ?? {}));
    }
  return texts;
}

/** Parses what a tool returned: `{output}`, `{result}`, MCP `{content:[{type:'text',text}]}`, JSON text. */
function unwrap(response: Record<string, unknown> | undefined): { error?: string; value: unknown } {
  if (!response) return { value: undefined };
  if (response.error !== undefined) {
    const error = response.error;
    const message =
      isObject(error) && typeof error.message === 'string' ? error.message : JSON.stringify(error);
    return { error: message, value: undefined };
  }
  let value: unknown =
    'output' in response ? response.output : 'result' in response ? response.result : response;
  if (isObject(value) && Array.isArray(value.content)) {
    const text = value.content
      .filter((c): c is { text: string } => isObject(c) && typeof c.text === 'string')
      .map((c) => c.text)
      .join('\n');
    if (value.isError === true) return { error: text, value: undefined };
    value = text;
  }
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      // plain text stays text
    }
  }
  return { value };
}

function listIn(value: unknown, preferred: string[]): unknown[] | undefined {
  if (Array.isArray(value)) return value;
  if (!isObject(value)) return undefined;
  for (const key of preferred) if (Array.isArray(value[key])) return value[key] as unknown[];
  const arrays = Object.values(value).filter(Array.isArray);
  return arrays.length === 1 ? (arrays[0] as unknown[]) : undefined;
}

function labelOf(item: unknown): string {
  if (!isObject(item)) return String(item);
  if (typeof item.name === 'string') return item.name;
  if (isObject(item.fields)) {
    if (typeof item.fields.Name === 'string') return item.fields.Name;
    const first = Object.values(item.fields).find((v) => typeof v === 'string');
    if (typeof first === 'string') return first;
  }
  return typeof item.id === 'string' ? item.id : JSON.stringify(item).slice(0, 40);
}

function names(items: unknown[]): string {
  const shown = items.slice(0, 5).map(labelOf).join(', ');
  return items.length > 5 ? `${shown} and ${items.length - 5} more` : shown;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Known table names: from earlier list_tables / describe answers in the conversation. */
function knownTables(contents: WireContent[]): string[] {
  const found = new Set<string>();
  for (const content of contents)
    for (const part of content.parts) {
      const response = part.functionResponse;
      if (!response) continue;
      const value = unwrap(response.response).value;
      const list =
        response.name === 'list_tables'
          ? listIn(value, ['tables'])
          : isObject(value) && Array.isArray(value.tables)
            ? value.tables
            : undefined;
      for (const item of list ?? [])
        if (isObject(item) && typeof item.name === 'string') found.add(item.name);
    }
  return [...found];
}

/** Table names or ids the user's text refers to, in order of appearance. */
export function tablesIn(text: string, known: string[]): string[] {
  const found: string[] = [];
  const add = (name: string) => {
    const trimmed = name.trim();
    if (trimmed === '' || STOPWORDS.has(trimmed.toLowerCase())) return;
    const match = known.find((k) => k.toLowerCase() === trimmed.toLowerCase());
    const value = match ?? trimmed;
    if (!found.includes(value)) found.push(value);
  };
  for (const id of text.match(TABLE_ID) ?? []) add(id);
  for (const quoted of text.matchAll(/["“`]([^"”`]+)["”`]/g)) add(quoted[1]!);
  const lower = text.toLowerCase();
  for (const name of known) {
    const n = name.toLowerCase();
    const singular = n.endsWith('s') ? n.slice(0, -1) : n;
    if (new RegExp(`\\b(${escapeRegExp(n)}|${escapeRegExp(singular)}s?)\\b`).test(lower)) add(name);
  }
  if (found.length > 0) return found;
  const word = '[A-Za-z][\\w-]*';
  const listed = new RegExp(
    `\\b(?:in|from|of|for)\\s+(?:the\\s+)?(?:table\\s+)?(${word}(?:\\s*(?:,|\\band\\b)\\s*(?:the\\s+)?${word})*)`,
    'g',
  );
  for (const match of text.matchAll(listed))
    for (const name of match[1]!.split(/\s*(?:,|\band\b)\s*/)) add(name.replace(/^the\s+/i, ''));
  const howMany = /\bhow many\s+([A-Za-z][\w-]*)/i.exec(text);
  if (howMany) add(howMany[1]!);
  const named = /\btable\s+([A-Za-z][\w-]*)/i.exec(text);
  if (named) add(named[1]!);
  const listCapitalized = /\b(?:list|show)\s+(?:me\s+)?(?:the\s+|all\s+)?([A-Z][\w-]*)/.exec(text);
  if (listCapitalized) add(listCapitalized[1]!);
  return found;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The calls of the model turn the last user turn answers, to know what each response was for. */
function previousCalls(contents: WireContent[]): ScriptedFunctionCall[] {
  const calls: ScriptedFunctionCall[] = [];
  let i = contents.length - 1;
  while (i >= 0 && contents[i]!.role !== 'model') i--;
  while (i >= 0 && contents[i]!.role === 'model') {
    const parts = contents[i]!.parts.filter((p) => p.functionCall).map((p) => p.functionCall!);
    calls.unshift(...parts.map((c) => ({ name: c.name, args: c.args ?? {}, ...(c.id ? { id: c.id } : {}) })));
    i--;
  }
  return calls;
}

function summarise(request: ParsedRequest): string {
  const calls = previousCalls(request.body.contents);
  const asked = request.lastUserText ?? '';
  const counting = /\b(how many|count|number of)\b/i.test(asked);
  const lines = request.functionResponses.map((response, index) => {
    const call = calls.find((c) => response.id !== undefined && c.id === response.id) ?? calls[index];
    const args = call?.args ?? {};
    const table = [args.tableId, args.tableIdOrName, args.tableName, args.table].find(
      (v) => typeof v === 'string',
    ) as string | undefined;
    const { error, value } = unwrap(response.response);
    if (error !== undefined) return `${response.name} failed: ${error}`;
    switch (response.name) {
      case 'list_bases': {
        const list = listIn(value, ['bases']) ?? [];
        return `I found ${plural(list.length, 'base')}${list.length ? `: ${names(list)}` : ''}.`;
      }
      case 'list_tables': {
        const list = listIn(value, ['tables']) ?? [];
        return `The base has ${plural(list.length, 'table')}${list.length ? `: ${names(list)}` : ''}.`;
      }
      case 'list_records':
      case 'search_records': {
        const list = listIn(value, ['records']) ?? [];
        const where = table ? ` in ${table}` : '';
        if (response.name === 'search_records')
          return `Found ${plural(list.length, 'record')} matching "${String(args.searchTerm ?? '')}"${where}${list.length ? `: ${names(list)}` : ''}.`;
        if (counting)
          return `There ${list.length === 1 ? 'is' : 'are'} ${plural(list.length, 'record')}${where}.`;
        return `${table ?? 'The table'} has ${plural(list.length, 'record')}${list.length ? `: ${names(list)}` : ''}.`;
      }
      case 'describe_table': {
        const fields = listIn(value, ['fields']) ?? [];
        const name = isObject(value) && typeof value.name === 'string' ? value.name : (table ?? 'The table');
        return `${name} has ${plural(fields.length, 'field')}${fields.length ? `: ${names(fields)}` : ''}.`;
      }
      case 'get_record': {
        const fields = isObject(value) && isObject(value.fields) ? Object.entries(value.fields) : [];
        const id =
          isObject(value) && typeof value.id === 'string' ? value.id : String(args.recordId ?? 'The record');
        const shown = fields
          .slice(0, 5)
          .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join('; ');
        return `Record ${id}${shown ? ` — ${shown}` : ' has no fields set'}.`;
      }
      default: {
        const list = listIn(value, []);
        if (list)
          return `${response.name} returned ${plural(list.length, 'item')}${list.length ? `: ${names(list)}` : ''}.`;
        const text = typeof value === 'string' ? value : JSON.stringify(value ?? null);
        return `${response.name} returned ${text.length > 200 ? `${text.slice(0, 200)}…` : text}.`;
      }
    }
  });
  return lines.join('\n');
}

/** The built-in answer to a request. */
export function assistantAnswer(request: ParsedRequest): AssistantAnswer {
  if (request.functionResponses.length > 0) return { text: summarise(request) };

  const text = request.lastUserText;
  const config = request.body.toolConfig?.functionCallingConfig;
  const mode = config?.mode ?? 'AUTO';
  const allowed = config?.allowedFunctionNames;
  const callable =
    mode === 'NONE'
      ? []
      : request.declarations.filter((d) => !allowed || allowed.length === 0 || allowed.includes(d.name));
  const tool = (name: string) => callable.find((d) => d.name === name);

  if (text === undefined || text.trim() === '') {
    return { text: 'Hello! I am the Gemini emulator. Ask me about your bases, tables or records.' };
  }
  if (callable.length === 0) return { text: `You said: "${shorten(text)}"` };

  const contents = request.body.contents;
  const everything = [
    text,
    ...textsOf(request.body.systemInstruction ? [request.body.systemInstruction] : []),
    ...textsOf(contents).reverse(),
  ];
  const baseId = everything.map((t) => BASE_ID.exec(t)?.[0]).find((id) => id !== undefined);
  const recordId = RECORD_ID.exec(text)?.[0];
  const tables = tablesIn(text, knownTables(contents));
  const quoted = /["“]([^"”]+)["”]/.exec(text)?.[1];
  const first = /\b(?:first|top|latest)\s+(\d{1,3})\b/i.exec(text);
  const slots: Slots = {
    ...(baseId ? { baseId } : {}),
    ...(recordId ? { recordId } : {}),
    ...(first ? { maxRecords: Number(first[1]) } : {}),
  };

  const plan = (name: string, perTable: boolean, extra: Partial<Slots> = {}): AssistantAnswer | undefined => {
    const declaration = tool(name);
    if (!declaration) return undefined;
    const targets = perTable ? tables : [undefined];
    if (perTable && targets.length === 0) return { text: `Which table do you mean?` };
    const calls: ScriptedFunctionCall[] = [];
    for (const table of targets) {
      const filled = fillArgs(declaration, { ...slots, ...extra, ...(table ? { table } : {}) });
      if ('missing' in filled) return { text: missingText(filled.missing) };
      calls.push({ name, args: filled.args });
    }
    return { functionCalls: calls };
  };

  const lower = text.toLowerCase();
  const answer =
    (recordId ? plan('get_record', true) : undefined) ??
    (/\b(search|find|look (for|up))\b/.test(lower) && quoted
      ? plan('search_records', true, { searchTerm: quoted })
      : undefined) ??
    (/\b(describe|schema|fields|columns|structure)\b/.test(lower)
      ? plan('describe_table', true)
      : undefined) ??
    (/\b(records?|rows?|entries|how many|count)\b/.test(lower) ? plan('list_records', true) : undefined) ??
    (/\btables?\b/.test(lower) ? plan('list_tables', false) : undefined) ??
    (/\bbases?\b/.test(lower) ? plan('list_bases', false) : undefined);
  if (answer) return answer;

  if (mode === 'ANY') {
    // The caller demands a call: the first callable tool, with whatever arguments can be filled.
    const declaration = callable[0]!;
    const filled = fillArgs(declaration, { ...slots, ...(tables[0] ? { table: tables[0] } : {}) });
    return { functionCalls: [{ name: declaration.name, args: 'args' in filled ? filled.args : {} }] };
  }
  return { text: `You said: "${shorten(text)}"` };
}

function missingText(property: string): string {
  if (/^base/i.test(property)) return 'Which base do you mean? Give me its id (app…).';
  if (/^table/i.test(property)) return 'Which table do you mean?';
  if (/^record/i.test(property)) return 'Which record do you mean? Give me its id (rec…).';
  return `I need a value for ${property}.`;
}

const shorten = (text: string) => (text.length > 200 ? `${text.slice(0, 200)}…` : text);

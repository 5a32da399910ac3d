import { readFileSync } from 'node:fs';
import { SUPPORTED_FUNCTIONS, type AirtableEmulator } from '../src';
import { FormulaSyntaxError, UnknownFieldsError, compileFormula } from '../src/formula/evaluate';
import { tokenize } from '../src/formula/parser';
import { formulaDate, type FormulaValue } from '../src/formula/values';
import { BASE_ID, call, client, query, startConformanceEmulator } from './helpers';

const NOW = Date.parse('2025-03-15T12:30:45.000Z');

const FIELDS: Record<string, FormulaValue> = {
  Name: 'Website Refresh',
  'Field Name': 'spaced',
  Empty: null,
  Zero: 0,
  Amount: 1234.5,
  Due: formulaDate(Date.parse('2025-03-20T00:00:00.000Z'), true),
  Tags: ['red', 'blue', 'red', ''],
  Numbers: [1, 2, 3],
  Done: 1,
};

/** Evaluates a formula against a fixed record, the way a formula field or filter would. */
function run(text: string, values?: FormulaValue[]): FormulaValue {
  const compiled = compileFormula(
    text,
    (name) => (name in FIELDS ? { id: name, kind: 'unknown' } : undefined),
    { allowValues: values !== undefined },
  );
  return compiled.evaluate({
    field: (id) => FIELDS[id] ?? null,
    recordId: 'recFormulaTest001',
    createdTime: Date.parse('2025-01-01T08:00:00.000Z'),
    lastModifiedTime: (ids) =>
      ids.length === 0
        ? Date.parse('2025-02-01T08:00:00.000Z')
        : ids.includes('Name')
          ? Date.parse('2025-02-02T00:00:00.000Z')
          : null,
    now: NOW,
    values,
  });
}

const iso = (v: FormulaValue) =>
  v && typeof v === 'object' && !Array.isArray(v) ? new Date(v.ms).toISOString() : v;

describe('formula language', () => {
  it('tokenizes strings in both quotes with backslash escapes, field references and operators', () => {
    const tokens = tokenize(`{Field Name} & 'it\\'s' & "say \\"hi\\"" != 1.5e2 <> .5`);
    expect(tokens.map((t) => t.type)).toEqual([
      'field',
      'op',
      'string',
      'op',
      'string',
      'op',
      'number',
      'op',
      'number',
      'eof',
    ]);
    expect(run(`'it\\'s' & " " & "say \\"hi\\"" & ' ' & "back\\\\slash"`)).toBe(`it's say "hi" back\\slash`);
    expect(run('{Field Name}')).toBe('spaced');
  });

  it('follows arithmetic precedence and associativity, with parentheses', () => {
    expect(run('1 + 2 * 3')).toBe(7);
    expect(run('(1 + 2) * 3')).toBe(9);
    expect(run('10 - 4 - 3')).toBe(3);
    expect(run('12 / 3 / 2')).toBe(2);
    expect(run('-2 * -3')).toBe(6);
    expect(run('2 + 3 & "x"')).toBe('5x');
    expect(run('1 + 1 = 2')).toBe(1);
    expect(run('"a" & "b" = "ab"')).toBe(1);
  });

  it('compares with = != < > <= >= and represents TRUE as 1', () => {
    expect([run('2 > 1'), run('2 < 1'), run('2 >= 2'), run('2 <= 1'), run('2 != 2'), run('2 = 2')]).toEqual([
      1, 0, 1, 0, 0, 1,
    ]);
    expect(run('"b" > "a"')).toBe(1);
    expect(run('{Amount} > "1000"')).toBe(1);
    expect([run('TRUE()'), run('FALSE()'), run('TRUE'), run('FALSE'), run('true')]).toEqual([1, 0, 1, 0, 1]);
    expect(run('{Due} > "2025-03-19"')).toBe(1);
    expect(run('{Due} = "2025-03-20"')).toBe(1);
  });

  it('treats blanks as equal to "", 0 and BLANK(), and 0 and "" as false', () => {
    expect(run('{Empty} = ""')).toBe(1);
    expect(run('{Empty} = BLANK()')).toBe(1);
    expect(run('{Zero} = BLANK()')).toBe(1);
    expect(run('IF({Zero}, "t", "f")')).toBe('f');
    expect(run('IF("", "t", "f")')).toBe('f');
    expect(run('IF({Empty}, "t", "f")')).toBe('f');
    expect(run('IF("x", "t", "f")')).toBe('t');
    expect(run('IF({Tags}, "t", "f")')).toBe('t');
    expect(run('IF(0, "t")')).toBe(null);
    expect(run('NOT({Empty})')).toBe(1);
  });

  it('evaluates the logical functions', () => {
    expect(run('AND(1, "x", {Done})')).toBe(1);
    expect(run('AND(1, 0)')).toBe(0);
    expect(run('OR(0, "", {Zero})')).toBe(0);
    expect(run('OR(0, 2)')).toBe(1);
    expect(run('XOR(1, 1, 1)')).toBe(1);
    expect(run('NOT(1)')).toBe(0);
    expect(run('IF({Amount} > 100, "big", "small")')).toBe('big');
    expect(run('IF(1, "only then")')).toBe('only then');
    // The branch not taken is not evaluated.
    expect(run('IF(1, "safe", ERROR())')).toBe('safe');
    expect(run('SWITCH({Name}, "x", 1, "Website Refresh", 2, 3)')).toBe(2);
    expect(run('SWITCH("none", "x", 1, 99)')).toBe(99);
    expect(run('SWITCH("none", "x", 1)')).toBe(null);
    expect(run('ISERROR(1/0)')).toBe(1);
    expect(run('ISERROR(1)')).toBe(0);
    expect(run('BLANK()')).toBe(null);
    expect(() => run('ERROR()')).toThrow();
  });

  it('evaluates the text functions', () => {
    expect(run('FIND("Re", {Name})')).toBe(9);
    expect(run('FIND("zz", {Name})')).toBe(0);
    expect(run('FIND("e", {Name}, 5)')).toBe(7);
    expect(run('SEARCH("Re", {Name})')).toBe(9);
    expect(run('SEARCH("zz", {Name})')).toBe(null);
    expect(run('LOWER({Name})')).toBe('website refresh');
    expect(run('UPPER("abc")')).toBe('ABC');
    expect(run('LEN({Name})')).toBe(15);
    expect(run('LEN({Empty})')).toBe(0);
    expect(run('CONCATENATE("a", 1, "b")')).toBe('a1b');
    expect(run('LEFT({Name}, 3)')).toBe('Web');
    expect(run('RIGHT({Name}, 3)')).toBe('esh');
    expect(run('MID({Name}, 9, 3)')).toBe('Ref');
    expect(run('TRIM("  x y  ")')).toBe('x y');
    expect(run('SUBSTITUTE("a-b-c", "-", "+")')).toBe('a+b+c');
    expect(run('SUBSTITUTE("a-b-c", "-", "+", 2)')).toBe('a-b+c');
    expect(run('REPLACE("abcdef", 2, 3, "X")')).toBe('aXef');
    expect(run('REPT("ab", 3)')).toBe('ababab');
    expect(run('T("x")')).toBe('x');
    expect(run('T(1)')).toBe('');
    expect(run('VALUE("$1,234.50")')).toBe(1234.5);
    expect(run('ENCODE_URL_COMPONENT("a b&c")')).toBe('a%20b%26c');
    expect(run('REGEX_MATCH({Name}, "^Web")')).toBe(1);
    expect(run('REGEX_EXTRACT({Name}, "[A-Z][a-z]+$")')).toBe('Refresh');
    expect(run('REGEX_REPLACE("a1b22", "[0-9]+", "#")')).toBe('a#b#');
  });

  it('evaluates the numeric functions', () => {
    expect(run('ABS(-3)')).toBe(3);
    expect(run('ROUND(2.345, 2)')).toBe(2.35);
    expect(run('ROUND(-2.5)')).toBe(-3);
    expect(run('ROUNDUP(2.301, 1)')).toBe(2.4);
    expect(run('ROUNDDOWN(2.399, 1)')).toBe(2.3);
    expect(run('CEILING(4.1)')).toBe(5);
    expect(run('CEILING(7, 5)')).toBe(10);
    expect(run('FLOOR(7, 5)')).toBe(5);
    expect(run('INT(-1.5)')).toBe(-2);
    expect(run('MOD(7, 3)')).toBe(1);
    expect(run('MOD(-7, 3)')).toBe(2);
    expect(run('POWER(2, 10)')).toBe(1024);
    expect(run('SQRT(81)')).toBe(9);
    expect(run('EXP(0)')).toBe(1);
    expect(run('LOG(1000)')).toBeCloseTo(3);
    expect(run('LOG(8, 2)')).toBeCloseTo(3);
    expect(run('EVEN(3)')).toBe(4);
    expect(run('ODD(2)')).toBe(3);
    expect(run('SUM(1, 2, {Numbers})')).toBe(9);
    expect(run('AVERAGE({Numbers})')).toBe(2);
    expect(run('MAX(1, {Numbers}, -4)')).toBe(3);
    expect(run('MIN({Numbers})')).toBe(1);
    expect(run('COUNT(1, "a", {Numbers})')).toBe(4);
    expect(run('COUNTA({Tags})')).toBe(3);
    expect(run('COUNTALL({Tags})')).toBe(4);
    expect(() => run('1 / 0')).toThrow();
  });

  it('evaluates the date functions in UTC', () => {
    expect(iso(run('NOW()'))).toBe('2025-03-15T12:30:45.000Z');
    expect(iso(run('TODAY()'))).toBe('2025-03-15T00:00:00.000Z');
    expect(iso(run('CREATED_TIME()'))).toBe('2025-01-01T08:00:00.000Z');
    expect(iso(run('LAST_MODIFIED_TIME()'))).toBe('2025-02-01T08:00:00.000Z');
    expect(iso(run('LAST_MODIFIED_TIME({Name})'))).toBe('2025-02-02T00:00:00.000Z');
    expect(run('LAST_MODIFIED_TIME({Amount})')).toBe(null);
    expect(run("IS_AFTER(LAST_MODIFIED_TIME(), '2025-01-31T00:00:00Z')")).toBe(1);
    expect(run("IS_AFTER(LAST_MODIFIED_TIME(), '2025-02-01T08:00:00.000Z')")).toBe(0);
    expect(run("IS_BEFORE({Due}, '2025-04-01')")).toBe(1);
    expect(run('IS_BEFORE({Empty}, TODAY())')).toBe(null);
    expect(run("IS_SAME({Due}, '2025-03-20T18:00:00Z', 'day')")).toBe(1);
    expect(run("IS_SAME({Due}, '2025-04-20', 'month')")).toBe(0);
    expect(iso(run("DATETIME_PARSE('2025-03-01')"))).toBe('2025-03-01T00:00:00.000Z');
    expect(iso(run("DATETIME_PARSE('05/04/2025 14:30', 'DD/MM/YYYY HH:mm')"))).toBe(
      '2025-04-05T14:30:00.000Z',
    );
    expect(iso(run("DATETIME_PARSE('March 7 2025', 'MMMM D YYYY')"))).toBe('2025-03-07T00:00:00.000Z');
    expect(() => run("DATETIME_PARSE('not a date')")).toThrow();
    expect(run("DATETIME_FORMAT({Due}, 'YYYY/MM/DD dddd')")).toBe('2025/03/20 Thursday');
    expect(run("DATETIME_FORMAT(NOW(), 'h:mm A [UTC]')")).toBe('12:30 PM UTC');
    expect(run('DATETIME_FORMAT({Due})')).toBe('2025-03-20T00:00:00.000Z');
    expect(iso(run("DATEADD({Due}, 1, 'month')"))).toBe('2025-04-20T00:00:00.000Z');
    expect(iso(run("DATEADD('2025-01-31', 1, 'months')"))).toBe('2025-02-28T00:00:00.000Z');
    expect(iso(run("DATEADD(NOW(), -90, 'minutes')"))).toBe('2025-03-15T11:00:45.000Z');
    expect(run("DATETIME_DIFF({Due}, TODAY(), 'days')")).toBe(5);
    expect(run("DATETIME_DIFF('2025-03-01', '2024-01-15', 'months')")).toBe(13);
    expect(run("DATETIME_DIFF('2025-01-01T01:00:00Z', '2025-01-01T00:00:00Z')")).toBe(3600);
    expect([run('YEAR({Due})'), run('MONTH({Due})'), run('DAY({Due})'), run('WEEKDAY({Due})')]).toEqual([
      2025, 3, 20, 4,
    ]);
    expect([run('HOUR(NOW())'), run('MINUTE(NOW())'), run('SECOND(NOW())')]).toEqual([12, 30, 45]);
    expect(run('DATESTR(NOW())')).toBe('2025-03-15');
    expect(run('TIMESTR(NOW())')).toBe('12:30:45');
    expect(iso(run("SET_TIMEZONE(NOW(), 'Europe/Paris')"))).toBe('2025-03-15T12:30:45.000Z');
    expect(iso(run("SET_LOCALE(NOW(), 'fr')"))).toBe('2025-03-15T12:30:45.000Z');
  });

  it('evaluates RECORD_ID() and the list functions, and `values` in rollups', () => {
    expect(run('RECORD_ID()')).toBe('recFormulaTest001');
    expect(run('ARRAYJOIN({Tags}, "|")')).toBe('red|blue|red|');
    expect(run('ARRAYUNIQUE({Tags})')).toEqual(['red', 'blue', '']);
    expect(run('ARRAYCOMPACT({Tags})')).toEqual(['red', 'blue', 'red']);
    expect(run('ARRAYFLATTEN({Numbers})')).toEqual([1, 2, 3]);
    expect(run('ARRAYSLICE({Numbers}, 2)')).toEqual([2, 3]);
    expect(run('{Tags} & ""')).toBe('red, blue, red, ');
    expect(run('SUM(values)', [2, 3, 4])).toBe(9);
    expect(run('ARRAYJOIN(values, "+")', ['a', 'b'])).toBe('a+b');
  });

  it('reads bare field names as references', () => {
    expect(run("Name = 'Website Refresh'")).toBe(1);
  });

  it('rejects unparseable text, unknown functions and wrong arities, and names unknown fields', () => {
    for (const bad of ['', '1 +', '(1', '"open', '{Open', 'NOPE(1)', 'IF(1)', 'NOT(1, 2)', '1 2', '@']) {
      expect(() => run(bad)).toThrow(FormulaSyntaxError);
    }
    expect(() => run('{Missing} = 1 & {Also missing} & {Missing}')).toThrow(UnknownFieldsError);
    try {
      run('{Missing} & {Also missing}');
    } catch (err) {
      expect((err as UnknownFieldsError).names).toEqual(['Missing', 'Also missing']);
    }
  });

  it('has a test above for every function it supports', () => {
    const source = readFileSync(__filename, 'utf8');
    const untested = SUPPORTED_FUNCTIONS.filter(
      (name) => !new RegExp(`\\b${name}\\(`).test(source.replace(/SUPPORTED_FUNCTIONS/g, '')),
    );
    expect(untested).toEqual([]);
  });
});

describe('filterByFormula over HTTP', () => {
  let emulator: AirtableEmulator;
  beforeAll(async () => {
    emulator = await startConformanceEmulator();
  });
  afterAll(() => emulator.close());

  const titles = async (filterByFormula: string) =>
    (await client(emulator).base(BASE_ID)('Tasks').select({ filterByFormula }).all()).map((r) =>
      r.get('Title'),
    );

  it('filters with field references, functions and Airtable truthiness', async () => {
    expect(await titles("{Title} = 'Draft copy'")).toEqual(['Draft copy']);
    expect(await titles('{Done}')).toEqual(['Review copy']);
    expect(await titles('NOT({Done})')).toEqual(['Draft copy', 'Order shelves']);
    expect(await titles('{Estimate} > 2.5')).toEqual(['Draft copy', 'Order shelves']);
    expect(await titles('{Notes}')).toEqual(['Order shelves']);
    expect(await titles('{Due} = BLANK()')).toEqual(['Order shelves']);
    expect(await titles("FIND('copy', LOWER({Title}))")).toEqual(['Draft copy', 'Review copy']);
    expect(await titles("SEARCH('shel', {Title})")).toEqual(['Order shelves']);
    expect(await titles("IS_BEFORE({Due}, '2025-02-15')")).toEqual(['Draft copy']);
    expect(
      await titles(
        "AND(IS_AFTER({Due}, DATETIME_PARSE('01/15/2025', 'MM/DD/YYYY')), OR({Done}, {Estimate} >= 3))",
      ),
    ).toEqual(['Draft copy', 'Review copy']);
    expect(await titles("RECORD_ID() = 'recTaskShelves001'")).toEqual(['Order shelves']);
    expect(await titles("IS_AFTER(CREATED_TIME(), '2025-01-01T12:00:00Z')")).toEqual([
      'Review copy',
      'Order shelves',
    ]);
    expect(await titles("FIND('red', ARRAYJOIN({Tags}))")).toEqual(['Draft copy', 'Review copy']);
    expect(await titles("{Project} = 'Warehouse'")).toEqual(['Order shelves']);
    expect(await titles("{Label} = 'Review copy [done]'")).toEqual(['Review copy']);
    expect(await titles('')).toHaveLength(3);
    // A formula that errors on a record leaves that record out.
    expect(await titles('1 / ({Estimate} - 8) > 0')).toEqual([]);
  });

  it('answers unknown field names with 422 INVALID_FILTER_BY_FORMULA naming them', async () => {
    const answer = await call(
      emulator,
      'GET',
      `/v0/${BASE_ID}/Tasks?${query({ filterByFormula: "{x} = 'y'" })}`,
    );
    expect(answer.status).toBe(422);
    expect(answer.body).toEqual({
      error: {
        type: 'INVALID_FILTER_BY_FORMULA',
        message: 'The formula for filtering records is invalid: Unknown field names: x',
      },
    });
    const two = await call(
      emulator,
      'GET',
      `/v0/${BASE_ID}/Tasks?${query({ filterByFormula: 'AND({x}, {Title}, {y z})' })}`,
    );
    expect(two.body.error.message).toBe(
      'The formula for filtering records is invalid: Unknown field names: x, y z',
    );
  });

  it('answers unparseable formulas with 422 INVALID_FILTER_BY_FORMULA', async () => {
    for (const formula of ["{Title} = 'open", 'AND(', 'NOSUCHFUNCTION(1)', '1 +']) {
      const answer = await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks/listRecords`, {
        filterByFormula: formula,
      });
      expect(answer.status).toBe(422);
      expect(answer.body).toEqual({
        error: {
          type: 'INVALID_FILTER_BY_FORMULA',
          message:
            'The formula for filtering records is invalid: Invalid formula. Please check your formula text.',
        },
      });
    }
  });
});

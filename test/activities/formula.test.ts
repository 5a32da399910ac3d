import {
  formulaEquals,
  formulaField,
  formulaNumber,
  formulaString,
  modifiedAfter,
  recordIdIn,
  recordIdPartitions,
} from '../../airtable/formula';

describe('formula escaping', () => {
  it.each([
    ['plain', '"plain"'],
    ['say "hi"', '"say \\"hi\\""'],
    ["it's", '"it\'s"'],
    ['back\\slash', '"back\\\\slash"'],
    ['two\nlines', '"two\\nlines"'],
    ['{Secret}', '"{Secret}"'],
    ['") & DELETE() & ("', '"\\") & DELETE() & (\\""'],
  ])('quotes %j as %s', (value, literal) => {
    expect(formulaString(value)).toBe(literal);
  });

  it('never lets a value end its literal early', () => {
    for (const value of ['"', '\\"', '\\\\"', 'a"b\\', '\\']) {
      const literal = formulaString(value);
      // Inside the literal every quote is escaped by an odd run of backslashes.
      const body = literal.slice(1, -1);
      expect(body).not.toMatch(/(^|[^\\])(\\\\)*"/);
    }
  });

  it('refuses field names it cannot reference safely', () => {
    expect(formulaField('Project Name')).toBe('{Project Name}');
    expect(() => formulaField('a}b')).toThrow(RangeError);
    expect(() => formulaField('')).toThrow(RangeError);
  });

  it('builds comparisons by value type', () => {
    expect(formulaEquals('Name', 'O"Brien')).toBe('{Name} = "O\\"Brien"');
    expect(formulaEquals('Count', 3)).toBe('{Count} = 3');
    expect(formulaEquals('Done', true)).toBe('{Done} = TRUE()');
    expect(() => formulaNumber(Number.NaN)).toThrow(RangeError);
  });

  it('builds incremental-sync and id filters', () => {
    expect(modifiedAfter('2026-01-01T00:00:00.000Z')).toBe(
      'IS_AFTER(LAST_MODIFIED_TIME(), DATETIME_PARSE("2026-01-01T00:00:00.000Z"))',
    );
    expect(() => modifiedAfter('yesterday")')).toThrow(RangeError);
    expect(recordIdIn(['recA', 'recB'])).toBe('OR(RECORD_ID() = "recA", RECORD_ID() = "recB")');
  });

  it('splits a table by the first character of its record ids, the last part the complement', () => {
    expect(recordIdPartitions(1)).toEqual([undefined]);
    const [a, b] = recordIdPartitions(2);
    expect(a).toBe('FIND(MID(RECORD_ID(), 4, 1), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcde")');
    expect(b).toBe(`NOT(OR(${a}))`);
    const three = recordIdPartitions(3);
    expect(three).toHaveLength(3);
    expect(three[2]).toBe(`NOT(OR(${three[0]}, ${three[1]}))`);
    expect(() => recordIdPartitions(0)).toThrow(RangeError);
    expect(() => recordIdPartitions(1.5)).toThrow(RangeError);
  });
});

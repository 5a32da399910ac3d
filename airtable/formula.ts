/**
 * Building blocks for `filterByFormula` from values that come from callers or the LLM. Values are
 * only ever placed inside string literals or braces through these helpers, never concatenated raw,
 * so a value cannot close its literal and inject formula code.
 */

/** A double-quoted formula string literal: backslashes, quotes and line breaks escaped. */
export function formulaString(value: string): string {
  const escaped = value
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/\t/g, '\\t');
  return `"${escaped}"`;
}

/** A number literal; refuses NaN and infinities, which have no formula spelling. */
export function formulaNumber(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`Not a finite number: ${value}`);
  return String(value);
}

/**
 * A `{Field Name}` reference. Airtable has no escape for `}` inside braces, so such names are refused
 * rather than guessed at.
 */
export function formulaField(name: string): string {
  if (!name || /[{}]/.test(name))
    throw new RangeError(`Field name cannot be used in a formula: ${JSON.stringify(name)}`);
  return `{${name}}`;
}

/** `{field} = value` with the value escaped for its type. */
export function formulaEquals(field: string, value: string | number | boolean): string {
  const literal =
    typeof value === 'string'
      ? formulaString(value)
      : typeof value === 'number'
        ? formulaNumber(value)
        : value
          ? 'TRUE()'
          : 'FALSE()';
  return `${formulaField(field)} = ${literal}`;
}

/** Records changed after `isoTime` (incremental sync). */
export function modifiedAfter(isoTime: string): string {
  if (Number.isNaN(Date.parse(isoTime))) throw new RangeError(`Not a timestamp: ${isoTime}`);
  return `IS_AFTER(LAST_MODIFIED_TIME(), DATETIME_PARSE(${formulaString(isoTime)}))`;
}

/** `RECORD_ID() = 'rec…'` for any of the ids. */
export function recordIdIn(ids: string[]): string {
  const clauses = ids.map((id) => `RECORD_ID() = ${formulaString(id)}`);
  return clauses.length === 1 ? clauses[0]! : `OR(${clauses.join(', ')})`;
}

/** The characters of an Airtable id after its three-letter prefix. */
const ID_CHARACTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * Formulas that split a table's records into `count` sets by the first character of the record id
 * after `rec`, so one table can be listed by several cursors at once. Each set is one `FIND` of
 * that character in a string of characters (cheap for Airtable to evaluate on every record); the
 * last set is the complement of the others, so whatever the ids look like (or however a server
 * compares case), every record is in exactly one set. `count` 1 is the whole table (`undefined`).
 */
export function recordIdPartitions(count: number): Array<string | undefined> {
  if (!Number.isInteger(count) || count < 1 || count > ID_CHARACTERS.length)
    throw new RangeError(`Cannot split a table into ${count} parts`);
  if (count === 1) return [undefined];
  const size = Math.ceil(ID_CHARACTERS.length / count);
  const groups = Array.from(
    { length: count - 1 },
    (_, i) => `FIND(MID(RECORD_ID(), 4, 1), ${formulaString(ID_CHARACTERS.slice(i * size, (i + 1) * size))})`,
  );
  return [...groups, `NOT(OR(${groups.join(', ')}))`];
}

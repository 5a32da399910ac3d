/**
 * Airtable formula syntax: a tokenizer and a recursive-descent parser producing an AST. Precedence,
 * lowest first: comparison (= != <> < > <= >=), concatenation (&), + -, * /, unary - +.
 */

export type FormulaNode =
  | { kind: 'number'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'field'; name: string; braced: boolean }
  | { kind: 'values' }
  | { kind: 'call'; name: string; args: FormulaNode[] }
  | { kind: 'binary'; op: BinaryOperator; left: FormulaNode; right: FormulaNode }
  | { kind: 'unary'; op: '-' | '+'; operand: FormulaNode };

export type BinaryOperator = '+' | '-' | '*' | '/' | '&' | '=' | '!=' | '<' | '>' | '<=' | '>=';

/** The formula text cannot be read at all (Airtable: "Invalid formula. Please check your formula text."). */
export class FormulaSyntaxError extends Error {
  override name = 'FormulaSyntaxError';
}

type Token = (
  | { type: 'number'; value: number }
  | { type: 'string'; value: string }
  | { type: 'field'; value: string }
  | { type: 'ident'; value: string }
  | { type: 'op'; value: string }
  | { type: 'eof' }
) & { pos: number; end: number };

const OPERATORS = ['!=', '<>', '<=', '>=', '=', '<', '>', '+', '-', '*', '/', '&', '(', ')', ','];

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const start = i;
    if (ch === '"' || ch === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new FormulaSyntaxError(`unterminated string starting at ${start}`);
        const c = text[i]!;
        if (c === '\\') {
          const next = text[i + 1];
          if (next === undefined) throw new FormulaSyntaxError(`dangling escape at ${i}`);
          value += next === 'n' ? '\n' : next === 't' ? '\t' : next === 'r' ? '\r' : next;
          i += 2;
          continue;
        }
        if (c === ch) {
          i++;
          break;
        }
        value += c;
        i++;
      }
      tokens.push({ type: 'string', value, pos: start, end: i });
      continue;
    }
    if (ch === '{') {
      let name = '';
      i++;
      for (;;) {
        if (i >= text.length)
          throw new FormulaSyntaxError(`unterminated field reference starting at ${start}`);
        const c = text[i]!;
        if (c === '\\' && i + 1 < text.length) {
          name += text[i + 1];
          i += 2;
          continue;
        }
        if (c === '}') {
          i++;
          break;
        }
        name += c;
        i++;
      }
      tokens.push({ type: 'field', value: name, pos: start, end: i });
      continue;
    }
    const numberMatch = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(text.slice(i));
    if (numberMatch) {
      tokens.push({
        type: 'number',
        value: Number(numberMatch[0]),
        pos: start,
        end: i + numberMatch[0].length,
      });
      i += numberMatch[0].length;
      continue;
    }
    const identMatch = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (identMatch) {
      tokens.push({ type: 'ident', value: identMatch[0], pos: start, end: i + identMatch[0].length });
      i += identMatch[0].length;
      continue;
    }
    const op = OPERATORS.find((candidate) => text.startsWith(candidate, i));
    if (op) {
      tokens.push({ type: 'op', value: op === '<>' ? '!=' : op, pos: start, end: i + op.length });
      i += op.length;
      continue;
    }
    throw new FormulaSyntaxError(`unexpected character ${JSON.stringify(ch)} at ${i}`);
  }
  tokens.push({ type: 'eof', pos: text.length, end: text.length });
  return tokens;
}

/** Parses a whole formula; `values` is an identifier only inside rollup formulas. */
export function parseFormula(text: string, options: { allowValues?: boolean } = {}): FormulaNode {
  const tokens = tokenize(text);
  let index = 0;
  const peek = (): Token => tokens[index]!;
  const take = (): Token => tokens[index++]!;
  const isOp = (value: string): boolean => {
    const token = peek();
    return token.type === 'op' && token.value === value;
  };
  const expectOp = (value: string): void => {
    const token = take();
    if (token.type !== 'op' || token.value !== value)
      throw new FormulaSyntaxError(`expected "${value}" at ${token.pos}`);
  };

  function comparison(): FormulaNode {
    let left = concatenation();
    for (;;) {
      const token = peek();
      if (token.type === 'op' && ['=', '!=', '<', '>', '<=', '>='].includes(token.value)) {
        take();
        left = { kind: 'binary', op: token.value as BinaryOperator, left, right: concatenation() };
      } else return left;
    }
  }
  function concatenation(): FormulaNode {
    let left = additive();
    while (isOp('&')) {
      take();
      left = { kind: 'binary', op: '&', left, right: additive() };
    }
    return left;
  }
  function additive(): FormulaNode {
    let left = multiplicative();
    for (;;) {
      if (isOp('+') || isOp('-')) {
        const op = (take() as { value: string }).value as '+' | '-';
        left = { kind: 'binary', op, left, right: multiplicative() };
      } else return left;
    }
  }
  function multiplicative(): FormulaNode {
    let left = unary();
    for (;;) {
      if (isOp('*') || isOp('/')) {
        const op = (take() as { value: string }).value as '*' | '/';
        left = { kind: 'binary', op, left, right: unary() };
      } else return left;
    }
  }
  function unary(): FormulaNode {
    if (isOp('-') || isOp('+')) {
      const op = (take() as { value: string }).value as '-' | '+';
      return { kind: 'unary', op, operand: unary() };
    }
    return primary();
  }
  function primary(): FormulaNode {
    const token = take();
    switch (token.type) {
      case 'number':
        return { kind: 'number', value: token.value };
      case 'string':
        return { kind: 'string', value: token.value };
      case 'field':
        return { kind: 'field', name: token.value, braced: true };
      case 'ident': {
        if (isOp('(')) {
          take();
          const args: FormulaNode[] = [];
          if (!isOp(')')) {
            for (;;) {
              args.push(comparison());
              if (isOp(',')) {
                take();
                continue;
              }
              break;
            }
          }
          expectOp(')');
          return { kind: 'call', name: token.value.toUpperCase(), args };
        }
        const upper = token.value.toUpperCase();
        // Airtable accepts TRUE and FALSE without parentheses.
        if (upper === 'TRUE' || upper === 'FALSE') return { kind: 'call', name: upper, args: [] };
        if (options.allowValues && token.value === 'values') return { kind: 'values' };
        // A bare word names a field, as in `Status = 'Done'`.
        return { kind: 'field', name: token.value, braced: false };
      }
      case 'op':
        if (token.value === '(') {
          const inner = comparison();
          expectOp(')');
          return inner;
        }
        throw new FormulaSyntaxError(`unexpected "${token.value}" at ${token.pos}`);
      case 'eof':
        throw new FormulaSyntaxError('unexpected end of formula');
    }
  }

  if (peek().type === 'eof') throw new FormulaSyntaxError('empty formula');
  const root = comparison();
  const rest = peek();
  if (rest.type !== 'eof') throw new FormulaSyntaxError(`unexpected input at ${rest.pos}`);
  return root;
}

/** Every field name a formula refers to, in order of first use. */
export function referencedFieldNames(node: FormulaNode, into: string[] = []): string[] {
  switch (node.kind) {
    case 'field':
      if (!into.includes(node.name)) into.push(node.name);
      break;
    case 'call':
      for (const arg of node.args) referencedFieldNames(arg, into);
      break;
    case 'binary':
      referencedFieldNames(node.left, into);
      referencedFieldNames(node.right, into);
      break;
    case 'unary':
      referencedFieldNames(node.operand, into);
      break;
    default:
      break;
  }
  return into;
}

/**
 * The same formula text with every field reference respelled by `rename` (e.g. names to `fld…` ids,
 * as the meta API shows formulas), keeping the author's layout.
 */
export function rewriteFieldReferences(text: string, rename: (name: string) => string): string {
  const tokens = tokenize(text);
  let out = '';
  let cursor = 0;
  tokens.forEach((token, i) => {
    const next = tokens[i + 1];
    const isBareField =
      token.type === 'ident' &&
      !(next?.type === 'op' && next.value === '(') &&
      !['TRUE', 'FALSE'].includes(token.value.toUpperCase()) &&
      token.value !== 'values';
    if (token.type === 'field' || isBareField) {
      const name = (token as { value: string }).value;
      out += text.slice(cursor, token.pos) + `{${rename(name).replace(/[{}\\]/g, (c) => `\\${c}`)}}`;
      cursor = token.end;
    }
  });
  return out + text.slice(cursor);
}

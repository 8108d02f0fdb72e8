/**
 * Parsing the full expression language (PROTOCOL.md §6) with Ockam's rules: several top-level
 * values form one list (`= a b` is `(= a b)`), the items of a sequence must all have the same
 * type, and a policy must start with an operator. Errors say where and what was expected:
 * `expected ')' at 1:17, found end of input`.
 *
 * @example
 * ```ts
 * import { parseExpr, printExpr } from '@ockam/abac';
 * printExpr(parseExpr('(and (= subject.component "db")\n     (= subject.has_credential true))'));
 * // (and (= subject.component "db") (= subject.has_credential true))
 * ```
 */
import { type Expr, exprEquals, IDENT_PATTERN, OPERATORS, startsWithOperator } from './expr.js';
import { Lexer, type Token } from './internal/lexer.js';
import { syntaxError, where } from './internal/source.js';
import { printExpr } from './print-expr.js';

export interface ParseExprOptions {
  /**
   * Require the expression to start with an operator, as Ockam requires of policies (default
   * true). Turn it off to parse a plain value such as `[1 2]` or `"text"`.
   */
  requireOperator?: boolean;
}

interface Frame {
  readonly kind: '(' | '[';
  readonly offset: number;
  readonly items: Expr[];
}

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const DEC_INT = /^[0-9](?:_?[0-9])*$/;
const HEX_INT = /^[0-9a-fA-F](?:_?[0-9a-fA-F])*$/;
const DEC_FLOAT = /^[0-9](?:_?[0-9])*(?:\.(?:[0-9](?:_?[0-9])*)?)?(?:[eE][+-]?[0-9](?:_?[0-9])*)?$/;
const HEX_FLOAT =
  /^[0-9a-fA-F](?:_?[0-9a-fA-F])*(?:\.(?:[0-9a-fA-F](?:_?[0-9a-fA-F])*)?)?(?:[pP][+-]?[0-9](?:_?[0-9])*)?$/;
const NAN_PAYLOAD = /^nan:0x[0-9a-fA-F](?:_?[0-9a-fA-F])*$/;

/** Classifies an atom as wast does: a number, then `true`/`false`, then an identifier. */
function atomValue(text: string, token: Extract<Token, { kind: 'atom' }>): Expr {
  const src = token.text;
  const at = token.offset;
  const sign = src[0] === '-' ? -1 : src[0] === '+' ? 1 : 0;
  const num = sign === 0 ? src : src.slice(1);
  if (num === 'inf') return { type: 'float', value: sign < 0 ? -Infinity : Infinity };
  if (num === 'nan' || NAN_PAYLOAD.test(num)) return { type: 'float', value: Number.NaN };
  const hex = num.startsWith('0x');
  const body = hex ? num.slice(2) : num;
  if ((hex ? HEX_INT : DEC_INT).test(body)) {
    const magnitude = BigInt((hex ? '0x' : '') + body.replaceAll('_', ''));
    const value = sign < 0 ? -magnitude : magnitude;
    if (value < I64_MIN || value > I64_MAX)
      throw syntaxError(text, at, (w) => `integer ${src} at ${w} does not fit in 64 bits`);
    return { type: 'int', value };
  }
  if ((hex ? HEX_FLOAT : DEC_FLOAT).test(body)) {
    // Ockam converts floats with Rust's f64::from_str, which takes neither hex nor underscores.
    if (hex || body.includes('_'))
      throw syntaxError(
        text,
        at,
        (w) => `unsupported float literal ${src} at ${w} (use decimal digits without '_')`,
      );
    return { type: 'float', value: Number(src) };
  }
  if (src === 'true' || src === 'false') return { type: 'bool', value: src === 'true' };
  if (IDENT_PATTERN.test(src)) return { type: 'ident', value: src };
  throw syntaxError(
    text,
    at,
    (w) => `invalid token '${src}' at ${w}: not a number, a boolean or an identifier`,
  );
}

/**
 * Parses an expression of the full language. Throws an AbacError with reason `syntax` and a
 * `position` on any malformed input; never anything else for a string input.
 */
export function parseExpr(text: string, options: ParseExprOptions = {}): Expr {
  if (typeof text !== 'string') throw new TypeError('parseExpr expects a string');
  const lexer = new Lexer(text);
  const offsets = new WeakMap<Expr, number>();
  const stack: Frame[] = [];
  const top: Expr[] = [];
  const add = (e: Expr, offset: number) => {
    offsets.set(e, offset);
    (stack.length === 0 ? top : stack[stack.length - 1]!.items).push(e);
  };
  for (let token = lexer.next(); token !== undefined; token = lexer.next()) {
    switch (token.kind) {
      case '(':
      case '[':
        stack.push({ kind: token.kind, offset: token.offset, items: [] });
        break;
      case ')':
      case ']': {
        const frame = stack.pop();
        const closing = token.kind;
        if (frame === undefined)
          throw syntaxError(text, token.offset, (w) => `unexpected '${closing}' at ${w}: nothing to close`);
        const expected = frame.kind === '(' ? ')' : ']';
        if (closing !== expected)
          throw syntaxError(
            text,
            token.offset,
            (w) =>
              `expected '${expected}' at ${w}, found '${closing}' (to close the '${frame.kind}' at ${where(text, frame.offset)})`,
          );
        if (frame.kind === '[') checkSequence(text, frame);
        add({ type: frame.kind === '(' ? 'list' : 'seq', value: frame.items }, frame.offset);
        break;
      }
      case 'string':
        add({ type: 'str', value: token.value }, token.offset);
        break;
      case 'atom':
        add(atomValue(text, token), token.offset);
        break;
    }
  }
  const open = stack[stack.length - 1];
  if (open !== undefined) {
    const expected = open.kind === '(' ? ')' : ']';
    throw syntaxError(text, text.length, (w) => `expected '${expected}' at ${w}, found end of input`);
  }
  if (top.length === 0)
    throw syntaxError(text, text.length, (w) => `expected an expression at ${w}, found end of input`);
  const expr: Expr = top.length === 1 ? top[0]! : { type: 'list', value: top };
  if (top.length > 1) offsets.set(expr, offsets.get(top[0]!)!);
  if (options.requireOperator !== false && !startsWithOperator(expr)) {
    let head: Expr = expr;
    while (head.type === 'list' && head.value[0] !== undefined) head = head.value[0];
    const offset = offsets.get(head) ?? 0;
    const found = head.type === 'list' ? '()' : printExpr(head);
    throw syntaxError(
      text,
      offset,
      (w) =>
        `expected an operator (${OPERATORS.join(', ')}) at ${w}, found ${found.length > 40 ? `${found.slice(0, 40)}…` : found}`,
    );
  }
  return expr;
}

function checkSequence(text: string, frame: Frame): void {
  for (let i = 1; i < frame.items.length; i++) {
    const a = frame.items[i - 1]!;
    const b = frame.items[i]!;
    try {
      exprEquals(a, b);
    } catch {
      throw syntaxError(
        text,
        frame.offset,
        (w) =>
          `the items of the sequence at ${w} must have one type: ${clip(printExpr(a))} and ${clip(printExpr(b))} differ`,
      );
    }
  }
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

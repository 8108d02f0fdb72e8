/**
 * The policy expression language (PROTOCOL.md §6): s-expressions whose values are strings,
 * 64-bit integers, floats, booleans, identifiers, sequences `[a b]` and lists `(op args…)`.
 *
 * @example
 * ```ts
 * import { bool, ident, list, printExpr } from '@ockam/abac';
 * const e = list([ident('='), ident('subject.has_credential'), bool(true)]);
 * printExpr(e); // (= subject.has_credential true)
 * ```
 */
import { AbacError } from './abac-error.js';
import { printExpr } from './print-expr.js';

export type Expr =
  | { readonly type: 'str'; readonly value: string }
  | { readonly type: 'int'; readonly value: bigint }
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'ident'; readonly value: string }
  | { readonly type: 'seq'; readonly value: readonly Expr[] }
  | { readonly type: 'list'; readonly value: readonly Expr[] };

export type ExprType = Expr['type'];

/** Every operator the evaluator knows (Ockam's `OPERATORS`). */
export const OPERATORS = ['and', 'or', 'not', 'if', '<', '>', '=', '!=', 'member?', 'exists?'] as const;
export type Operator = (typeof OPERATORS)[number];

/**
 * Identifiers, as Ockam's parser accepts them. The second class holds the range `+-@`
 * (`+ , - . / 0-9 : ; < = > ? @`), exactly as Ockam writes it.
 */
export const IDENT_PATTERN = /^[a-zA-Z!$%&*/<=>?~_^][a-zA-Z0-9!$%&*/<=>?~_^.+-@]*$/;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

export function isOperator(name: string): name is Operator {
  return (OPERATORS as readonly string[]).includes(name);
}

/** A string value; lone surrogates cannot be written as UTF-8 and are refused. */
export function str(value: string): Expr {
  if (typeof value !== 'string' || LONE_SURROGATE.test(value))
    throw new TypeError('a Str must be well-formed Unicode');
  return { type: 'str', value };
}

/** A 64-bit signed integer value. */
export function int(value: number | bigint): Expr {
  if (typeof value === 'number' && !Number.isSafeInteger(value))
    throw new RangeError(`${value} is not a safe integer; pass a bigint`);
  const v = BigInt(value);
  if (v < I64_MIN || v > I64_MAX) throw new RangeError(`${v} does not fit in 64 bits`);
  return { type: 'int', value: v };
}

export function float(value: number): Expr {
  if (typeof value !== 'number') throw new TypeError('a Float is a number');
  return { type: 'float', value };
}

export function bool(value: boolean): Expr {
  return value ? TRUE : FALSE;
}

/** An identifier; it must match {@link IDENT_PATTERN} so that it prints and parses back. */
export function ident(name: string): Expr {
  if (!IDENT_PATTERN.test(name)) throw new TypeError(`not a valid identifier: ${JSON.stringify(name)}`);
  return { type: 'ident', value: name };
}

export function seq(items: readonly Expr[]): Expr {
  return { type: 'seq', value: [...items] };
}

export function list(items: readonly Expr[]): Expr {
  return { type: 'list', value: [...items] };
}

/** `(op args…)`. */
export function op(operator: Operator, ...args: Expr[]): Expr {
  return list([{ type: 'ident', value: operator }, ...args]);
}

export const TRUE: Expr = Object.freeze({ type: 'bool', value: true });
export const FALSE: Expr = Object.freeze({ type: 'bool', value: false });
/** The empty list `()`. */
export const UNIT: Expr = Object.freeze({ type: 'list', value: Object.freeze([]) as readonly Expr[] });

function mismatch(a: Expr, b: Expr, print: (e: Expr) => string): never {
  throw new AbacError('type-mismatch', `${print(a)} and ${print(b)} are not of the same type`);
}

/**
 * Ockam's value equality (`Expr::equals`): values of the same type compare by value (floats by
 * IEEE equality, so NaN is unequal to itself), sequences and lists item by item; two values of
 * different types are a type-mismatch error, unless an earlier difference already decided.
 */
export function exprEquals(a: Expr, b: Expr, print: (e: Expr) => string = printExpr): boolean {
  const pairs: Array<[Expr, Expr]> = [[a, b]];
  for (let pair = pairs.pop(); pair !== undefined; pair = pairs.pop()) {
    const [x, y] = pair;
    if (x.type !== y.type) mismatch(x, y, print);
    if (x.type === 'seq' || x.type === 'list') {
      const ys = y.value as readonly Expr[];
      if (x.value.length !== ys.length) return false;
      for (let i = x.value.length - 1; i >= 0; i--) pairs.push([x.value[i]!, ys[i]!]);
    } else if (x.value !== y.value) return false;
  }
  return true;
}

function compareCodePoints(a: string, b: string): number {
  // Rust compares strings by UTF-8 bytes, which orders like code points (not UTF-16 units).
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
}

/**
 * Ockam's ordering (`Expr::compare`): -1, 0, 1, or undefined when unordered (NaN). Sequences and
 * lists order by length first, then item by item. Different types are a type-mismatch error.
 */
export function exprCompare(
  a: Expr,
  b: Expr,
  print: (e: Expr) => string = printExpr,
): -1 | 0 | 1 | undefined {
  const pairs: Array<[Expr, Expr]> = [[a, b]];
  let result: -1 | 0 | 1 | undefined = 0;
  for (let pair = pairs.pop(); pair !== undefined; pair = pairs.pop()) {
    const [x, y] = pair;
    if (x.type !== y.type) mismatch(x, y, print);
    switch (x.type) {
      case 'seq':
      case 'list': {
        const ys = y.value as readonly Expr[];
        if (x.value.length !== ys.length) return x.value.length < ys.length ? -1 : 1;
        for (let i = x.value.length - 1; i >= 0; i--) pairs.push([x.value[i]!, ys[i]!]);
        result = 0;
        continue;
      }
      case 'str':
      case 'ident':
        result = compareCodePoints(x.value, y.value as string) as -1 | 0 | 1;
        break;
      case 'int':
      case 'float':
      case 'bool': {
        const xv = x.value;
        const yv = y.value as typeof xv;
        result = xv < yv ? -1 : xv > yv ? 1 : xv === yv ? 0 : undefined;
        break;
      }
    }
    if (result !== 0) return result;
  }
  return result;
}

/**
 * Structural identity, for tests and caches: like {@link exprEquals} but never throws, and NaN
 * equals NaN (so a printed and re-parsed expression is `sameExpr` as the original).
 */
export function sameExpr(a: Expr, b: Expr): boolean {
  const pairs: Array<[Expr, Expr]> = [[a, b]];
  for (let pair = pairs.pop(); pair !== undefined; pair = pairs.pop()) {
    const [x, y] = pair;
    if (x.type !== y.type) return false;
    if (x.type === 'seq' || x.type === 'list') {
      const ys = y.value as readonly Expr[];
      if (x.value.length !== ys.length) return false;
      for (let i = 0; i < x.value.length; i++) pairs.push([x.value[i]!, ys[i]!]);
    } else if (x.type === 'float') {
      if (!Object.is(x.value, y.value)) return false;
    } else if (x.value !== y.value) return false;
  }
  return true;
}

/** True if `e` is an operator or a list whose first item is (recursively) one: Ockam's top-level rule. */
export function startsWithOperator(e: Expr): boolean {
  let cur: Expr | undefined = e;
  while (cur !== undefined) {
    if (cur.type === 'ident') return isOperator(cur.value);
    if (cur.type !== 'list') return false;
    cur = cur.value[0];
  }
  return false;
}

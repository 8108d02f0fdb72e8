/**
 * The boolean shorthand for policies (PROTOCOL.md §6): attribute names combined with `and`, `or`,
 * `not` and parentheses, `not` binding tighter than `and`, and `and` tighter than `or`. A name N
 * stands for `(= subject.N "true")`, the value that `ockam project ticket --attribute N` gives.
 *
 * Unlike Ockam's parser, `and`, `or` and `not` are whole words here (Ockam reads `nothing` as
 * `not hing`), and spaces around the whole expression are allowed. Like Ockam's, a keyword where a
 * name is expected is a name (`(and)` means `(= subject.and "true")`).
 *
 * @example
 * ```ts
 * import { parseBooleanExpr, booleanExprToExpr, printExpr } from '@ockam/abac';
 * printExpr(booleanExprToExpr(parseBooleanExpr('component.db and not web')));
 * // (and (= subject.component.db "true") (not (= subject.web "true")))
 * ```
 */

import { AbacError } from './abac-error.js';
import { type Expr, list, str } from './expr.js';
import { describeAt, syntaxError, where } from './internal/source.js';

export type BooleanExpr =
  | { readonly type: 'name'; readonly name: string }
  | { readonly type: 'and' | 'or'; readonly left: BooleanExpr; readonly right: BooleanExpr }
  | { readonly type: 'not'; readonly expr: BooleanExpr };

/** Names: a letter, `_` or `-`, then letters, digits, `.`, `_` or `-`. */
export const BOOLEAN_NAME_PATTERN = /^[A-Za-z_-][A-Za-z0-9._-]*$/;

/** Parentheses deeper than this are refused (the full language has no such limit). */
export const MAX_BOOLEAN_NESTING = 256;

type Tok =
  | { readonly kind: '(' | ')' | 'end'; readonly offset: number }
  | { readonly kind: 'word'; readonly offset: number; readonly text: string };

/** Where a token ends (the offset after its last character). */
const tokEnd = (t: Tok): number => t.offset + (t.kind === 'word' ? t.text.length : t.kind === 'end' ? 0 : 1);

function tokenize(text: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') i++;
    else if (ch === '(' || ch === ')') out.push({ kind: ch, offset: i++ });
    else if (/[A-Za-z_-]/.test(ch)) {
      const start = i;
      while (i < text.length && /[A-Za-z0-9._-]/.test(text[i]!)) i++;
      out.push({ kind: 'word', offset: start, text: text.slice(start, i) });
    } else {
      const at = i;
      throw syntaxError(text, at, (w) =>
        /[0-9.]/.test(ch)
          ? `a name cannot start with ${describeAt(text, at)} (at ${w}); names start with a letter, '_' or '-'`
          : `unexpected character ${describeAt(text, at)} at ${w}`,
      );
    }
  }
  out.push({ kind: 'end', offset: text.length });
  return out;
}

function describe(t: Tok): string {
  return t.kind === 'end' ? 'end of input' : t.kind === 'word' ? `'${t.text}'` : `'${t.kind}'`;
}

/** Parses the shorthand; throws an AbacError (`syntax`, with a position) when it is not one. */
export function parseBooleanExpr(text: string): BooleanExpr {
  if (typeof text !== 'string') throw new TypeError('parseBooleanExpr expects a string');
  const toks = tokenize(text);
  let i = 0;
  const peek = () => toks[i]!;
  const isWord = (t: Tok, w: string) => t.kind === 'word' && t.text === w;
  const fail = (t: Tok, expected: string): never => {
    throw syntaxError(text, t.offset, (w) => `expected ${expected} at ${w}, found ${describe(t)}`);
  };

  // Where the top-level expression parsed so far ends, and why it went no further: Ockam's
  // message names the prefix that parsed and the rest that did not (`successfully parsed: `a`,
  // but ` or` cannot be parsed`), and users of its docs look for that wording.
  const unparsedRest = (end: number, why: string): never => {
    throw syntaxError(
      text,
      end,
      () =>
        `successfully parsed: \`${text.slice(0, end)}\`, but \`${text.slice(end)}\` cannot be parsed (${why})`,
    );
  };
  /** The right operand of `and`/`or`; at the top level, a failure names what parsed before the operator. */
  const operand = (depth: number, parse: (depth: number) => BooleanExpr): BooleanExpr => {
    const end = tokEnd(toks[i - 2]!);
    try {
      return parse(depth);
    } catch (e) {
      if (depth > 0 || !AbacError.isReason(e, 'syntax')) throw e;
      return unparsedRest(end, e.message);
    }
  };
  const orExpr = (depth: number): BooleanExpr => {
    let left = andExpr(depth);
    while (isWord(peek(), 'or')) {
      i++;
      left = { type: 'or', left, right: operand(depth, andExpr) };
    }
    return left;
  };
  const andExpr = (depth: number): BooleanExpr => {
    let left = notExpr(depth);
    while (isWord(peek(), 'and')) {
      i++;
      left = { type: 'and', left, right: operand(depth, notExpr) };
    }
    return left;
  };
  const notExpr = (depth: number): BooleanExpr => {
    const t = peek();
    if (depth > MAX_BOOLEAN_NESTING)
      throw syntaxError(text, t.offset, (w) => `nesting deeper than ${MAX_BOOLEAN_NESTING} at ${w}`);
    if (isWord(t, 'not')) {
      i++;
      const saved = i;
      try {
        return { type: 'not', expr: notExpr(depth + 1) };
      } catch (e) {
        // Like Ockam, a `not` that negates nothing is the name "not" (so `(not)` is a name).
        const after = toks[saved]!;
        if (after.kind === 'word' || after.kind === '(') throw e;
        i = saved;
        return { type: 'name', name: 'not' };
      }
    }
    if (t.kind === '(') {
      i++;
      const inner = orExpr(depth + 1);
      const close = peek();
      if (close.kind !== ')') fail(close, `')' (to close the '(' at ${where(text, t.offset)})`);
      i++;
      return inner;
    }
    // `and` and `or` where a name is expected are names, as in Ockam: `(and)` is `(= subject.and "true")`.
    if (t.kind === 'word') {
      i++;
      return { type: 'name', name: t.text };
    }
    return fail(t, "a name, 'not' or '('");
  };

  const expr = orExpr(0);
  const rest = peek();
  if (rest.kind !== 'end')
    unparsedRest(
      tokEnd(toks[i - 1]!),
      `expected 'and', 'or' or end of input at ${where(text, rest.offset)}, found ${describe(rest)}`,
    );
  return expr;
}

/** Prints the shorthand as Ockam does: `a and b`, nested operations in parentheses. */
export function printBooleanExpr(expr: BooleanExpr): string {
  const nested = (e: BooleanExpr): string => (e.type === 'name' ? e.name : `(${printBooleanExpr(e)})`);
  switch (expr.type) {
    case 'name':
      return expr.name;
    case 'and':
    case 'or':
      return `${nested(expr.left)} ${expr.type} ${nested(expr.right)}`;
    case 'not':
      return `not ${nested(expr.expr)}`;
  }
}

/** The full expression a shorthand stands for: each name N becomes `(= subject.N "true")`. */
export function booleanExprToExpr(expr: BooleanExpr): Expr {
  const id = (v: string): Expr => ({ type: 'ident', value: v });
  switch (expr.type) {
    case 'name':
      return list([id('='), id(`subject.${expr.name}`), str('true')]);
    case 'and':
    case 'or':
      return list([id(expr.type), booleanExprToExpr(expr.left), booleanExprToExpr(expr.right)]);
    case 'not':
      return list([id('not'), booleanExprToExpr(expr.expr)]);
  }
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AbacError,
  type BooleanExpr,
  bool,
  type Expr,
  environment,
  evaluate,
  exprCompare,
  exprEquals,
  float,
  ident,
  int,
  list,
  OPERATORS,
  parseBooleanExpr,
  parseExpr,
  parsePolicyExpression,
  printBooleanExpr,
  printExpr,
  sameExpr,
  seq,
  str,
} from '../src/index.js';

/** Throws unless `e` is an AbacError with reason `syntax`. */
function onlySyntaxErrors(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!AbacError.isReason(e, 'syntax')) throw e;
  }
}

// Inputs biased towards the language's own characters, plus any Unicode.
const syntaxChar = fc.constantFrom(
  '(',
  ')',
  '[',
  ']',
  '"',
  '\\',
  ';',
  ' ',
  '\n',
  '\t',
  'a',
  'z',
  'A',
  '0',
  '9',
  '.',
  '-',
  '+',
  '_',
  '$',
  'e',
  'x',
  'u',
  '{',
  '}',
  '#',
  '=',
  '<',
  '>',
  '!',
  '?',
  '&',
  '*',
  '/',
  ',',
  "'",
  '`',
  '|',
  '~',
  '^',
  '@',
  ':',
);
const anyChar = fc.oneof(syntaxChar, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));
const chunk = fc.constantFrom(
  'and',
  'or',
  'not',
  'true',
  'false',
  'nan',
  'inf',
  '0x',
  '1_0',
  '\\u{',
  '(;',
  ';)',
  ';;',
  'member?',
  'exists?',
);
const input = fc
  .array(fc.oneof({ weight: 6, arbitrary: anyChar }, { weight: 1, arbitrary: chunk }), {
    minLength: 20,
    maxLength: 100,
  })
  .map((a) => a.join(''));

describe('parsers never throw anything but a typed syntax error', () => {
  it('parseExpr, parseBooleanExpr and parsePolicyExpression over 100k random characters', () => {
    let total = 0;
    fc.assert(
      fc.property(input, (text) => {
        total += text.length;
        onlySyntaxErrors(() => parseExpr(text));
        onlySyntaxErrors(() => parseExpr(text, { requireOperator: false }));
        onlySyntaxErrors(() => parseBooleanExpr(text));
        onlySyntaxErrors(() => parsePolicyExpression(text));
      }),
      { numRuns: 2000 },
    );
    expect(total).toBeGreaterThan(100_000);
  });

  it('errors carry a position inside the text', () => {
    fc.assert(
      fc.property(input, (text) => {
        try {
          parseExpr(text);
        } catch (e) {
          const p = (e as AbacError).position!;
          expect(p.offset).toBeGreaterThanOrEqual(0);
          expect(p.offset).toBeLessThanOrEqual(text.length);
          expect(p.line).toBeGreaterThanOrEqual(1);
          expect(p.column).toBeGreaterThanOrEqual(1);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('anything that parses prints to text that parses to the same expression', () => {
    fc.assert(
      fc.property(input, (text) => {
        let e: Expr;
        try {
          e = parseExpr(text, { requireOperator: false });
        } catch {
          return;
        }
        expect(sameExpr(parseExpr(printExpr(e), { requireOperator: false }), e)).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });
});

const identName = fc
  .stringMatching(/^[a-zA-Z!$%&*/<=>?~_^][a-zA-Z0-9!$%&*/<=>?~_^.+\-@:]{0,12}$/)
  .filter((s) => {
    // Texts that read as numbers or booleans are not identifiers.
    try {
      return parseExpr(s, { requireOperator: false }).type === 'ident';
    } catch {
      return false;
    }
  });

function valueOfType(type: number): fc.Arbitrary<Expr> {
  switch (type) {
    case 0:
      return fc.string({ unit: 'grapheme', maxLength: 12 }).map(str);
    case 1:
      return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(int);
    case 2:
      return fc.double().map(float);
    case 3:
      return fc.boolean().map(bool);
    default:
      return identName.map(ident);
  }
}

/** Random expressions: sequences are homogeneous, as the parser requires. */
const { expr } = fc.letrec<{ expr: Expr }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer({ min: 0, max: 4 }).chain(valueOfType),
    fc.integer({ min: 0, max: 4 }).chain((t) => fc.array(valueOfType(t), { maxLength: 5 }).map(seq)),
    fc
      .tuple(fc.constantFrom(...OPERATORS), fc.array(tie('expr'), { maxLength: 4 }))
      .map(([o, args]) => list([ident(o), ...args])),
    fc.array(tie('expr'), { maxLength: 3 }).map(list),
  ),
}));

describe('printing and parsing', () => {
  it('printing a random expression and parsing it back gives the same expression', () => {
    fc.assert(
      fc.property(expr, (e) => {
        const policy = list([ident('and'), e]);
        expect(sameExpr(parseExpr(printExpr(policy)), policy)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('a random shorthand prints and parses back to itself', () => {
    const name = fc
      .stringMatching(/^[A-Za-z_-][A-Za-z0-9._-]{0,8}$/)
      .filter((n) => !['and', 'or', 'not'].includes(n));
    const { b } = fc.letrec<{ b: BooleanExpr }>((tie) => ({
      b: fc.oneof(
        { depthSize: 'small' },
        name.map((n): BooleanExpr => ({ type: 'name', name: n })),
        tie('b').map((x): BooleanExpr => ({ type: 'not', expr: x })),
        fc
          .tuple(fc.constantFrom('and' as const, 'or' as const), tie('b'), tie('b'))
          .map(([t, left, right]): BooleanExpr => ({ type: t, left, right })),
      ),
    }));
    fc.assert(
      fc.property(b, (x) => {
        expect(parseBooleanExpr(printBooleanExpr(x))).toEqual(x);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('equality and order', () => {
  const comparable = fc
    .integer({ min: 0, max: 4 })
    .chain((t) => fc.tuple(valueOfType(t), valueOfType(t), valueOfType(t)));
  it('= is symmetric and transitive, < and > are dual and transitive, on values of one type', () => {
    fc.assert(
      fc.property(comparable, ([a, b, c]) => {
        if (exprEquals(a, b)) {
          expect(exprEquals(b, a)).toBe(true);
          expect(exprCompare(a, b)).toBe(0);
        }
        if (exprEquals(a, b) && exprEquals(b, c)) expect(exprEquals(a, c)).toBe(true);
        if (exprCompare(a, b) === 1) expect(exprCompare(b, a)).toBe(-1);
        if (exprCompare(a, b) === -1 && exprCompare(b, c) === -1) expect(exprCompare(a, c)).toBe(-1);
      }),
      { numRuns: 3000 },
    );
  });

  it('evaluation of random expressions returns a value or throws an AbacError, nothing else', () => {
    const env = environment({ 'subject.a': 'x', 'subject.b': true, 'subject.n': 1 });
    fc.assert(
      fc.property(expr, (e) => {
        try {
          evaluate(e, env);
        } catch (err) {
          if (!AbacError.isReason(err)) throw err;
        }
      }),
      { numRuns: 3000 },
    );
  });
});

import { describe, expect, it } from 'vitest';
import {
  AbacError,
  bool,
  float,
  formatFloat,
  ident,
  int,
  list,
  op,
  parseExpr,
  printExpr,
  sameExpr,
  seq,
  str,
} from '../src/index.js';

/** Parses, prints, and checks the printed text parses back to the same expression. */
function roundTrip(text: string, options?: { requireOperator?: boolean }): string {
  const e = parseExpr(text, options);
  const printed = printExpr(e);
  expect(sameExpr(parseExpr(printed, options), e)).toBe(true);
  return printed;
}

function syntaxError(text: string, options?: { requireOperator?: boolean }): AbacError {
  try {
    parseExpr(text, options);
  } catch (e) {
    expect(AbacError.isReason(e, 'syntax')).toBe(true);
    return e as AbacError;
  }
  throw new Error(`expected ${JSON.stringify(text)} not to parse`);
}

describe('parseExpr and printExpr', () => {
  it('parse and print the policies of Ockam docs and demo configs unchanged', () => {
    for (const text of [
      '(= subject.has_credential true)',
      '(and (= subject.component "db") (= subject.has_credential true))',
      '(= subject.mongodb-outlet "true")',
      '(= subject.application "Smart Factory")',
      '(= subject.component "global_value")',
      '(or (= subject.component "c1") (= subject.component "c2"))',
      '(and subject.has_credential (= subject.ockam-role "enroller"))',
      '(member? subject.role ["admin" "dev"])',
      '(exists? subject.a subject.b)',
      '(if (= subject.x "1") true false)',
      '(< 1 2 3)',
      '(!= subject.identifier "I1234")',
      '(and)',
    ]) {
      expect(roundTrip(text)).toBe(text);
    }
  });

  it('builds the expression tree that the text describes', () => {
    expect(
      sameExpr(
        parseExpr('(and (= subject.component "db") (= subject.has_credential true))'),
        op(
          'and',
          op('=', ident('subject.component'), str('db')),
          op('=', ident('subject.has_credential'), bool(true)),
        ),
      ),
    ).toBe(true);
    expect(sameExpr(parseExpr('(member? 1 [1 2])'), op('member?', int(1), seq([int(1), int(2)])))).toBe(true);
  });

  it('normalises whitespace, comments and several top-level values as Ockam does', () => {
    expect(roundTrip('  (and\n\ttrue\r\n  false)  ')).toBe('(and true false)');
    expect(roundTrip('= subject.x "y"')).toBe('(= subject.x "y")');
    expect(roundTrip('(and ;; a line comment\n true (; a (; nested ;) block ;) false)')).toBe(
      '(and true false)',
    );
    expect(roundTrip('((and))')).toBe('((and))');
    expect(roundTrip('and')).toBe('and');
  });

  it('reads numbers as the wast lexer does', () => {
    const value = (t: string) => parseExpr(t, { requireOperator: false });
    expect(value('42')).toEqual(int(42));
    expect(value('-7')).toEqual(int(-7));
    expect(value('+7')).toEqual(int(7));
    expect(value('1_000_000')).toEqual(int(1_000_000));
    expect(value('0x10')).toEqual(int(16));
    expect(value('-0x10')).toEqual(int(-16));
    expect(value('9223372036854775807')).toEqual(int(2n ** 63n - 1n));
    expect(value('-9223372036854775808')).toEqual(int(-(2n ** 63n)));
    expect(value('1.5')).toEqual(float(1.5));
    expect(value('1.')).toEqual(float(1));
    expect(value('2e3')).toEqual(float(2000));
    expect(value('-2.5E-3')).toEqual(float(-0.0025));
    expect(value('inf')).toEqual(float(Infinity));
    expect(value('-inf')).toEqual(float(-Infinity));
    expect(Number.isNaN((value('nan') as { value: number }).value)).toBe(true);
    expect(Number.isNaN((value('nan:0x7f_ff') as { value: number }).value)).toBe(true);
    expect(value('true')).toEqual(bool(true));
    expect(value('false')).toEqual(bool(false));
  });

  it('prints floats as Rust prints an f64 with {:?}', () => {
    expect(formatFloat(1)).toBe('1.0');
    expect(formatFloat(1.5)).toBe('1.5');
    expect(formatFloat(-0)).toBe('-0.0');
    expect(formatFloat(0.0001)).toBe('0.0001');
    expect(formatFloat(0.00001)).toBe('1e-5');
    expect(formatFloat(1.5e-7)).toBe('1.5e-7');
    expect(formatFloat(1e15)).toBe('1000000000000000.0');
    expect(formatFloat(1e16)).toBe('1e16');
    expect(formatFloat(1.2345e300)).toBe('1.2345e300');
    expect(formatFloat(Number.NaN)).toBe('nan');
    expect(formatFloat(Infinity)).toBe('+inf');
    expect(formatFloat(-Infinity)).toBe('-inf');
    expect(roundTrip('[1.0 -2.5 1e-5 1e16 +inf -inf]', { requireOperator: false })).toBe(
      '[1.0 -2.5 1e-5 1e16 +inf -inf]',
    );
  });

  it('reads string escapes and prints strings as Rust Debug does', () => {
    const s = (t: string) => (parseExpr(t, { requireOperator: false }) as { value: string }).value;
    expect(s(String.raw`"a\"b\\c"`)).toBe('a"b\\c');
    expect(s(String.raw`"\t\n\r\'"`)).toBe("\t\n\r'");
    expect(s(String.raw`"\u{1F600} \u{4_1}"`)).toBe('😀 A');
    expect(s(String.raw`"\41\42"`)).toBe('AB');
    expect(s(String.raw`"\e2\82\ac"`)).toBe('€');
    expect(s('"héllo wörld 😀"')).toBe('héllo wörld 😀');
    expect(printExpr(str('a"b\\c\t\n\r\u0001\u007f'))).toBe(String.raw`"a\"b\\c\t\n\r\u{1}\u{7f}"`);
    expect(printExpr(str('\u202e'))).toBe(String.raw`"\u{202e}"`);
    expect(roundTrip(String.raw`(= "\u{0} \u{202e} x" "y")`)).toBe(String.raw`(= "\u{0} \u{202e} x" "y")`);
  });

  it('handles Ockam\'s "evil" deeply nested sequences without exhausting the stack', () => {
    const row = `["${'x'.repeat(72)}"]`;
    const evil = `${'['.repeat(19 * 74)}${Array(22).fill(row).join('\n')}${']'.repeat(19 * 74)}`;
    const e = parseExpr(`(= ${evil} ${evil})`);
    expect(sameExpr(parseExpr(printExpr(e)), e)).toBe(true);
    const deep = `(and ${'(not '.repeat(50_000)}false${')'.repeat(50_000)})`;
    expect(printExpr(parseExpr(deep))).toBe(deep);
  });

  it('builds values with constructors that refuse what cannot be printed', () => {
    expect(() => ident('1abc')).toThrow(TypeError);
    expect(() => ident('a b')).toThrow(TypeError);
    expect(() => str('\ud800')).toThrow(TypeError);
    expect(() => int(2n ** 63n)).toThrow(RangeError);
    expect(() => int(0.5)).toThrow(RangeError);
    expect(printExpr(list([]))).toBe('()');
    expect(printExpr(seq([]))).toBe('[]');
  });
});

describe('parse errors', () => {
  const cases: Array<[string, string]> = [
    ['(and (= subject.x', "expected ')' at 1:18, found end of input"],
    ['(and (= subject.x "y")', "expected ')' at 1:23, found end of input"],
    ['(member? x [1 2', "expected ']' at 1:16, found end of input"],
    ['(and true]', "expected ')' at 1:10, found ']' (to close the '(' at 1:1)"],
    ['[1 2)', "expected ']' at 1:5, found ')' (to close the '[' at 1:1)"],
    ['(and true))', "unexpected ')' at 1:11: nothing to close"],
    ['', 'expected an expression at 1:1, found end of input'],
    ['  ;; only a comment', 'expected an expression at 1:20, found end of input'],
    ['(= "abc', `expected '"' at 1:8, found end of input (the string opened at 1:4 is not closed)`],
    [String.raw`(= "a\qb" x)`, String.raw`invalid escape '\q' at 1:6`],
    [String.raw`(= "a\u0041" x)`, "expected '{' at 1:8, found '0'"],
    [String.raw`(= "a\u{110000}" x)`, 'invalid Unicode scalar value in escape at 1:6'],
    [String.raw`(= "\ff" x)`, 'the string at 1:4 is not valid UTF-8 once its escapes are applied'],
    ['(= "a\u0007" x)', 'invalid character U+0007 in a string at 1:6'],
    ['(= "\u202e" x)', 'invalid character U+202E in a string at 1:5'],
    [
      '(= a "b"c)',
      "expected whitespace or a delimiter at 1:9, found 'c' (a token starting at 1:6 runs into the next one)",
    ],
    [
      '(= a"b")',
      `expected whitespace or a delimiter at 1:5, found '"' (a token starting at 1:4 runs into the next one)`,
    ],
    ['(= a, b)', "unexpected character ',' at 1:5"],
    ['(= a {b})', "unexpected character '{' at 1:6"],
    ['(= é b)', "unexpected character 'é' at 1:4"],
    ['(= a ; b)', "unexpected character ';' at 1:6"],
    ['(= 1abc 2)', "invalid token '1abc' at 1:4: not a number, a boolean or an identifier"],
    ['(= .a 2)', "invalid token '.a' at 1:4: not a number, a boolean or an identifier"],
    ['(= a#b 2)', "invalid token 'a#b' at 1:4: not a number, a boolean or an identifier"],
    ['(= 9223372036854775808 1)', 'integer 9223372036854775808 at 1:4 does not fit in 64 bits'],
    ['(= 1_000.5 1.0)', "unsupported float literal 1_000.5 at 1:4 (use decimal digits without '_')"],
    ['(= 0x1p4 1.0)', "unsupported float literal 0x1p4 at 1:4 (use decimal digits without '_')"],
    ['(member? 1 [1 "a"])', 'the items of the sequence at 1:12 must have one type: 1 and "a" differ'],
    ['(foo 1 2)', 'expected an operator (and, or, not, if, <, >, =, !=, member?, exists?) at 1:2, found foo'],
    ['true', 'expected an operator (and, or, not, if, <, >, =, !=, member?, exists?) at 1:1, found true'],
    [
      'subject.has_credential',
      'expected an operator (and, or, not, if, <, >, =, !=, member?, exists?) at 1:1, found subject.has_credential',
    ],
    ['()', 'expected an operator (and, or, not, if, <, >, =, !=, member?, exists?) at 1:1, found ()'],
    ['(and\n  (= subject.x "y")\n  (= subject.z', "expected ')' at 3:15, found end of input"],
    [
      '(and (; unclosed',
      "expected ';)' at 1:17, found end of input (the block comment opened at 1:6 is not closed)",
    ],
    ['😀(', "unexpected character '😀' at 1:1"],
    ['(= "😀" 😀)', "unexpected character '😀' at 1:8"],
  ];
  for (const [text, message] of cases) {
    it(`${JSON.stringify(text)} → ${message}`, () => {
      const e = syntaxError(text);
      expect(e.message).toBe(message);
      expect(e.origin).toBe('authorization');
      expect(e.kind).toBe('invalid');
      const [line, column] = /at (\d+):(\d+)/.exec(message)!.slice(1).map(Number);
      expect(e.position).toMatchObject({ line, column });
    });
  }

  it('accepts plain values when an operator is not required', () => {
    expect(printExpr(parseExpr('[1 2]', { requireOperator: false }))).toBe('[1 2]');
    expect(printExpr(parseExpr('"x"', { requireOperator: false }))).toBe('"x"');
  });

  it('refuses a non-string input with a TypeError', () => {
    expect(() => parseExpr(42 as unknown as string)).toThrow(TypeError);
  });
});

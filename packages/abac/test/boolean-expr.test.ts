import { describe, expect, it } from 'vitest';
import {
  AbacError,
  type BooleanExpr,
  booleanExprToExpr,
  parseBooleanExpr,
  parsePolicyExpression,
  printBooleanExpr,
  printExpr,
  printPolicyExpression,
} from '../src/index.js';

const name = (n: string): BooleanExpr => ({ type: 'name', name: n });
const and = (left: BooleanExpr, right: BooleanExpr): BooleanExpr => ({ type: 'and', left, right });
const or = (left: BooleanExpr, right: BooleanExpr): BooleanExpr => ({ type: 'or', left, right });
const not = (expr: BooleanExpr): BooleanExpr => ({ type: 'not', expr });

describe('boolean shorthand', () => {
  it('parses the names Ockam accepts', () => {
    for (const n of [
      'name',
      'name.1',
      'a-b',
      'a-b-c',
      'a.b.c',
      'a_b-c',
      'a1_2b-3c4',
      '___reserved',
      'component.NOT_web',
      '-x',
    ]) {
      expect(parseBooleanExpr(n)).toEqual(name(n));
    }
  });

  it("parses Ockam's examples with precedence not > and > or, left to right", () => {
    expect(parseBooleanExpr('a and b')).toEqual(and(name('a'), name('b')));
    expect(parseBooleanExpr('a and b and c')).toEqual(and(and(name('a'), name('b')), name('c')));
    expect(parseBooleanExpr('a or b or c')).toEqual(or(or(name('a'), name('b')), name('c')));
    expect(parseBooleanExpr('not a')).toEqual(not(name('a')));
    expect(parseBooleanExpr('not (not a)')).toEqual(not(not(name('a'))));
    expect(parseBooleanExpr('not not a')).toEqual(not(not(name('a'))));
    expect(parseBooleanExpr('(not a)')).toEqual(not(name('a')));
    expect(parseBooleanExpr('( ( (a )))')).toEqual(name('a'));
    expect(parseBooleanExpr('(a or b) and (not c)')).toEqual(and(or(name('a'), name('b')), not(name('c'))));
    expect(parseBooleanExpr('((a or b) and (not c))')).toEqual(and(or(name('a'), name('b')), not(name('c'))));
    expect(parseBooleanExpr('a or b and not c')).toEqual(or(name('a'), and(name('b'), not(name('c')))));
    expect(parseBooleanExpr('  component.db and not web \n')).toEqual(
      and(name('component.db'), not(name('web'))),
    );
    expect(parseBooleanExpr('nothing')).toEqual(name('nothing'));
    expect(parseBooleanExpr('android or order')).toEqual(or(name('android'), name('order')));
    expect(parseBooleanExpr('and')).toEqual(name('and'));
    expect(parseBooleanExpr('(not)')).toEqual(name('not'));
    expect(parseBooleanExpr('a and or')).toEqual(and(name('a'), name('or')));
  });

  it('prints as Ockam does', () => {
    expect(printBooleanExpr(name('a'))).toBe('a');
    expect(printBooleanExpr(and(name('a'), name('b')))).toBe('a and b');
    expect(printBooleanExpr(or(name('a'), name('b')))).toBe('a or b');
    expect(printBooleanExpr(and(or(name('a'), name('b')), not(name('c'))))).toBe('(a or b) and (not c)');
    expect(printBooleanExpr(parseBooleanExpr('a or b and not c'))).toBe('a or (b and (not c))');
  });

  it('stands for (= subject.N "true") for every name', () => {
    expect(printExpr(booleanExprToExpr(parseBooleanExpr('component.db')))).toBe(
      '(= subject.component.db "true")',
    );
    expect(printExpr(booleanExprToExpr(parseBooleanExpr('component.db and not web')))).toBe(
      '(and (= subject.component.db "true") (not (= subject.web "true")))',
    );
    expect(printExpr(booleanExprToExpr(parseBooleanExpr('(a or b) and (not c)')))).toBe(
      '(and (or (= subject.a "true") (= subject.b "true")) (not (= subject.c "true")))',
    );
  });

  const errors: Array<[string, string]> = [
    ['', "expected a name, 'not' or '(' at 1:1, found end of input"],
    ['()', "expected a name, 'not' or '(' at 1:2, found ')'"],
    [
      'a and',
      "successfully parsed: `a`, but ` and` cannot be parsed (expected a name, 'not' or '(' at 1:6, found end of input)",
    ],
    [
      'component.db or',
      "successfully parsed: `component.db`, but ` or` cannot be parsed (expected a name, 'not' or '(' at 1:16, found end of input)",
    ],
    [
      'a and b not c',
      "successfully parsed: `a and b`, but ` not c` cannot be parsed (expected 'and', 'or' or end of input at 1:9, found 'not')",
    ],
    [
      '(a and b) or (c and d))',
      "successfully parsed: `(a and b) or (c and d)`, but `)` cannot be parsed (expected 'and', 'or' or end of input at 1:23, found ')')",
    ],
    // Inside parentheses nothing parsed completely: the error is where the parse stopped.
    ['(a or) and b', "expected a name, 'not' or '(' at 1:6, found ')'"],
    ['(a and b', "expected ')' (to close the '(' at 1:1) at 1:9, found end of input"],
    ['na*me', "unexpected character '*' at 1:3"],
    ['1abc', "a name cannot start with '1' (at 1:1); names start with a letter, '_' or '-'"],
    [`${'('.repeat(300)}a${')'.repeat(300)}`, 'nesting deeper than 256 at 1:258'],
  ];
  for (const [text, message] of errors) {
    it(`${JSON.stringify(text.slice(0, 30))} → ${message}`, () => {
      let error: unknown;
      try {
        parseBooleanExpr(text);
      } catch (e) {
        error = e;
      }
      expect(AbacError.isReason(error, 'syntax')).toBe(true);
      expect((error as AbacError).message).toBe(message);
    });
  }
});

describe('parsePolicyExpression', () => {
  it('tries the shorthand first, then the full language', () => {
    const short = parsePolicyExpression('component.db');
    expect(short.kind).toBe('boolean');
    expect(printPolicyExpression(short)).toBe('component.db');
    expect(printExpr(short.expr)).toBe('(= subject.component.db "true")');
    const full = parsePolicyExpression('(= subject.component "db")');
    expect(full.kind).toBe('full');
    expect(printPolicyExpression(full)).toBe('(= subject.component "db")');
    // A shorthand in parentheses is still a shorthand.
    expect(parsePolicyExpression('(a and b)').kind).toBe('boolean');
    // As in Ockam, `(and)` is the shorthand for the attribute "and", not the full `(and)` (true).
    expect(printExpr(parsePolicyExpression('(and)').expr)).toBe('(= subject.and "true")');
  });

  it('reports both reasons when neither parses', () => {
    try {
      parsePolicyExpression('component.db or');
      expect.unreachable();
    } catch (e) {
      expect(AbacError.isReason(e, 'syntax')).toBe(true);
      expect((e as AbacError).message).toBe(
        "cannot parse the policy as a boolean expression (successfully parsed: `component.db`, but ` or` cannot be parsed (expected a name, 'not' or '(' at 1:16, found end of input)) nor as a full expression (expected an operator (and, or, not, if, <, >, =, !=, member?, exists?) at 1:1, found component.db)",
      );
      expect((e as AbacError).position).toMatchObject({ line: 1, column: 1 });
    }
  });
});

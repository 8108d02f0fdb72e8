import { describe, expect, it } from 'vitest';
import {
  AbacError,
  type AbacErrorReason,
  decide,
  type Environment,
  environment,
  evaluate,
  ident,
  isAllowed,
  parseExpr,
  printExpr,
} from '../src/index.js';

const env = environment({
  'subject.component': 'db',
  'subject.role': 'admin',
  'subject.count': 3,
  'subject.ratio': 0.5,
  'subject.has_credential': true,
  'subject.roles': ['admin', 'dev'],
  t: true,
  f: false,
});

function value(text: string, e: Environment = env): string {
  return printExpr(evaluate(parseExpr(text), e));
}

function evalError(text: string, e: Environment = env): AbacError {
  try {
    evaluate(parseExpr(text), e);
  } catch (err) {
    expect(AbacError.isReason(err)).toBe(true);
    return err as AbacError;
  }
  throw new Error(`expected ${text} to fail`);
}

describe('evaluate', () => {
  it('and / or / not follow their truth tables', () => {
    for (const a of [true, false]) {
      for (const b of [true, false]) {
        expect(value(`(and ${a} ${b})`)).toBe(String(a && b));
        expect(value(`(or ${a} ${b})`)).toBe(String(a || b));
        expect(value(`(and ${a} ${b} true)`)).toBe(String(a && b));
        expect(value(`(or ${a} ${b} false)`)).toBe(String(a || b));
      }
      expect(value(`(not ${a})`)).toBe(String(!a));
      expect(value(`(if ${a} "yes" "no")`)).toBe(a ? '"yes"' : '"no"');
    }
    expect(value('(and)')).toBe('true');
    expect(value('(or)')).toBe('false');
  });

  it('and / or stop at the deciding argument and leave the rest unevaluated', () => {
    expect(value('(and false unbound.x)')).toBe('false');
    expect(value('(or true unbound.x)')).toBe('true');
    expect(value('(if true 1 unbound.x)')).toBe('1');
    expect(evalError('(and true unbound.x)').reason).toBe('unbound');
  });

  it('and / or return their last argument as it is, like Ockam', () => {
    expect(value('(and true 1)')).toBe('1');
    expect(value('(or false "x")')).toBe('"x"');
    expect(isAllowed(parseExpr('(and true 1)'), env)).toBe(false);
  });

  it('compares values of one type with =, !=, < and >', () => {
    const table: Array<[string, string]> = [
      ['(= subject.component "db")', 'true'],
      ['(= subject.component "web")', 'false'],
      ['(= 1 1 1)', 'true'],
      ['(= 1 1 2)', 'false'],
      ['(!= 1 2)', 'true'],
      ['(!= 1 1)', 'false'],
      ['(!= 1)', 'false'],
      ['(!=)', 'false'],
      ['(< 1 2 3)', 'true'],
      ['(< 1 3 2)', 'false'],
      ['(> 3 2 1)', 'true'],
      ['(> 1.5 subject.ratio)', 'true'],
      ['(< "a" "b")', 'true'],
      ['(< "\uffff" "😀")', 'true'],
      ['(< false true)', 'true'],
      ['(< [1 2] [1 3])', 'true'],
      ['(< [9] [1 1])', 'true'],
      ['(= [1 2] [1 2])', 'true'],
      ['(= nan nan)', 'false'],
      ['(< nan 1.0)', 'false'],
      ['(> nan 1.0)', 'false'],
      ['(= subject.count 3)', 'true'],
      ['(= 1 2 "a")', 'false'],
    ];
    for (const [text, result] of table) expect(value(text), text).toBe(result);
  });

  it('tests membership with member? and bindings with exists?', () => {
    expect(value('(member? subject.role subject.roles)')).toBe('true');
    expect(value('(member? "ops" subject.roles)')).toBe('false');
    expect(value('(member? "ops" [])')).toBe('false');
    expect(value('(member? 2 [1 2 3])')).toBe('true');
    expect(value('(exists? subject.role subject.component)')).toBe('true');
    expect(value('(exists? subject.role subject.nope)')).toBe('false');
    expect(value('(exists?)')).toBe('true');
    expect(value('(exists? subject.nope 1)')).toBe('false');
  });

  it('evaluates sequences item by item and identifiers through the environment', () => {
    expect(value('(= [subject.component subject.role] ["db" "admin"])')).toBe('true');
    expect(value('(and t (not f))')).toBe('true');
    const chained = new Map([
      ['a', ident('b')],
      ['b', parseExpr('(= 1 1)')],
    ]);
    expect(value('(and a)', chained)).toBe('true');
  });

  const errors: Array<[string, AbacErrorReason, string]> = [
    ['(= subject.nope "x")', 'unbound', 'unbound identifier: subject.nope'],
    ['(and (frobnicate 1))', 'unknown-operator', 'unknown operator: frobnicate'],
    ['(and (1 2))', 'invalid-type', 'invalid type of expression 1: expected (op ...)'],
    ['(and 1 true)', 'invalid-type', "invalid type of expression 1: 'and' expects boolean arguments"],
    ['(or "x" true)', 'invalid-type', `invalid type of expression "x": 'or' expects boolean arguments`],
    ['(not 1)', 'invalid-type', "invalid type of expression 1: 'not' expects boolean arguments"],
    [
      '(if 1 true false)',
      'invalid-type',
      "invalid type of expression 1: 'if' expects test to evaluate to bool",
    ],
    [
      '(member? 1 2)',
      'invalid-type',
      "invalid type of expression 2: 'member?' expects sequence as second argument",
    ],
    ['(member? "a" [1 2])', 'type-mismatch', '"a" and 1 are not of the same type'],
    [
      '(exists? "a")',
      'invalid-type',
      `invalid type of expression "a": 'exists?' expects identifiers as arguments`,
    ],
    ['(= 1 "1")', 'type-mismatch', '1 and "1" are not of the same type'],
    ['(< 1 2.0)', 'type-mismatch', '1 and 2.0 are not of the same type'],
    ['(= subject.has_credential "true")', 'type-mismatch', 'true and "true" are not of the same type'],
    ['(not true false)', 'malformed', "malformed expression: 'not' requires one argument"],
    ['(if true false)', 'malformed', "malformed expression: 'if' requires three arguments"],
    ['(= 1)', 'malformed', "malformed expression: '=' requires at least two arguments"],
    ['(< 1)', 'malformed', "malformed expression: '<' requires at least two arguments"],
    ['(> 1)', 'malformed', "malformed expression: '>' requires at least two arguments"],
    ['(member? 1)', 'malformed', "malformed expression: 'member?' requires two arguments"],
  ];
  for (const [text, reason, message] of errors) {
    it(`${text} fails with ${reason}: ${message}`, () => {
      const e = evalError(text);
      expect(e.reason).toBe(reason);
      expect(e.message).toBe(message);
      expect(e.origin).toBe('authorization');
      expect(decide(parseExpr(text), env)).toMatchObject({ allowed: false, error: { reason } });
    });
  }

  it('stops an evaluation that loops through the environment', () => {
    const loop = new Map([['a', ident('a')]]);
    const e = evalError('(and a)', loop);
    expect(e.reason).toBe('too-complex');
    expect(e.kind).toBe('resource');
  });

  it('allows only the boolean true: errors and other results deny', () => {
    expect(isAllowed(parseExpr('(= subject.component "db")'), env)).toBe(true);
    expect(isAllowed(parseExpr('(= subject.component "web")'), env)).toBe(false);
    expect(isAllowed(parseExpr('(if true "yes" "no")'), env)).toBe(false);
    expect(isAllowed(parseExpr('(= subject.unbound "x")'), env)).toBe(false);
    expect(isAllowed(parseExpr('(= 1 "x")'), env)).toBe(false);
    expect(decide(parseExpr('(if true 1 2)'), env)).toMatchObject({
      allowed: false,
      result: { type: 'int' },
    });
    expect(isAllowed(parseExpr('(= subject.has_credential true)'), new Map())).toBe(false);
  });

  it('evaluates very deep expressions without exhausting the stack', () => {
    const deep = `${'(not '.repeat(100_000)}false${')'.repeat(100_000)}`;
    expect(value(deep, new Map())).toBe('false');
  });
});

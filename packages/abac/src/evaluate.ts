/**
 * Evaluating expressions (PROTOCOL.md §6) with the semantics of Ockam's `eval.rs`:
 * - an identifier evaluates to what the environment binds it to (evaluated in turn); an unbound
 *   identifier is an error;
 * - `and`/`or` evaluate left to right and stop early; `(and)` is true, `(or)` false; every argument
 *   but the last must be a boolean, the last is the result as it is;
 * - `not` takes one boolean; `if` takes a boolean test and evaluates one branch;
 * - `=`, `<`, `>` take two or more arguments and hold between every adjacent pair; `!=` is the
 *   negation of `=` over any number of arguments; comparing different types is an error;
 * - `(member? x [..])` tests membership with `=`; `(exists? a b …)` is true when every identifier
 *   is bound (its arguments are not evaluated);
 * - `()` evaluates to itself; a list whose head is not an identifier is an error.
 * An access decision is "allow" only when the result is the boolean true: see {@link isAllowed}.
 *
 * @example
 * ```ts
 * import { evaluate, environment, parseExpr } from '@ockam/abac';
 * const env = environment({ 'subject.component': 'db', 'subject.has_credential': true });
 * evaluate(parseExpr('(and (= subject.component "db") subject.has_credential)'), env); // { type: 'bool', value: true }
 * ```
 */
import { AbacError } from './abac-error.js';
import { type Expr, exprCompare, exprEquals, FALSE, float, int, str, TRUE, UNIT } from './expr.js';
import { printExpr } from './print-expr.js';

/** Bindings of identifiers (`subject.component`, `resource.id`) to values. */
export type Environment = ReadonlyMap<string, Expr>;

/** A JavaScript value that {@link environment} turns into an Expr. */
export type EnvironmentValue = Expr | string | boolean | number | bigint | readonly EnvironmentValue[];

/** Default bound on evaluation steps: far above any real policy, low enough to stop a cycle. */
export const DEFAULT_MAX_EVAL_STEPS = 1_000_000;

function toExpr(v: EnvironmentValue): Expr {
  if (typeof v === 'string') return str(v);
  if (typeof v === 'boolean') return v ? TRUE : FALSE;
  if (typeof v === 'bigint') return int(v);
  if (typeof v === 'number') return Number.isSafeInteger(v) ? int(v) : float(v);
  if (Array.isArray(v)) return { type: 'seq', value: v.map(toExpr) };
  return v as Expr;
}

/**
 * Builds an environment from plain values: strings become Str, booleans Bool, safe integers and
 * bigints Int, other numbers Float, arrays Seq.
 */
export function environment(
  values: Record<string, EnvironmentValue> | Iterable<[string, EnvironmentValue]>,
): Map<string, Expr> {
  const entries =
    Symbol.iterator in values
      ? [...(values as Iterable<[string, EnvironmentValue]>)]
      : Object.entries(values);
  return new Map(entries.map(([k, v]) => [k, toExpr(v)]));
}

type Op =
  | { readonly op: 'eval'; readonly expr: Expr }
  | { readonly op: 'and' | 'or'; readonly remaining: number }
  | { readonly op: 'not' | 'if' | 'member' }
  | { readonly op: 'eq' | 'lt' | 'gt' | 'seq'; readonly n: number };

function invalidType(e: Expr, message: string): AbacError {
  return new AbacError('invalid-type', `invalid type of expression ${clip(printExpr(e))}: ${message}`);
}

function malformed(message: string): AbacError {
  return new AbacError('malformed', `malformed expression: ${message}`);
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

export interface EvaluateOptions {
  /** Bound on evaluation steps (default {@link DEFAULT_MAX_EVAL_STEPS}). */
  maxSteps?: number;
}

/**
 * Evaluates `expr` in `env`. Throws an AbacError (`unbound`, `unknown-operator`, `invalid-type`,
 * `type-mismatch`, `malformed`, `too-complex`) when Ockam's evaluator would fail.
 */
export function evaluate(expr: Expr, env: Environment, options: EvaluateOptions = {}): Expr {
  const maxSteps = options.maxSteps ?? DEFAULT_MAX_EVAL_STEPS;
  // Two explicit stacks, as in Ockam, so that nesting depth is bounded by memory, not the call stack.
  const ctrl: Op[] = [{ op: 'eval', expr }];
  const args: Expr[] = [];
  const pop = (): Expr => args.pop()!;
  let steps = 0;
  for (let item = ctrl.pop(); item !== undefined; item = ctrl.pop()) {
    if (++steps > maxSteps) throw new AbacError('too-complex', `evaluation took more than ${maxSteps} steps`);
    switch (item.op) {
      case 'eval': {
        const e = item.expr;
        switch (e.type) {
          case 'ident': {
            const bound = env.get(e.value);
            if (bound === undefined) throw new AbacError('unbound', `unbound identifier: ${e.value}`);
            ctrl.push({ op: 'eval', expr: bound });
            break;
          }
          case 'seq':
            ctrl.push({ op: 'seq', n: e.value.length });
            for (let i = e.value.length - 1; i >= 0; i--) ctrl.push({ op: 'eval', expr: e.value[i]! });
            break;
          case 'list':
            evalList(e.value, env, ctrl, args);
            break;
          default:
            args.push(e);
        }
        break;
      }
      case 'and':
      case 'or': {
        if (item.remaining === 0) break; // the last argument's value is the result
        const v = pop();
        const stopOn = item.op === 'or';
        if (v.type !== 'bool') throw invalidType(v, `'${item.op}' expects boolean arguments`);
        if (v.value === stopOn) {
          for (let i = 0; i < item.remaining; i++) ctrl.pop();
          args.push(v);
        } else {
          const next = ctrl.pop()!;
          ctrl.push({ op: item.op, remaining: item.remaining - 1 }, next);
        }
        break;
      }
      case 'not': {
        const v = pop();
        if (v.type !== 'bool') throw invalidType(v, "'not' expects boolean arguments");
        args.push(v.value ? FALSE : TRUE);
        break;
      }
      case 'if': {
        const whenTrue = ctrl.pop()!;
        const whenFalse = ctrl.pop()!;
        const test = pop();
        if (test.type !== 'bool') throw invalidType(test, "'if' expects test to evaluate to bool");
        ctrl.push(test.value ? whenTrue : whenFalse);
        break;
      }
      case 'eq':
      case 'lt':
      case 'gt': {
        const start = args.length - item.n;
        let holds = true;
        for (let i = start; i + 1 < args.length; i++) {
          const x = args[i]!;
          const y = args[i + 1]!;
          const ok = item.op === 'eq' ? exprEquals(x, y) : exprCompare(x, y) === (item.op === 'lt' ? -1 : 1);
          if (!ok) {
            holds = false;
            break;
          }
        }
        args.length = start;
        args.push(holds ? TRUE : FALSE);
        break;
      }
      case 'member': {
        const s = pop();
        const y = pop();
        if (s.type !== 'seq') throw invalidType(s, "'member?' expects sequence as second argument");
        let found = false;
        for (const x of s.value) {
          if (exprEquals(y, x)) {
            found = true;
            break;
          }
        }
        args.push(found ? TRUE : FALSE);
        break;
      }
      case 'seq': {
        const items = args.splice(args.length - item.n, item.n);
        args.push({ type: 'seq', value: items });
        break;
      }
    }
  }
  return args.pop() ?? UNIT;
}

function evalList(xs: readonly Expr[], env: Environment, ctrl: Op[], args: Expr[]): void {
  const head = xs[0];
  if (head === undefined) {
    args.push(UNIT);
    return;
  }
  if (head.type !== 'ident') throw invalidType(head, 'expected (op ...)');
  const n = xs.length - 1;
  const pushArgs = () => {
    for (let i = xs.length - 1; i >= 1; i--) ctrl.push({ op: 'eval', expr: xs[i]! });
  };
  switch (head.value) {
    case 'and':
    case 'or':
      if (n === 0) {
        args.push(head.value === 'and' ? TRUE : FALSE);
        return;
      }
      // The operator waits behind each argument and decides whether to evaluate the next.
      for (let i = xs.length - 1; i >= 2; i--) ctrl.push({ op: 'eval', expr: xs[i]! });
      ctrl.push({ op: head.value, remaining: n - 1 }, { op: 'eval', expr: xs[1]! });
      return;
    case 'not':
      if (n !== 1) throw malformed("'not' requires one argument");
      ctrl.push({ op: 'not' });
      pushArgs();
      return;
    case 'if':
      if (n !== 3) throw malformed("'if' requires three arguments");
      ctrl.push(
        { op: 'eval', expr: xs[3]! },
        { op: 'eval', expr: xs[2]! },
        { op: 'if' },
        { op: 'eval', expr: xs[1]! },
      );
      return;
    case '<':
    case '>':
    case '=':
      if (n < 2) throw malformed(`'${head.value}' requires at least two arguments`);
      ctrl.push({ op: head.value === '<' ? 'lt' : head.value === '>' ? 'gt' : 'eq', n });
      pushArgs();
      return;
    case '!=':
      ctrl.push({ op: 'not' }, { op: 'eq', n });
      pushArgs();
      return;
    case 'member?':
      if (n !== 2) throw malformed("'member?' requires two arguments");
      ctrl.push({ op: 'member' });
      pushArgs();
      return;
    case 'exists?': {
      let all = true;
      for (const x of xs.slice(1)) {
        if (x.type !== 'ident') throw invalidType(x, "'exists?' expects identifiers as arguments");
        if (!env.has(x.value)) {
          all = false;
          break;
        }
      }
      args.push(all ? TRUE : FALSE);
      return;
    }
    default:
      throw new AbacError('unknown-operator', `unknown operator: ${head.value}`);
  }
}

/** The outcome of evaluating a policy: allowed only by the boolean true. */
export type Decision =
  | { readonly allowed: boolean; readonly result: Expr; readonly error?: undefined }
  | { readonly allowed: false; readonly result?: undefined; readonly error: AbacError };

/** Evaluates a policy and never throws: any error, or any result but `true`, denies. */
export function decide(expr: Expr, env: Environment, options?: EvaluateOptions): Decision {
  try {
    const result = evaluate(expr, env, options);
    return { allowed: result.type === 'bool' && result.value, result };
  } catch (e) {
    if (AbacError.isReason(e)) return { allowed: false, error: e };
    return {
      allowed: false,
      error: new AbacError('malformed', `evaluation failed: ${e instanceof Error ? e.message : String(e)}`, {
        cause: e,
      }),
    };
  }
}

/** True only if `expr` evaluates to the boolean true in `env` (deny on any error). */
export function isAllowed(expr: Expr, env: Environment, options?: EvaluateOptions): boolean {
  return decide(expr, env, options).allowed;
}

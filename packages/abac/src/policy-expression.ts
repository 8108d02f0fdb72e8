/**
 * A policy as users write it (PROTOCOL.md §6): the boolean shorthand if the text is one,
 * otherwise the full expression language, as Ockam's `PolicyExpression` parses it.
 *
 * @example
 * ```ts
 * import { parsePolicyExpression, printExpr } from '@ockam/abac';
 * printExpr(parsePolicyExpression('component.db').expr);  // (= subject.component.db "true")
 * printExpr(parsePolicyExpression('(= subject.has_credential true)').expr);
 * ```
 */
import { AbacError } from './abac-error.js';
import { type BooleanExpr, booleanExprToExpr, parseBooleanExpr, printBooleanExpr } from './boolean-expr.js';
import type { Expr } from './expr.js';
import { parseExpr } from './parse-expr.js';
import { printExpr } from './print-expr.js';

export type PolicyExpression =
  | { readonly kind: 'boolean'; readonly boolean: BooleanExpr; readonly expr: Expr }
  | { readonly kind: 'full'; readonly expr: Expr };

/**
 * Parses the shorthand first, then the full language. When both fail, the AbacError (`syntax`)
 * gives both reasons and carries the full-language position.
 */
export function parsePolicyExpression(text: string): PolicyExpression {
  let booleanError: unknown;
  try {
    const boolean = parseBooleanExpr(text);
    return { kind: 'boolean', boolean, expr: booleanExprToExpr(boolean) };
  } catch (e) {
    if (!AbacError.isReason(e)) throw e;
    booleanError = e;
  }
  try {
    return { kind: 'full', expr: parseExpr(text) };
  } catch (e) {
    if (!AbacError.isReason(e)) throw e;
    const position = e.position;
    throw new AbacError(
      'syntax',
      `cannot parse the policy as a boolean expression (${(booleanError as Error).message}) nor as a full expression (${e.message})`,
      { cause: e, ...(position === undefined ? {} : { position }) },
    );
  }
}

/** The text of a policy expression, in the form it was written (shorthand or full). */
export function printPolicyExpression(policy: PolicyExpression): string {
  return policy.kind === 'boolean' ? printBooleanExpr(policy.boolean) : printExpr(policy.expr);
}

/**
 * @ockam/abac: Ockam's attribute-based access control (PROTOCOL.md §6), wire-compatible with
 * Ockam Rust policies — the full s-expression language and the boolean shorthand, evaluation with
 * Ockam's semantics (deny on any error), resources, policy storage, and incoming and outgoing
 * access controls for the `@ockam/core` router. Pure: no `node:` imports.
 */
export { AbacError, type AbacErrorReason, type SourcePosition } from './abac-error.js';
export {
  type AbacAccessControlOptions,
  type AbacOptions,
  ACTION_ID,
  abacIncomingAccessControl,
  abacOutgoingAccessControl,
  authorizeIdentity,
  type ExpressionAccessControlOptions,
  incomingIdentifier,
  outgoingIdentifier,
  type PolicyAccessControlOptions,
  RESOURCE_ID,
  SUBJECT_HAS_CREDENTIAL,
  SUBJECT_IDENTIFIER,
  subjectEnvironment,
} from './access-control.js';
export type { AttributesEntry, AttributesLookup } from './attributes-lookup.js';
export {
  BOOLEAN_NAME_PATTERN,
  type BooleanExpr,
  booleanExprToExpr,
  MAX_BOOLEAN_NESTING,
  parseBooleanExpr,
  printBooleanExpr,
} from './boolean-expr.js';
export {
  DEFAULT_MAX_EVAL_STEPS,
  type Decision,
  decide,
  type Environment,
  type EnvironmentValue,
  type EvaluateOptions,
  environment,
  evaluate,
  isAllowed,
} from './evaluate.js';
export {
  bool,
  type Expr,
  type ExprType,
  exprCompare,
  exprEquals,
  FALSE,
  float,
  IDENT_PATTERN,
  ident,
  int,
  isOperator,
  list,
  OPERATORS,
  type Operator,
  op,
  sameExpr,
  seq,
  startsWithOperator,
  str,
  TRUE,
  UNIT,
} from './expr.js';
export { migrateLegacyPolicyText } from './legacy-expr.js';
export { type ParseExprOptions, parseExpr } from './parse-expr.js';
export { type PolicyExpression, parsePolicyExpression, printPolicyExpression } from './policy-expression.js';
export {
  DEFAULT_RESOURCE_TYPE_POLICY,
  MemoryPolicyStore,
  Policies,
  type PolicyStore,
  type PolicyTarget,
  type ResolvedPolicy,
  type ResourcePolicy,
  type ResourceTypePolicy,
} from './policy-store.js';
export { formatFloat, printExpr } from './print-expr.js';
export {
  type Action,
  ALL_RESOURCE_TYPES,
  HANDLE_MESSAGE,
  isResourceType,
  parseResourceType,
  RESOURCE_TYPES,
  type Resource,
  type ResourceType,
  resourceTypeFromCode,
} from './resource.js';

/**
 * `@ockam/abac/codec`: the CBOR encoding of policy expressions that older Ockam nodes stored
 * (`migrateLegacyPolicyText` on the main entry turns stored legacy text into today's form). Here for
 * tests, fuzzers and tooling.
 *
 * @example
 * ```ts
 * import { decodeLegacyExpr, encodeLegacyExpr } from '@ockam/abac/codec';
 * import { parseExpr } from '@ockam/abac';
 * decodeLegacyExpr(encodeLegacyExpr(parseExpr('(= subject.role "admin")')));
 * ```
 */
export {
  type DecodeLegacyExprOptions,
  decodeLegacyExpr,
  encodeLegacyExpr,
  MAX_LEGACY_EXPR_DEPTH,
} from './legacy-expr.js';

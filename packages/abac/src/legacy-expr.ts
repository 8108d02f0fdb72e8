/**
 * The CBOR form of `Expr` that Ockam stored policies in before 2024-05 (PROTOCOL.md §6, §14 item
 * 9): each expression is the minicbor enum `[variant, [value]]` with Str=1, Int=2, Float=3,
 * Bool=4, Ident=5, Seq=6, List=7. Decoding is strict (no trailing bytes, bounded depth).
 *
 * @example
 * ```ts
 * import { printExpr } from '@ockam/abac';
 * import { decodeLegacyExpr } from '@ockam/abac/codec';
 * printExpr(decodeLegacyExpr(fromHex('820481f5'), { requireOperator: false })); // true
 * ```
 */
import { CborReader, CborWriter, OckamError } from '@ockam/core';
import { AbacError } from './abac-error.js';
import { type Expr, IDENT_PATTERN, startsWithOperator } from './expr.js';

/** Deeper nesting is refused when decoding. */
export const MAX_LEGACY_EXPR_DEPTH = 512;

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const VARIANT = { str: 1, int: 2, float: 3, bool: 4, ident: 5, seq: 6, list: 7 } as const;

function readI64(r: CborReader): bigint {
  if (r.peekType() === 'uint') {
    const v = r.uint64();
    if (v > I64_MAX) r.fail(`integer ${v} does not fit in 64 bits`);
    return v;
  }
  if (r.peekType() !== 'nint') r.fail('expected an integer');
  const raw = r.rawItem();
  const info = raw[0]! & 0x1f;
  let arg = 0n;
  if (info < 24) arg = BigInt(info);
  else for (let i = 1; i < raw.length; i++) arg = (arg << 8n) | BigInt(raw[i]!);
  const v = -1n - arg;
  if (v < I64_MIN) r.fail(`integer ${v} does not fit in 64 bits`);
  return v;
}

function readExpr(r: CborReader, depth: number): Expr {
  if (depth > MAX_LEGACY_EXPR_DEPTH) r.fail(`expression nested deeper than ${MAX_LEGACY_EXPR_DEPTH}`);
  r.arrayOf(2, 2, 'Expr');
  const variant = r.uint();
  const fields = r.array();
  if (fields < 1) r.fail(`Expr variant ${variant} has no field`);
  let e: Expr;
  switch (variant) {
    case VARIANT.str:
      e = { type: 'str', value: r.text() };
      break;
    case VARIANT.int:
      e = { type: 'int', value: readI64(r) };
      break;
    case VARIANT.float:
      if (r.peekType() !== 'float') r.fail('expected a float');
      e = { type: 'float', value: r.float() };
      break;
    case VARIANT.bool:
      e = { type: 'bool', value: r.bool() };
      break;
    case VARIANT.ident: {
      const name = r.text();
      if (!IDENT_PATTERN.test(name)) r.fail(`invalid identifier ${JSON.stringify(name.slice(0, 40))}`);
      e = { type: 'ident', value: name };
      break;
    }
    case VARIANT.seq:
    case VARIANT.list: {
      const n = r.array();
      const items: Expr[] = [];
      for (let i = 0; i < n; i++) items.push(readExpr(r, depth + 1));
      e = { type: variant === VARIANT.seq ? 'seq' : 'list', value: items };
      break;
    }
    default:
      return r.fail(`unknown Expr variant ${variant}`);
  }
  r.skipRest(fields - 1);
  return e;
}

export interface DecodeLegacyExprOptions {
  /** Require a policy that starts with an operator, as the text parser does (default false). */
  requireOperator?: boolean;
}

/** Decodes a legacy CBOR `Expr`; throws an AbacError (`legacy-decode`) on anything malformed. */
export function decodeLegacyExpr(bytes: Uint8Array, options: DecodeLegacyExprOptions = {}): Expr {
  let e: Expr;
  try {
    const r = new CborReader(bytes, 'legacy Expr');
    e = readExpr(r, 0);
    r.end();
  } catch (cause) {
    if (OckamError.is(cause)) throw new AbacError('legacy-decode', cause.message, { cause });
    throw cause;
  }
  if (options.requireOperator && !startsWithOperator(e))
    throw new AbacError('legacy-decode', 'the legacy expression does not start with an operator');
  return e;
}

function writeExpr(w: CborWriter, e: Expr): void {
  w.array(2).uint(VARIANT[e.type]).array(1);
  switch (e.type) {
    case 'str':
    case 'ident':
      w.text(e.value);
      break;
    case 'int':
      w.int(e.value);
      break;
    case 'float':
      w.float64(e.value);
      break;
    case 'bool':
      w.bool(e.value);
      break;
    case 'seq':
    case 'list':
      w.array(e.value.length);
      for (const x of e.value) writeExpr(w, x);
      break;
  }
}

/** Encodes an expression in the legacy CBOR form (minicbor writes f64 for floats). */
export function encodeLegacyExpr(expr: Expr): Uint8Array {
  const w = new CborWriter(64);
  writeExpr(w, expr);
  return w.finish();
}

/**
 * Ockam's migration of legacy policies (`migration_20240111100002_delete_trust_context`):
 * trust-context checks become `subject.has_credential` in the printed text.
 */
export function migrateLegacyPolicyText(text: string): string {
  return text
    .replace(
      /\(= subject\.trust_context_id "[a-z0-9]{8}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{12}"\)/,
      'subject.has_credential',
    )
    .replaceAll('(= resource.trust_context_id subject.trust_context_id)', 'subject.has_credential');
}

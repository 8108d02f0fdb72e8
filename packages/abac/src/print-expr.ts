/**
 * Printing expressions as Ockam does (`impl Display for Expr`), so that printed policies parse
 * back to the same expression here and in Ockam Rust.
 */
import type { Expr } from './expr.js';

// Characters the lexer refuses raw inside a string (PROTOCOL.md §6 follows the wast lexer, which
// rejects control characters and the bidirectional overrides of the "trojan source" attack).
const CONFUSING = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/;

function escapeString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (cp < 0x20 || cp === 0x7f || CONFUSING.test(ch)) out += `\\u{${cp.toString(16)}}`;
    else out += ch;
  }
  return `${out}"`;
}

/**
 * A float as Rust's `{:?}` writes an f64: `nan`, `+inf`, `-inf`; exponent form below 1e-4 and
 * from 1e16 (`1e-5`, `1.5e16`); otherwise decimal with at least one fractional digit (`1.0`).
 */
export function formatFloat(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Number.POSITIVE_INFINITY) return '+inf';
  if (x === Number.NEGATIVE_INFINITY) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const abs = Math.abs(x);
  if (abs < 1e-4 || abs >= 1e16) return x.toExponential().replace('e+', 'e');
  const s = String(x);
  return s.includes('.') ? s : `${s}.0`;
}

/** The text of one expression: `(op a b)`, `[a b]`, `"s"`, `1`, `1.5`, `true`, `ident`. */
export function printExpr(expr: Expr): string {
  // Iterative, like Ockam's, so that deeply nested expressions cannot exhaust the stack.
  const parts: string[] = [];
  const stack: Array<Expr | string> = [expr];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    if (typeof item === 'string') {
      parts.push(item);
      continue;
    }
    switch (item.type) {
      case 'str':
        parts.push(escapeString(item.value));
        break;
      case 'int':
        parts.push(item.value.toString());
        break;
      case 'float':
        parts.push(formatFloat(item.value));
        break;
      case 'bool':
        parts.push(item.value ? 'true' : 'false');
        break;
      case 'ident':
        parts.push(item.value);
        break;
      case 'seq':
      case 'list': {
        const [open, close] = item.type === 'list' ? ['(', ')'] : ['[', ']'];
        parts.push(open);
        stack.push(close);
        for (let i = item.value.length - 1; i >= 0; i--) {
          stack.push(item.value[i]!);
          if (i > 0) stack.push(' ');
        }
        break;
      }
    }
  }
  return parts.join('');
}

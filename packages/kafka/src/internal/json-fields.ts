/**
 * `--encrypted-field` mode (KAFKA.md §2.8): top-level fields of a JSON object record are
 * encrypted one by one, each as the compact JSON of its value, and replaced by the lowercase hex of
 * the stored bytes. Ockam re-serializes the whole record with serde_json (no `preserve_order`), so
 * object keys come out sorted (BTreeMap: by UTF-8 bytes) at every depth, without whitespace. This
 * module reproduces that output byte for byte for ordinary JSON:
 *
 * - strings escape `"`, `\`, and U+0000–U+001F (`\b \f \n \r \t`, else `\u00xx`), nothing else;
 * - integers that fit u64 or i64 print as themselves; `-0` is serde's float -0.0 (`-0.0`);
 * - other numbers are f64 printed the way Rust's `ryu` does (`1.0`, `1e21`, `1.5e-7`), from the
 *   shortest round-trip digits that JavaScript also computes.
 *
 * Caveats: serde_json's default float parser may round a very long decimal literal one unit in
 * the last place differently from JavaScript's exact parser; literals beyond f64 range (`1e400`)
 * are an error in serde_json and here. Duplicate keys keep the last value, as BTreeMap does.
 */
import { KafkaInterceptError } from '../errors.js';

type Json = null | boolean | string | JsonNumber | Json[] | JsonObject;
interface JsonNumber {
  readonly num: string;
}
type JsonObject = Map<string, Json>;

function fail(reason: string): never {
  throw new KafkaInterceptError('invalid', `Cannot handle the JSON record: ${reason}`);
}

const MAX_DEPTH = 128; // serde_json's recursion limit

/** Parses JSON (RFC 8259), keeping number literals as text. */
export function parseJson(text: string): Json {
  let i = 0;
  const ws = (): void => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      i++;
    }
  };
  const value = (depth: number): Json => {
    if (depth > MAX_DEPTH) fail('nested too deeply');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: JsonObject = new Map();
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail(`expected a key at ${i}`);
        const key = string();
        ws();
        if (text[i++] !== ':') fail(`expected ':' at ${i - 1}`);
        obj.set(key, value(depth + 1));
        ws();
        const d = text[i++];
        if (d === '}') return obj;
        if (d !== ',') fail(`expected ',' or '}' at ${i - 1}`);
      }
    }
    if (c === '[') {
      i++;
      const arr: Json[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value(depth + 1));
        ws();
        const d = text[i++];
        if (d === ']') return arr;
        if (d !== ',') fail(`expected ',' or ']' at ${i - 1}`);
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 1100));
    if (!m || m[0].length === 0) fail(`unexpected character at ${i}`);
    i += m[0].length;
    return { num: m[0] };
  };
  const string = (): string => {
    const start = i;
    i++;
    let out = '';
    for (;;) {
      if (i >= text.length) fail(`unterminated string at ${start}`);
      const ch = text.charCodeAt(i);
      if (ch === 0x22) {
        i++;
        return out;
      }
      if (ch < 0x20) fail(`control character in string at ${i}`);
      if (ch !== 0x5c) {
        out += text[i++];
        continue;
      }
      const e = text[i + 1];
      i += 2;
      const simple: Record<string, string> = {
        '"': '"',
        '\\': '\\',
        '/': '/',
        b: '\b',
        f: '\f',
        n: '\n',
        r: '\r',
        t: '\t',
      };
      if (e !== undefined && e in simple) {
        out += simple[e];
        continue;
      }
      if (e !== 'u' || !/^[0-9a-fA-F]{4}$/.test(text.slice(i, i + 4))) fail(`bad escape at ${i - 2}`);
      const unit = Number.parseInt(text.slice(i, i + 4), 16);
      i += 4;
      if (unit >= 0xd800 && unit <= 0xdbff) {
        // serde_json requires a low surrogate escape right after a high one.
        if (
          text.slice(i, i + 2) !== '\\u' ||
          !/^[dD][c-fC-F][0-9a-fA-F]{2}$/.test(text.slice(i + 2, i + 6))
        ) {
          fail('lone leading surrogate in hex escape');
        }
        out += String.fromCharCode(unit, Number.parseInt(text.slice(i + 2, i + 6), 16));
        i += 6;
      } else if (unit >= 0xdc00 && unit <= 0xdfff) {
        fail('lone trailing surrogate in hex escape');
      } else {
        out += String.fromCharCode(unit);
      }
    }
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail(`trailing characters at ${i}`);
  return v;
}

const U64_MAX = 18446744073709551615n;
const I64_MIN = -9223372036854775808n;

/** A number literal as serde_json prints it after parsing it into a `Number`. */
export function serdeNumber(literal: string): string {
  if (/^-?(0|[1-9][0-9]*)$/.test(literal)) {
    const n = BigInt(literal);
    if (literal.startsWith('-')) {
      if (n === 0n) return '-0.0'; // serde_json turns `-0` into the float -0.0
      if (n >= I64_MIN) return n.toString();
    } else if (n <= U64_MAX) {
      return n.toString();
    }
  }
  const x = Number(literal);
  if (!Number.isFinite(x)) fail(`number ${literal.slice(0, 40)} out of range`);
  return ryu(x);
}

/** f64 formatting of Rust's `ryu::Buffer::format_finite` (pretty.rs), which serde_json uses. */
export function ryu(x: number): string {
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  // toExponential() without digits gives the shortest round-trip digits, like ryu's.
  const [mant, exp] = Math.abs(x).toExponential().split('e') as [string, string];
  const digits = mant.replace('.', '');
  const length = digits.length;
  const k = Number(exp) - (length - 1); // value = digits × 10^k
  const kk = length + k;
  if (k >= 0 && kk <= 16) return `${sign}${digits}${'0'.repeat(k)}.0`;
  if (kk > 0 && kk <= 16) return `${sign}${digits.slice(0, kk)}.${digits.slice(kk)}`;
  if (kk > -5 && kk <= 0) return `${sign}0.${'0'.repeat(-kk)}${digits}`;
  const e = kk - 1;
  if (length === 1) return `${sign}${digits}e${e}`;
  return `${sign}${digits[0]}.${digits.slice(1)}e${e}`;
}

const utf8 = new TextEncoder();

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(utf8.encode(a), utf8.encode(b));
}

function serdeString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c < 0x20) {
      const short: Record<number, string> = { 8: '\\b', 9: '\\t', 10: '\\n', 12: '\\f', 13: '\\r' };
      out += short[c] ?? `\\u${c.toString(16).padStart(4, '0')}`;
    } else out += s[i];
  }
  return `${out}"`;
}

/** Compact JSON with sorted keys and serde_json's number and string forms. */
export function serdeJson(v: Json): string {
  if (v === null) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (typeof v === 'string') return serdeString(v);
  if (Array.isArray(v)) return `[${v.map(serdeJson).join(',')}]`;
  if (v instanceof Map) {
    const keys = [...v.keys()].sort(compareUtf8);
    return `{${keys.map((k) => `${serdeString(k)}:${serdeJson(v.get(k) as Json)}`).join(',')}}`;
  }
  return serdeNumber(v.num);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function parseBytes(bytes: Uint8Array): Json {
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    return fail('not UTF-8');
  }
  return parseJson(text);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/**
 * Replaces each configured top-level field of a JSON object record by `change(field)`, then
 * re-serializes the record as serde_json does.
 */
async function mapFields(
  value: Uint8Array,
  fields: readonly string[],
  change: (name: string, field: Json) => Promise<Json>,
): Promise<Uint8Array> {
  const doc = parseBytes(value);
  if (!(doc instanceof Map)) fail('Only JSON objects are supported');
  for (const name of fields) {
    const field = doc.get(name);
    if (field !== undefined) doc.set(name, await change(name, field));
  }
  return utf8.encode(serdeJson(doc));
}

/** Encrypts the configured top-level fields of a JSON object record (the producer side). */
export function encryptFields(
  value: Uint8Array,
  fields: readonly string[],
  encrypt: (plaintext: Uint8Array) => Promise<Uint8Array>,
): Promise<Uint8Array> {
  return mapFields(value, fields, async (_name, field) => hex(await encrypt(utf8.encode(serdeJson(field)))));
}

/** Decrypts the configured top-level fields of a JSON object record (the consumer side). */
export function decryptFields(
  value: Uint8Array,
  fields: readonly string[],
  decrypt: (stored: Uint8Array) => Promise<Uint8Array>,
): Promise<Uint8Array> {
  return mapFields(value, fields, async (name, field) => {
    if (typeof field !== 'string' || !/^(?:[0-9a-fA-F]{2})*$/.test(field))
      fail(`field ${name} is not a hex string`);
    return parseBytes(await decrypt(Buffer.from(field, 'hex')));
  });
}

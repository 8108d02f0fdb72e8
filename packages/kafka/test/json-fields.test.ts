import { describe, expect, it } from 'vitest';
import {
  decryptFields,
  encryptFields,
  parseJson,
  serdeJson,
  serdeNumber,
} from '../src/internal/json-fields.js';

const utf8 = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);
/** A stand-in cipher for these tests only: the bytes reversed (the hooks do the real encryption). */
const reverse = async (b: Uint8Array) => Uint8Array.from(b).reverse();

describe('--encrypted-field mode (KAFKA.md §2.8)', () => {
  it('encrypts the compact JSON of each configured top-level field into lowercase hex, keys sorted', async () => {
    // The bats scenario's first record (KAFKA.md §4.2), keys given out of order.
    const record = utf8(
      '{"field_three": "value3", "encrypted_field_two":"value2","encrypted_field_one":"value1"}',
    );
    const out = await encryptFields(record, ['encrypted_field_one', 'encrypted_field_two'], reverse);
    const hex = (s: string) => Buffer.from(utf8(s)).reverse().toString('hex');
    expect(str(out)).toBe(
      `{"encrypted_field_one":"${hex('"value1"')}","encrypted_field_two":"${hex('"value2"')}","field_three":"value3"}`,
    );
    const back = await decryptFields(out, ['encrypted_field_one', 'encrypted_field_two'], reverse);
    expect(str(back)).toBe(
      '{"encrypted_field_one":"value1","encrypted_field_two":"value2","field_three":"value3"}',
    );
  });

  it('encrypts object and array values as their compact, key-sorted JSON', async () => {
    const record = utf8(
      '{"encrypted_field_one":{"key":"value","a":[1, 2.50]},"encrypted_field_two":["hello","world"]}',
    );
    const seen: string[] = [];
    const spy = async (b: Uint8Array) => {
      seen.push(str(b));
      return b;
    };
    await encryptFields(record, ['encrypted_field_one', 'encrypted_field_two'], spy);
    expect(seen).toEqual(['{"a":[1,2.5],"key":"value"}', '["hello","world"]']);
  });

  it('refuses a record that is not a JSON object, and a field that is not hex on decryption', async () => {
    await expect(encryptFields(utf8('[1,2]'), ['a'], reverse)).rejects.toThrow(
      /Only JSON objects are supported/,
    );
    await expect(encryptFields(utf8('not json'), ['a'], reverse)).rejects.toThrow(/JSON/);
    await expect(decryptFields(utf8('{"a":"zz"}'), ['a'], reverse)).rejects.toThrow(/not a hex string/);
    await expect(decryptFields(utf8('{"a":5}'), ['a'], reverse)).rejects.toThrow(/not a hex string/);
  });

  it('prints numbers as serde_json does', () => {
    const cases: [string, string][] = [
      ['1', '1'],
      ['-12', '-12'],
      ['1.0', '1.0'],
      ['2.50', '2.5'],
      ['1e2', '100.0'],
      ['-0', '-0.0'],
      ['0.0', '0.0'],
      ['1.5e-7', '1.5e-7'],
      ['0.00001', '0.00001'],
      ['0.000001', '1e-6'],
      ['1e15', '1000000000000000.0'],
      ['1e16', '1e16'],
      ['1e21', '1e21'],
      ['123456789012345678901234567890', '1.2345678901234568e29'],
      ['18446744073709551615', '18446744073709551615'],
      ['18446744073709551616', '1.8446744073709552e19'],
      ['-9223372036854775808', '-9223372036854775808'],
      ['-9223372036854775809', '-9.223372036854776e18'],
      ['3.141592653589793', '3.141592653589793'],
      ['0.1', '0.1'],
    ];
    for (const [input, expected] of cases) expect(serdeNumber(input), input).toBe(expected);
    expect(() => serdeNumber('1e400')).toThrow(/out of range/);
  });

  it('escapes strings as serde_json does and sorts keys by UTF-8 bytes at every depth', () => {
    const doc = parseJson('{"b":{"z":1,"a":"\\u0001\\n\\"/é😀"},"\uffff":0,"😀":1,"A":null}');
    // UTF-16 order would put U+FFFF after the surrogate pair; UTF-8 (BTreeMap) puts it before.
    expect(serdeJson(doc)).toBe('{"A":null,"b":{"a":"\\u0001\\n\\"/é😀","z":1},"\uffff":0,"😀":1}');
  });

  it('keeps the last of duplicate keys and rejects lone surrogate escapes, as serde_json', () => {
    expect(serdeJson(parseJson('{"a":1,"a":2}'))).toBe('{"a":2}');
    expect(() => parseJson('"\\ud800"')).toThrow(/surrogate/);
  });
});

import { DecodeError, encodeBareBytes, fromHex, OckamError, toHex } from '@ockam/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeAddMember,
  decodeApiErrorBody,
  decodeApiRequest,
  decodeApiResponse,
  decodeCreateToken,
  decodeMemberEntry,
  decodeMemberIds,
  decodeMemberList,
  decodeOneTimeCode,
  encodeAddMember,
  encodeApiError,
  encodeApiErrorBody,
  encodeApiRequest,
  encodeApiResponse,
  encodeCreateToken,
  encodeMemberEntry,
  encodeMemberIds,
  encodeMemberList,
  encodeOneTimeCode,
} from '../src/codec.js';
import {
  ApiError,
  CredentialError,
  decodeEnrollmentTicket,
  MAX_API_MESSAGE_SIZE,
  oneTimeCodeFromText,
  oneTimeCodeToText,
  parseTrustedIdentities,
} from '../src/index.js';

const ID_A = `I${'a'.repeat(64)}`;
const ID_B = `I${'b'.repeat(64)}`;

describe('API framing (PROTOCOL.md §10.3)', () => {
  it('encodes GET /node with id 0x01020304 as the documented bytes', () => {
    const bytes = encodeApiRequest('GET', '/node', undefined, 0x01020304);
    expect(toHex(bytes)).toBe('12a4011a0102030402652f6e6f6465030004f4');
    expect(decodeApiRequest(bytes)).toEqual({
      header: { id: 0x01020304, path: '/node', method: 'GET', hasBody: false },
      body: undefined,
    });
  });

  it('round-trips requests and responses with bodies', () => {
    const body = encodeOneTimeCode(new Uint8Array(32).fill(7));
    const req = decodeApiRequest(encodeApiRequest('POST', '/', body, 5));
    expect(req.header).toEqual({ id: 5, path: '/', method: 'POST', hasBody: true });
    expect(req.body).toEqual(body);
    const res = decodeApiResponse(encodeApiResponse(5, 200, body, 9));
    expect(res.header).toEqual({ id: 9, re: 5, status: 200, hasBody: true });
    expect(res.body).toEqual(body);
    expect(decodeApiResponse(encodeApiResponse(5, 404)).body).toBeUndefined();
  });

  it('encodes error bodies as {1: path, 2: method, 3: message}', () => {
    const res = decodeApiResponse(
      encodeApiError({ id: 3, path: '/x', method: 'DELETE', hasBody: false }, 403, 'no'),
    );
    expect(res.header).toMatchObject({ re: 3, status: 403, hasBody: true });
    expect(decodeApiErrorBody(res.body!)).toEqual({ path: '/x', method: 'DELETE', message: 'no' });
    expect(decodeApiErrorBody(encodeApiErrorBody({ message: 'outer', cause: { message: 'inner' } }))).toEqual(
      {
        message: 'outer',
        cause: { message: 'inner' },
      },
    );
    // Some peers send a bare text.
    expect(decodeApiErrorBody(fromHex('626869'))).toEqual({ message: 'hi' });
  });

  it('accepts unknown methods, statuses and keys as minicbor does, and rejects the rest strictly', () => {
    // {1: 1, 2: "/", 3: 9, 4: false, 5: "extra"}
    expect(
      decodeApiRequest(encodeBareBytes(fromHex('a5010102612f030904f405656578747261'))).header.method,
    ).toBeUndefined();
    expect(
      decodeApiResponse(encodeBareBytes(fromHex('a4010102010319012c04f4'))).header.status,
    ).toBeUndefined();
    const bad = [
      '', // empty
      'a3010102612f04f4', // BARE length 0xa3 larger than the input
      toHex(encodeBareBytes(fromHex('a3010102612f0400'))), // 4 is not a bool
      toHex(encodeBareBytes(fromHex('a2010102612f'))), // has_body missing
      toHex(encodeBareBytes(fromHex('a4010101010102612f04f4'))), // duplicate key 1
      toHex(encodeBareBytes(fromHex('a4010102612f030104f500'))), // has_body true and one body item: accepted
      toHex(encodeBareBytes(fromHex('a4010102612f030104f40000'))), // has_body false but bytes follow
      toHex(encodeBareBytes(fromHex('a4010102612f030104f5'))), // has_body true but no body
      toHex(encodeBareBytes(fromHex('a4011b000000010000000002612f030104f4'))), // id beyond u32
    ];
    const results = bad.map((hex) => {
      try {
        decodeApiRequest(fromHex(hex));
        return 'ok';
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError);
        return 'rejected';
      }
    });
    expect(results).toEqual([
      'rejected',
      'rejected',
      'rejected',
      'rejected',
      'rejected',
      'ok',
      'rejected',
      'rejected',
      'rejected',
    ]);
    expect(() => decodeApiRequest(new Uint8Array(MAX_API_MESSAGE_SIZE + 100))).toThrow(/exceeds/);
  });

  it('maps statuses to error kinds', () => {
    expect(new ApiError(403, 'x').kind).toBe('permission');
    expect(new ApiError(404, 'x').kind).toBe('not-found');
    expect(new ApiError(500, 'x').kind).toBe('internal');
    expect(new ApiError(403, 'x').origin).toBe('api');
    expect(ApiError.isStatus(new ApiError(403, 'x'), 403)).toBe(true);
  });
});

describe('authority message bodies', () => {
  it('round-trip AddMember, CreateToken, members and ids', () => {
    const attrs = new Map([
      ['b', '2'],
      ['a', '1'],
    ]);
    expect(decodeAddMember(encodeAddMember({ member: ID_A, attributes: attrs }))).toEqual({
      member: ID_A,
      attributes: attrs,
    });
    // Attributes are written in byte order, like a Rust BTreeMap.
    expect(
      toHex(encodeAddMember({ member: ID_A, attributes: attrs })).endsWith('02a2616161316162613' + '2'),
    ).toBe(true);
    expect(decodeCreateToken(encodeCreateToken({ attributes: attrs }))).toEqual({ attributes: attrs });
    expect(decodeCreateToken(encodeCreateToken({ attributes: attrs, ttlSeconds: 60, ttlCount: 3 }))).toEqual({
      attributes: attrs,
      ttlSeconds: 60,
      ttlCount: 3,
    });
    const entry = { attributes: attrs, addedAt: 10, expiresAt: 20, attestedBy: ID_B };
    expect(decodeMemberEntry(encodeMemberEntry(entry))).toEqual(entry);
    // AttributesEntry writes its Vec<u8> keys and values as arrays of integers (PROTOCOL.md §0).
    expect(toHex(encodeMemberEntry({ attributes: new Map([['a', 'b']]), addedAt: 1 }))).toBe(
      'a201a18118618118620201',
    );
    const list = new Map([
      [ID_A, entry],
      [ID_B, { attributes: new Map(), addedAt: 1 }],
    ]);
    expect(decodeMemberList(encodeMemberList(list))).toEqual(list);
    expect(decodeMemberIds(encodeMemberIds([ID_A, ID_B]))).toEqual([ID_A, ID_B]);
  });

  it('round-trip one-time codes in CBOR and text', () => {
    const code = new Uint8Array(32).map((_, i) => i);
    expect(toHex(encodeOneTimeCode(code))).toBe(`a1015820${toHex(code)}`);
    expect(decodeOneTimeCode(encodeOneTimeCode(code))).toEqual(code);
    expect(oneTimeCodeFromText(oneTimeCodeToText(code))).toEqual(code);
    expect(() => decodeOneTimeCode(fromHex('a10150' + '00'.repeat(16)))).toThrow(DecodeError);
    expect(() => decodeOneTimeCode(fromHex('a0'))).toThrow(/missing field 1/);
    expect(() => oneTimeCodeFromText('abc')).toThrow(DecodeError);
  });

  it('parse --trusted-identities JSON', () => {
    const m = parseTrustedIdentities(JSON.stringify({ [ID_A]: { 'ockam-role': 'enroller' }, [ID_B]: {} }));
    expect(m.get(ID_A)?.get('ockam-role')).toBe('enroller');
    expect(m.get(ID_B)?.size).toBe(0);
    expect(() => parseTrustedIdentities('{')).toThrow(/not JSON/);
    expect(() => parseTrustedIdentities('[]')).toThrow(/object/);
    expect(() => parseTrustedIdentities('{"x": {}}')).toThrow(/not an identifier/);
    expect(() => parseTrustedIdentities(JSON.stringify({ [ID_A]: { k: 1 } }))).toThrow(/must be a string/);
  });
});

describe('every decoder fed random bytes throws only typed errors', () => {
  const decoders: Array<[string, (b: Uint8Array) => unknown]> = [
    ['API request', decodeApiRequest],
    ['API response', decodeApiResponse],
    ['API request (BARE-wrapped CBOR)', (b) => decodeApiRequest(encodeBareBytes(b))],
    ['API response (BARE-wrapped CBOR)', (b) => decodeApiResponse(encodeBareBytes(b))],
    ['API error', decodeApiErrorBody],
    ['OneTimeCode', decodeOneTimeCode],
    ['AddMember', decodeAddMember],
    ['CreateToken', decodeCreateToken],
    ['AttributesEntry', decodeMemberEntry],
    ['member list', decodeMemberList],
    ['member ids', decodeMemberIds],
  ];
  for (const [name, decode] of decoders) {
    it(name, () => {
      // Mostly CBOR-looking bytes: maps with small keys, so that decoders get past the first byte.
      const cborish = fc.oneof(
        fc.uint8Array({ maxLength: 120 }),
        fc
          .tuple(fc.constantFrom(0xa1, 0xa2, 0xa3, 0xa4, 0x81, 0x82, 0x12), fc.uint8Array({ maxLength: 100 }))
          .map(([h, rest]) => new Uint8Array([h, ...rest])),
      );
      fc.assert(
        fc.property(cborish, (bytes) => {
          try {
            decode(bytes);
          } catch (e) {
            if (!OckamError.is(e)) throw e;
          }
        }),
        { numRuns: 3000 },
      );
    });
  }

  it('enrollment tickets', () => {
    const hexish = fc.uint8Array({ maxLength: 200 }).map(toHex);
    const texty = fc.array(
      fc.constantFrom(
        ',',
        '/',
        'dnsaddr',
        'ip4',
        'tcp',
        '127.0.0.1',
        '4000',
        'service',
        'api',
        'a'.repeat(64),
        '{',
        '}',
        '"',
        'x',
      ),
      {
        maxLength: 20,
      },
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          hexish,
          texty.map((a) => a.join('')),
          texty.map((a) => toHex(new TextEncoder().encode(a.join('')))),
        ),
        (text) => {
          try {
            decodeEnrollmentTicket(text);
          } catch (e) {
            if (!CredentialError.isReason(e, 'invalid-ticket')) throw e;
          }
        },
      ),
      { numRuns: 5000 },
    );
  });
});

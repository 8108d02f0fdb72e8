import { fromHex, toHex } from '@ockam/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeLegacyExpr, encodeLegacyExpr } from '../src/codec.js';
import {
  AbacError,
  float,
  int,
  migrateLegacyPolicyText,
  parseExpr,
  printExpr,
  sameExpr,
} from '../src/index.js';

// ockam_node/src/storage/database/migrations/node_migrations/rust/sqlite/migration_20240111100002_delete_trust_context.rs
const FIXTURES = {
  true: '820481f5',
  trustContext:
    '82078183820581613D82058178187375626A6563742E74727573745F636F6E746578745F6964820181782461393934323632632D346435392D343735362D613135382D313964623639393466656564',
  resourceTrustContext:
    '82078183820581613D82058178197265736F757263652E74727573745F636F6E746578745F696482058178187375626A6563742E74727573745F636F6E746578745F6964',
  andEnroller:
    '8207818382058163616e6482078183820581613d82058178197265736f757263652e74727573745f636f6e746578745f696482058178187375626a6563742e74727573745f636f6e746578745f696482078183820581613d820581727375626a6563742e6f636b616d2d726f6c6582018168656e726f6c6c6572',
};

describe('legacy CBOR Expr', () => {
  it("decodes the fixtures of Ockam's trust-context migration", () => {
    expect(printExpr(decodeLegacyExpr(fromHex(FIXTURES.true)))).toBe('true');
    expect(printExpr(decodeLegacyExpr(fromHex(FIXTURES.trustContext)))).toBe(
      '(= subject.trust_context_id "a994262c-4d59-4756-a158-19db6994feed")',
    );
    expect(printExpr(decodeLegacyExpr(fromHex(FIXTURES.resourceTrustContext)))).toBe(
      '(= resource.trust_context_id subject.trust_context_id)',
    );
    expect(printExpr(decodeLegacyExpr(fromHex(FIXTURES.andEnroller)))).toBe(
      '(and (= resource.trust_context_id subject.trust_context_id) (= subject.ockam-role "enroller"))',
    );
  });

  it("migrates them to the texts Ockam's migration test expects", () => {
    const migrate = (hex: string) => migrateLegacyPolicyText(printExpr(decodeLegacyExpr(fromHex(hex))));
    expect(migrate(FIXTURES.true)).toBe('true');
    expect(migrate(FIXTURES.trustContext)).toBe('subject.has_credential');
    expect(migrate(FIXTURES.resourceTrustContext)).toBe('subject.has_credential');
    expect(migrate(FIXTURES.andEnroller)).toBe(
      '(and subject.has_credential (= subject.ockam-role "enroller"))',
    );
  });

  it('re-encodes the fixtures byte for byte', () => {
    for (const hex of Object.values(FIXTURES)) {
      expect(toHex(encodeLegacyExpr(decodeLegacyExpr(fromHex(hex))))).toBe(hex.toLowerCase());
    }
  });

  it('round-trips 64-bit integers and f64 floats', () => {
    for (const e of [int(-(2n ** 63n)), int(2n ** 63n - 1n), int(-1), float(1.5), float(Number.NaN)]) {
      expect(sameExpr(decodeLegacyExpr(encodeLegacyExpr(e)), e)).toBe(true);
    }
    const e = parseExpr('(and (member? 1 [1 2]) (= "x" subject.y) (< 1.5 2.5) true)');
    expect(sameExpr(decodeLegacyExpr(encodeLegacyExpr(e), { requireOperator: true }), e)).toBe(true);
  });

  it('rejects malformed bytes with a legacy-decode error', () => {
    for (const hex of [
      '',
      '8204',
      '820481f5ff',
      '820981f5',
      '820480',
      '820181f5',
      '82058161ff',
      '8205816131',
      '8202811b8000000000000000',
    ]) {
      let error: unknown;
      try {
        decodeLegacyExpr(fromHex(hex));
      } catch (e) {
        error = e;
      }
      expect(AbacError.isReason(error, 'legacy-decode'), hex).toBe(true);
    }
    expect(() => decodeLegacyExpr(fromHex(FIXTURES.true), { requireOperator: true })).toThrow(/operator/);
  });

  it('never throws anything but an AbacError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeLegacyExpr(bytes);
        } catch (e) {
          if (!AbacError.isReason(e, 'legacy-decode')) throw e;
        }
      }),
      { numRuns: 3000 },
    );
    const deep = new Uint8Array(4 * 2000 + 4);
    for (let i = 0; i < 2000; i++) deep.set([0x82, 0x07, 0x81, 0x81], i * 4);
    deep.set([0x82, 0x04, 0x81, 0xf5], 8000);
    expect(() => decodeLegacyExpr(deep)).toThrow(/deeper/);
  });
});

// A file of its own: SoftHSM2 reads its configuration once per process (see mechanisms.test.ts).
import { OckamError } from '@ockam/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSigningKeyBackend, PIN_ENV } from '../src/index.js';
import { createSoftHsm, findSoftHsm, type SoftHsm } from '../src/softhsm.js';

const found = findSoftHsm();
const skip = 'missing' in found && !process.env.OCKAM_PKCS11_REQUIRED;

describe.skipIf(skip)('a token with no EC mechanism', () => {
  let hsm: SoftHsm;
  beforeAll(() => {
    hsm = createSoftHsm({ mechanisms: 'CKM_RSA_PKCS_KEY_PAIR_GEN,CKM_RSA_PKCS' });
    hsm.addToken('rsa-only', '1111');
    process.env[PIN_ENV] = '1111';
  });
  afterAll(() => hsm?.cleanup());

  it('is refused when the vault opens, with the mechanisms it would need', () => {
    let error: unknown;
    try {
      openSigningKeyBackend({ kind: 'pkcs11', library: hsm.library, tokenLabel: 'rsa-only' }, 'r');
    } catch (e) {
      error = e;
    }
    expect(OckamError.isKind(error, 'unsupported', 'vault')).toBe(true);
    expect((error as Error).message).toMatch(
      /can generate neither Ed25519 keys \(CKM_EC_EDWARDS_KEY_PAIR_GEN \(0x1055\) and CKM_EDDSA \(0x1057\)\) nor P-256 keys \(CKM_EC_KEY_PAIR_GEN \(0x1040\) and CKM_ECDSA \(0x1041\) or CKM_ECDSA_SHA256 \(0x1044\)\)/,
    );
  });
});

// A file of its own: SoftHSM2 reads its configuration once per process, at C_Initialize, and
// vitest runs each file in its own process.
import { OckamError } from '@ockam/core';
import { createVault } from '@ockam/vault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSigningKeyBackend, PIN_ENV } from '../src/index.js';
import { createSoftHsm, findSoftHsm, type SoftHsm } from '../src/softhsm.js';

const found = findSoftHsm();
const skip = 'missing' in found && !process.env.OCKAM_PKCS11_REQUIRED;
if (skip) console.log(`Skipping the PKCS#11 mechanism tests: ${(found as { missing: string }).missing}`);

describe.skipIf(skip)('a token without the Ed25519 mechanisms', () => {
  let hsm: SoftHsm;
  beforeAll(() => {
    hsm = createSoftHsm({ mechanisms: '-CKM_EC_EDWARDS_KEY_PAIR_GEN,CKM_EDDSA' });
    hsm.addToken('p256-only', '1111');
    process.env[PIN_ENV] = '1111';
  });
  afterAll(() => hsm?.cleanup());

  it('offers P-256 only, and refuses Ed25519 naming the missing mechanisms', async () => {
    const keys = openSigningKeyBackend(
      { kind: 'pkcs11', library: hsm.library, tokenLabel: 'p256-only' },
      'p',
    );
    try {
      expect(keys.types).toEqual(['p256']);
      const error = await keys.generateSigningKey('ed25519').catch((e: unknown) => e);
      expect(OckamError.isKind(error, 'unsupported', 'vault')).toBe(true);
      expect((error as Error).message).toMatch(
        /cannot make ed25519 keys: it needs CKM_EC_EDWARDS_KEY_PAIR_GEN \(0x1055\) and CKM_EDDSA \(0x1057\)/,
      );
      const key = await keys.generateSigningKey('p256');
      const message = new TextEncoder().encode('p256 only');
      const bytes = await keys.publicKey(key);
      expect(
        await createVault().verify({ type: 'p256', bytes }, message, await keys.sign(key, message)),
      ).toBe(true);
    } finally {
      await keys.close();
    }
  });
});

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { backends } from './backends.js';

/** The secure channel's fast path: `aeadEncryptInto`, an internal method beside `aeadEncrypt`. */
type EncryptInto = (
  key: unknown,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
  out: Uint8Array,
  offset: number,
) => void;

for (const backend of backends) {
  describe(`aeadEncryptInto (${backend.name} vault)`, () => {
    for (const algorithm of ['aes-256-gcm', 'chacha20-poly1305'] as const) {
      it(`writes exactly what aeadEncrypt returns at the offset given, for ${algorithm}`, () => {
        const vault = backend.vault();
        const into = (vault as unknown as { aeadEncryptInto: EncryptInto }).aeadEncryptInto.bind(vault);
        const key = vault.aeadKey(vault.importSecret(new Uint8Array(randomBytes(32))), algorithm);
        const nonce = new Uint8Array(randomBytes(12));
        for (const size of [0, 1, 64, 1024, 65536]) {
          const plaintext = new Uint8Array(randomBytes(size));
          const aad = new Uint8Array(randomBytes(size % 7));
          const out = new Uint8Array(8 + size + 16 + 3).fill(0xaa);
          into(key, nonce, plaintext, aad, out, 8);
          expect(out.subarray(8, 8 + size + 16)).toEqual(vault.aeadEncrypt(key, nonce, plaintext, aad));
          expect([...out.subarray(0, 8), ...out.subarray(8 + size + 16)].every((b) => b === 0xaa)).toBe(true);
          expect(vault.aeadDecrypt(key, nonce, out.subarray(8, 8 + size + 16), aad)).toEqual(plaintext);
        }
      });
    }

    it('refuses an output without room, an unknown key and a wrong nonce length', () => {
      const vault = backend.vault();
      const into = (vault as unknown as { aeadEncryptInto: EncryptInto }).aeadEncryptInto.bind(vault);
      const key = vault.aeadKey(vault.importSecret(new Uint8Array(32)));
      const nonce = new Uint8Array(12);
      expect(() => into(key, nonce, new Uint8Array(10), new Uint8Array(0), new Uint8Array(30), 5)).toThrow(
        RangeError,
      );
      expect(() => into(key, nonce, new Uint8Array(1), new Uint8Array(0), new Uint8Array(30), -1)).toThrow(
        RangeError,
      );
      expect(() =>
        into(key, new Uint8Array(8), new Uint8Array(1), new Uint8Array(0), new Uint8Array(30), 0),
      ).toThrow(/nonce must be 12 bytes/);
      vault.deleteSecret(key);
      expect(() => into(key, nonce, new Uint8Array(1), new Uint8Array(0), new Uint8Array(30), 0)).toThrow(
        /no AEAD key/,
      );
    });
  });
}

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { backends } from './backends.js';

/** The secure channel's fast path: `aeadEncryptParts`, an internal method beside `aeadEncrypt`. */
type EncryptParts = (
  key: unknown,
  nonce: Uint8Array,
  parts: readonly Uint8Array[],
  aad: Uint8Array,
) => Uint8Array[];

const join = (pieces: readonly Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of pieces) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

for (const backend of backends) {
  describe(`aeadEncryptParts (${backend.name} vault)`, () => {
    const partsOf = (vault: object): EncryptParts =>
      (vault as { aeadEncryptParts: EncryptParts }).aeadEncryptParts.bind(vault);

    for (const algorithm of ['aes-256-gcm', 'chacha20-poly1305'] as const) {
      it(`returns pieces that join to exactly what aeadEncrypt returns, for ${algorithm}`, () => {
        const vault = backend.vault();
        const encryptParts = partsOf(vault);
        const key = vault.aeadKey(vault.importSecret(new Uint8Array(randomBytes(32))), algorithm);
        const nonce = new Uint8Array(randomBytes(12));
        for (const sizes of [[0], [1], [64], [0, 0], [30, 65536, 1], [7, 0, 1024, 0, 3]]) {
          const parts = sizes.map((n) => new Uint8Array(randomBytes(n)));
          const plaintext = join(parts);
          const aad = new Uint8Array(randomBytes(plaintext.length % 7));
          const before = parts.map((p) => p.slice());
          const pieces = encryptParts(key, nonce, parts, aad);
          const sealed = join(pieces);
          expect(sealed).toEqual(vault.aeadEncrypt(key, nonce, plaintext, aad));
          expect(pieces.at(-1)!.length).toBeGreaterThanOrEqual(16);
          expect(parts).toEqual(before); // the plaintext parts are read, never written
          expect(vault.aeadDecrypt(key, nonce, sealed, aad)).toEqual(plaintext);
        }
      });
    }

    it('refuses an unknown key and a wrong nonce length', () => {
      const vault = backend.vault();
      const encryptParts = partsOf(vault);
      const key = vault.aeadKey(vault.importSecret(new Uint8Array(32)));
      const none = new Uint8Array(0);
      expect(() => encryptParts(key, new Uint8Array(8), [new Uint8Array(1)], none)).toThrow(
        /nonce must be 12 bytes/,
      );
      vault.deleteSecret(key);
      expect(() => encryptParts(key, new Uint8Array(12), [new Uint8Array(1)], none)).toThrow(/no AEAD key/);
    });
  });
}

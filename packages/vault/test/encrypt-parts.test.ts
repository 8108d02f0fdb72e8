import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { backends } from './backends.js';

/**
 * The secure channel's fast paths: `aeadEncryptParts` and `aeadDecryptParts`, internal methods
 * beside `aeadEncrypt` and `aeadDecrypt`.
 */
type EncryptParts = (
  key: unknown,
  nonce: Uint8Array,
  parts: readonly Uint8Array[],
  aad: Uint8Array,
  out?: Uint8Array,
) => Uint8Array[];
type DecryptParts = (
  key: unknown,
  nonce: Uint8Array,
  parts: readonly Uint8Array[],
  aad: Uint8Array,
) => Uint8Array;

/** `bytes` cut at random places into up to `max` pieces (some empty). */
const cut = (bytes: Uint8Array, max: number): Uint8Array[] => {
  const cuts = Array.from({ length: Math.floor(Math.random() * max) }, () =>
    Math.floor(Math.random() * (bytes.length + 1)),
  ).sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let at = 0;
  for (const c of [...cuts, bytes.length]) {
    out.push(bytes.subarray(at, c));
    at = c;
  }
  return out;
};

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
        const many = Array.from({ length: 80 }, (_, i) => i % 7); // more parts than the addon takes at once
        for (const sizes of [[0], [1], [64], [0, 0], [30, 65536, 1], [7, 0, 1024, 0, 3], many]) {
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

    it('writes ciphertext and tag into a given buffer of exactly their length, and refuses any other', () => {
      const vault = backend.vault();
      const encryptParts = partsOf(vault);
      const key = vault.aeadKey(vault.importSecret(new Uint8Array(randomBytes(32))));
      const nonce = new Uint8Array(randomBytes(12));
      const none = new Uint8Array(0);
      const parts = [new Uint8Array(randomBytes(5)), new Uint8Array(randomBytes(70_000))];
      const memory = new Uint8Array(70_100).fill(0xee);
      const out = memory.subarray(3, 3 + 70_021);
      const pieces = encryptParts(key, nonce, parts, none, out);
      expect(pieces).toEqual([out]);
      expect(pieces[0]!.buffer).toBe(memory.buffer);
      expect(out).toEqual(vault.aeadEncrypt(key, nonce, join(parts), none));
      expect(memory.subarray(0, 3)).toEqual(new Uint8Array(3).fill(0xee)); // nothing outside `out`
      expect(memory.subarray(3 + 70_021)).toEqual(new Uint8Array(76).fill(0xee));
      expect(() => encryptParts(key, nonce, parts, none, new Uint8Array(70_020))).toThrow(
        /exactly 70021 bytes/,
      );
      expect(() => encryptParts(key, nonce, parts, none, new Uint8Array(70_022))).toThrow(
        /exactly 70021 bytes/,
      );
      const many = Array.from({ length: 70 }, (_, i) => new Uint8Array(randomBytes(i)));
      const manyOut = new Uint8Array(many.reduce((n, p) => n + p.length, 16));
      expect(encryptParts(key, nonce, many, none, manyOut)).toEqual([manyOut]);
      expect(manyOut).toEqual(vault.aeadEncrypt(key, nonce, join(many), none));
    });

    for (const algorithm of ['aes-256-gcm', 'chacha20-poly1305'] as const) {
      it(`decrypts ciphertext cut anywhere into a new buffer, as aeadDecrypt does, for ${algorithm}`, () => {
        const vault = backend.vault();
        const decryptParts = (vault as unknown as { aeadDecryptParts: DecryptParts }).aeadDecryptParts.bind(
          vault,
        );
        const key = vault.aeadKey(vault.importSecret(new Uint8Array(randomBytes(32))), algorithm);
        for (let round = 0; round < 60; round++) {
          const nonce = new Uint8Array(randomBytes(12));
          const plaintext = new Uint8Array(randomBytes([0, 1, 15, 16, 17, 1000, 49_152][round % 7]!));
          const aad = new Uint8Array(randomBytes(round % 3));
          const sealed = vault.aeadEncrypt(key, nonce, plaintext, aad);
          const parts = cut(sealed, round < 50 ? 6 : 80); // beyond the addon's 64 parts, too
          const before = parts.map((p) => p.slice());
          expect(Buffer.compare(decryptParts(key, nonce, parts, aad), plaintext)).toBe(0);
          expect(parts.every((p, i) => Buffer.compare(p, before[i]!) === 0)).toBe(true); // never in place
          const bad = sealed.slice();
          bad[round % bad.length]! ^= 1 << (round % 8);
          expect(() => decryptParts(key, nonce, cut(bad, 6), aad)).toThrow(/authentication failed/);
        }
        expect(() => decryptParts(key, new Uint8Array(12), [new Uint8Array(15)], new Uint8Array(0))).toThrow(
          /authentication failed/,
        );
        expect(() => decryptParts(key, new Uint8Array(8), [new Uint8Array(20)], new Uint8Array(0))).toThrow(
          /nonce must be 12 bytes/,
        );
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

/**
 * Wycheproof vectors (C2SP/wycheproof, Apache-2.0; see shared/vectors/README.md) against both
 * backends. Cases the Vault interface can express go through the Vault; the rest (AES-128/192,
 * non-96-bit IVs, HMAC, HKDF of arbitrary length) go through the backend's primitives directly.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { bytesEqual, fromHex, OckamError } from '@ockam/core';
import { afterAll, describe, expect, it } from 'vitest';
import { ecdsaDerToRaw } from '../src/index.js';
import { backends } from './backends.js';

const VECTORS = path.resolve(import.meta.dirname, '../../../../shared/vectors/wycheproof');

interface Group<T> {
  tests: T[];
  [key: string]: unknown;
}
interface Case {
  tcId: number;
  comment: string;
  result: 'valid' | 'invalid' | 'acceptable';
  flags: string[];
}
type AeadCase = Case & { key: string; iv: string; aad: string; msg: string; ct: string; tag: string };
type XdhCase = Case & { public: string; private: string; shared: string };
type SigCase = Case & { msg: string; sig: string };
type HkdfCase = Case & { ikm: string; salt: string; info: string; size: number; okm: string };
type MacCase = Case & { key: string; msg: string; tag: string };

function load<T>(file: string): Array<Group<T>> {
  const json = JSON.parse(readFileSync(path.join(VECTORS, file), 'utf8')) as { testGroups: Array<Group<T>> };
  return json.testGroups;
}

const h = fromHex;
const label = (c: Case) => `tcId ${c.tcId}${c.comment ? ` (${c.comment})` : ''}`;

/**
 * AES-GCM IV lengths a backend's primitive cannot take at all (never used by Ockam, which uses
 * 96-bit nonces): OpenSSL accepts 1..128-byte IVs, @noble/ciphers at least 8 bytes. Such cases are
 * listed as skipped, with this reason, and counted in the summary printed at the end.
 */
function unsupportedIv(backend: string, algorithm: string, ivLength: number): string | undefined {
  if (algorithm !== 'aes-256-gcm' || ivLength === 0) return undefined;
  if (backend === 'node' && ivLength > 128)
    return 'node:crypto (OpenSSL) takes AES-GCM IVs of at most 128 bytes';
  if (backend === 'noble' && ivLength < 8) return '@noble/ciphers takes AES-GCM IVs of at least 8 bytes';
  return undefined;
}

const skipped: string[] = [];
afterAll(() => {
  if (skipped.length > 0)
    console.log(`Wycheproof cases skipped (${skipped.length}):\n  ${skipped.join('\n  ')}`);
});

for (const backend of backends) {
  describe(`${backend.name} backend on Wycheproof`, () => {
    for (const [file, algorithm] of [
      ['aes_gcm_test.json', 'aes-256-gcm'],
      ['chacha20_poly1305_test.json', 'chacha20-poly1305'],
    ] as const) {
      describe(file, () => {
        for (const group of load<AeadCase>(file)) {
          for (const c of group.tests) {
            const key = h(c.key);
            const iv = h(c.iv);
            const viaVault = key.length === 32 && iv.length === 12;
            const reason = unsupportedIv(backend.name, algorithm, iv.length);
            if (reason !== undefined) {
              skipped.push(`${backend.name} ${file} ${label(c)} [${c.result}]: ${reason}`);
              it.skip(`primitive ${label(c)} (iv ${iv.length * 8}) is skipped: ${reason}`, () => {});
              continue;
            }
            it(`${viaVault ? 'vault' : 'primitive'} ${c.result === 'valid' ? 'accepts' : 'rejects'} ${label(c)} (key ${key.length * 8}, iv ${iv.length * 8})`, () => {
              const sealed = new Uint8Array([...h(c.ct), ...h(c.tag)]);
              if (viaVault) {
                const vault = backend.vault();
                const handle = vault.aeadKey(vault.importSecret(key), algorithm);
                if (c.result === 'valid') {
                  expect(vault.aeadEncrypt(handle, iv, h(c.msg), h(c.aad))).toEqual(sealed);
                  expect(vault.aeadDecrypt(handle, iv, sealed, h(c.aad))).toEqual(h(c.msg));
                } else {
                  let error: unknown;
                  try {
                    vault.aeadDecrypt(handle, iv, sealed, h(c.aad));
                  } catch (e) {
                    error = e;
                  }
                  expect(OckamError.isKind(error, 'invalid', 'vault')).toBe(true);
                }
                return;
              }
              // Invalid parameters (such as an empty IV) may be refused when the key is prepared.
              let plaintext: Uint8Array | undefined;
              let encrypted: Uint8Array | undefined;
              try {
                const cipher = backend.primitives.aead(algorithm, key);
                plaintext = cipher.decrypt(iv, sealed, h(c.aad));
                if (c.result === 'valid') encrypted = cipher.encrypt(iv, h(c.msg), h(c.aad));
              } catch (e) {
                if (c.result === 'valid') throw e;
              }
              if (c.result === 'valid') {
                expect(encrypted).toEqual(sealed);
                expect(plaintext).toEqual(h(c.msg));
              } else {
                expect(plaintext).toBeUndefined();
              }
            });
          }
        }
      });
    }

    describe('x25519_test.json', () => {
      for (const group of load<XdhCase>('x25519_test.json')) {
        for (const c of group.tests) {
          const zero = /^(00)+$/.test(c.shared);
          const verdict = zero
            ? 'rejects the all-zero result of'
            : c.result === 'invalid'
              ? 'rejects'
              : 'computes';
          it(`vault ${verdict} ${label(c)} [${c.result}]`, async () => {
            const vault = backend.vault();
            const key = await vault.importX25519(h(c.private), { ephemeral: true });
            if (zero || c.result === 'invalid') {
              expect(() => vault.x25519(key, h(c.public))).toThrow(/X25519/);
              return;
            }
            // 'acceptable' cases here are non-canonical or twist points with a defined, non-zero
            // result: RFC 7748 says to compute it, so we require the exact value.
            const shared = vault.x25519(key, h(c.public));
            expect(vault.exportSecret(shared)).toEqual(h(c.shared));
          });
        }
      }
    });

    describe('ed25519_test.json', () => {
      for (const group of load<SigCase>('ed25519_test.json')) {
        const pk = h((group.publicKey as { pk: string }).pk);
        for (const c of group.tests) {
          it(`vault ${c.result === 'valid' ? 'accepts' : 'rejects'} ${label(c)}`, () => {
            const ok = backend.vault().verify({ type: 'ed25519', bytes: pk }, h(c.msg), h(c.sig));
            expect(ok).toBe(c.result === 'valid');
          });
        }
      }
    });

    for (const [file, der] of [
      ['ecdsa_secp256r1_sha256_p1363_test.json', false],
      ['ecdsa_secp256r1_sha256_test.json', true],
    ] as const) {
      describe(file, () => {
        for (const group of load<SigCase>(file)) {
          const pk = h((group.publicKey as { uncompressed: string }).uncompressed);
          for (const c of group.tests) {
            if (c.result === 'acceptable') throw new Error(`unexpected acceptable case ${c.tcId}`);
            it(`vault ${c.result === 'valid' ? 'accepts' : 'rejects'} ${label(c)}`, () => {
              let signature: Uint8Array | undefined = h(c.sig);
              if (der) {
                try {
                  signature = ecdsaDerToRaw(signature);
                } catch (e) {
                  expect(OckamError.isKind(e, 'invalid', 'vault')).toBe(true);
                  signature = undefined;
                }
              }
              const ok =
                signature !== undefined &&
                backend.vault().verify({ type: 'p256', bytes: pk }, h(c.msg), signature);
              expect(ok).toBe(c.result === 'valid');
            });
          }
        }
      });
    }

    describe('hkdf_sha256_test.json', () => {
      for (const group of load<HkdfCase>('hkdf_sha256_test.json')) {
        for (const c of group.tests) {
          it(`primitive ${c.result === 'valid' ? 'derives' : 'refuses'} ${label(c)} (${c.size} bytes)`, () => {
            const derive = () => backend.primitives.hkdfSha256(h(c.salt), h(c.ikm), h(c.info), c.size);
            if (c.result === 'valid') expect(derive()).toEqual(h(c.okm));
            else expect(derive).toThrow(RangeError);
          });
          if (c.result === 'valid' && (c.size === 64 || c.size === 96)) {
            it(`vault hkdf with ${c.size / 32} outputs matches ${label(c)}`, () => {
              const vault = backend.vault();
              const outputs = vault.hkdf(
                vault.importSecret(h(c.salt)),
                vault.importSecret(h(c.ikm)),
                h(c.info),
                (c.size / 32) as 2 | 3,
              );
              expect(new Uint8Array(outputs.flatMap((o) => [...vault.exportSecret(o)]))).toEqual(h(c.okm));
            });
          }
        }
      }
    });

    describe('hmac_sha256_test.json', () => {
      for (const group of load<MacCase>('hmac_sha256_test.json')) {
        const tagBytes = (group.tagSize as number) / 8;
        for (const c of group.tests) {
          it(`primitive ${c.result === 'valid' ? 'matches' : 'does not match'} ${label(c)} (tag ${tagBytes * 8} bits)`, () => {
            const tag = backend.primitives.hmacSha256(h(c.key), h(c.msg)).subarray(0, tagBytes);
            expect(bytesEqual(tag, h(c.tag))).toBe(c.result === 'valid');
          });
        }
      }
    });
  });
}

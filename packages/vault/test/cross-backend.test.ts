/** Differential tests: the node backend and the noble backend must agree on random inputs. */
import { bytesEqual, type KeyHandle } from '@ockam/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createVault } from '../src/index.js';
import { noblePrimitives } from '../src/internal/noble-primitives.js';
import { nodePrimitives } from '../src/internal/node-primitives.js';

const node = createVault('node');
const noble = createVault('noble');
const pairs = [
  [node, noble],
  [noble, node],
] as const;
const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const message = fc.uint8Array({ maxLength: 256 });

describe('node and noble backends', () => {
  for (const type of ['ed25519', 'p256'] as const) {
    it(`verify each other's ${type} signatures on random messages`, async () => {
      await fc.assert(
        fc.asyncProperty(bytes32, message, async (secret, msg) => {
          for (const [signer, verifier] of pairs) {
            let key: KeyHandle;
            try {
              key = await signer.importSigningKey(type, secret);
            } catch {
              return; // an invalid P-256 scalar: both must refuse it
            }
            const publicKey = await signer.publicKey(key);
            expect(await verifier.publicKey(await verifier.importSigningKey(type, secret))).toEqual(
              publicKey,
            );
            const signature = await signer.sign(key, msg);
            expect(verifier.verify({ type, bytes: publicKey }, msg, signature)).toBe(true);
            if (type === 'ed25519') expect(await verifier.sign(key, msg)).toEqual(signature);
          }
        }),
        { numRuns: 40 },
      );
    });
  }

  it('compute the same X25519 public keys and shared secrets', async () => {
    await fc.assert(
      fc.asyncProperty(bytes32, bytes32, async (a, b) => {
        const [x, y] = [
          await node.importX25519(a, { ephemeral: true }),
          await noble.importX25519(a, { ephemeral: true }),
        ];
        expect(node.x25519PublicKey(x)).toEqual(noble.x25519PublicKey(y));
        const peer = await node.importX25519(b, { ephemeral: true });
        const peerPublic = node.x25519PublicKey(peer);
        expect(node.exportSecret(node.x25519(x, peerPublic))).toEqual(
          noble.exportSecret(noble.x25519(y, peerPublic)),
        );
      }),
      { numRuns: 40 },
    );
  });

  it('agree on the public key of an X25519 key the node backend generated (OpenSSL makes it)', async () => {
    for (let i = 0; i < 20; i++) {
      for (const ephemeral of [true, false]) {
        const key = await node.generateX25519({ ephemeral });
        const secret = await node.exportSecretKey(key);
        expect(secret.length).toBe(32);
        const again = await noble.importX25519(secret, { ephemeral: true });
        expect(noble.x25519PublicKey(again)).toEqual(node.x25519PublicKey(key));
      }
    }
  });

  it('derive the same HKDF outputs', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 80 }),
        fc.uint8Array({ maxLength: 80 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.integer({ min: 0, max: 300 }),
        (salt, ikm, info, length) => {
          expect(nodePrimitives.hkdfSha256(salt, ikm, info, length)).toEqual(
            noblePrimitives.hkdfSha256(salt, ikm, info, length),
          );
        },
      ),
    );
    fc.assert(
      fc.property(
        bytes32,
        fc.option(bytes32, { nil: undefined }),
        fc.constantFrom(2 as const, 3 as const),
        (salt, ikm, outputs) => {
          const derive = (v: typeof node) =>
            v
              .hkdf(
                v.importSecret(salt),
                ikm === undefined ? undefined : v.importSecret(ikm),
                new Uint8Array(0),
                outputs,
              )
              .map((h) => v.exportSecret(h));
          expect(derive(node)).toEqual(derive(noble));
        },
      ),
    );
  });

  it('compute the same HMAC-SHA256 and SHA-256', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), message, (key, msg) => {
        expect(nodePrimitives.hmacSha256(key, msg)).toEqual(noblePrimitives.hmacSha256(key, msg));
        expect(node.sha256(msg)).toEqual(noble.sha256(msg));
      }),
    );
  });

  for (const algorithm of ['aes-256-gcm', 'chacha20-poly1305'] as const) {
    it(`produce the same ${algorithm} ciphertexts and open each other's`, () => {
      fc.assert(
        fc.property(
          bytes32,
          fc.uint8Array({ minLength: 12, maxLength: 12 }),
          fc.uint8Array({ maxLength: 2048 }),
          message,
          (key, nonce, plaintext, aad) => {
            const [a, b] = [
              node.aeadKey(node.importSecret(key), algorithm),
              noble.aeadKey(noble.importSecret(key), algorithm),
            ];
            const sealed = node.aeadEncrypt(a, nonce, plaintext, aad);
            expect(bytesEqual(noble.aeadEncrypt(b, nonce, plaintext, aad), sealed)).toBe(true);
            expect(noble.aeadDecrypt(b, nonce, sealed, aad)).toEqual(plaintext);
            expect(node.aeadDecrypt(a, nonce, sealed, aad)).toEqual(plaintext);
          },
        ),
        { numRuns: 60 },
      );
    });
  }
});

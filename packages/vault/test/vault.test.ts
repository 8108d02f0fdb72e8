import { bytesEqual, OckamError, toHex } from '@ockam/core';
import { describe, expect, it } from 'vitest';
import {
  createVault,
  ecdsaDerToRaw,
  ecdsaRawToDer,
  MemoryKeyStore,
  NobleVault,
  NodeVault,
  VaultError,
} from '../src/index.js';
import { backends } from './backends.js';

const enc = (s: string) => new TextEncoder().encode(s);
const empty = new Uint8Array(0);

function expectVaultError(fn: () => unknown, kind: string): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(OckamError.isKind(error, kind as 'invalid', 'vault')).toBe(true);
  expect(error).toBeInstanceOf(VaultError);
}

describe('createVault', () => {
  it('creates a node vault by default and a noble vault on request', () => {
    expect(createVault()).toBeInstanceOf(NodeVault);
    expect(createVault().backend).toBe('node');
    expect(createVault('noble')).toBeInstanceOf(NobleVault);
    expect(() => createVault('webcrypto' as 'node')).toThrow(RangeError);
  });
});

for (const backend of backends) {
  describe(`${backend.name} vault`, () => {
    for (const type of ['ed25519', 'p256'] as const) {
      it(`signs with a new ${type} key and verifies the signature`, async () => {
        const vault = backend.vault();
        const key = await vault.generateSigningKey(type);
        const publicKey = await vault.publicKey(key);
        expect(publicKey.length).toBe(type === 'ed25519' ? 32 : 65);
        expect(key.id).toBe(toHex(vault.sha256(publicKey)));
        const digest = vault.sha256(enc('hello'));
        const signature = await vault.sign(key, digest);
        expect(signature.length).toBe(64);
        expect(vault.verify({ type, bytes: publicKey }, digest, signature)).toBe(true);
        expect(vault.verify({ type, bytes: publicKey }, vault.sha256(enc('hellO')), signature)).toBe(false);
      });

      it(`rejects malformed ${type} keys and signatures without throwing`, async () => {
        const vault = backend.vault();
        const key = await vault.generateSigningKey(type);
        const bytes = await vault.publicKey(key);
        const signature = await vault.sign(key, enc('m'));
        expect(vault.verify({ type, bytes: bytes.subarray(1) }, enc('m'), signature)).toBe(false);
        expect(vault.verify({ type, bytes }, enc('m'), signature.subarray(1))).toBe(false);
        expect(vault.verify({ type, bytes: new Uint8Array(bytes.length) }, enc('m'), signature)).toBe(false);
        expect(vault.verify({ type: 'x25519', bytes }, enc('m'), signature)).toBe(false);
      });

      it(`imports a ${type} secret, exports it back and derives the same handle`, async () => {
        const vault = backend.vault();
        const key = await vault.generateSigningKey(type);
        const secret = await vault.exportSecretKey(key);
        const other = backend.vault();
        const imported = await other.importSigningKey(type, secret);
        expect(imported).toEqual(key);
        expect(await other.getKey(key.id)).toEqual(key);
      });
    }

    it('refuses secrets of the wrong size and invalid P-256 scalars', async () => {
      const vault = backend.vault();
      await expect(vault.importSigningKey('ed25519', new Uint8Array(31))).rejects.toThrow(VaultError);
      await expect(vault.importSigningKey('p256', new Uint8Array(32))).rejects.toThrow(VaultError);
      await expect(vault.importSigningKey('p256', new Uint8Array(32).fill(0xff))).rejects.toThrow(VaultError);
      await expect(vault.importX25519(new Uint8Array(33))).rejects.toThrow(VaultError);
    });

    it('signs deterministically with Ed25519 (RFC 8032 test 1)', async () => {
      const vault = backend.vault();
      const seed = Uint8Array.from(
        Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex'),
      );
      const key = await vault.importSigningKey('ed25519', seed);
      expect(toHex(await vault.publicKey(key))).toBe(
        'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
      );
      expect(toHex(await vault.sign(key, empty))).toBe(
        'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
      );
    });

    it('deletes keys and reports unknown handles as not found', async () => {
      const vault = backend.vault();
      const key = await vault.generateSigningKey('ed25519');
      expect(await vault.deleteKey(key)).toBe(true);
      expect(await vault.deleteKey(key)).toBe(false);
      expect(await vault.getKey(key.id)).toBeUndefined();
      await expect(vault.sign(key, enc('m'))).rejects.toSatisfy((e) =>
        OckamError.isKind(e, 'not-found', 'vault'),
      );
    });

    it('agrees on X25519 shared secrets and gives static keys stable ids', async () => {
      const vault = backend.vault();
      const a = await vault.generateX25519();
      const b = await vault.generateX25519({ ephemeral: true });
      expect(a.id).toBe(toHex(vault.sha256(vault.x25519PublicKey(a))));
      expect(b.id).not.toBe(toHex(vault.sha256(vault.x25519PublicKey(b))));
      const ab = vault.exportSecret(vault.x25519(a, vault.x25519PublicKey(b)));
      const ba = vault.exportSecret(vault.x25519(b, vault.x25519PublicKey(a)));
      expect(bytesEqual(ab, ba)).toBe(true);
    });

    it('rejects an X25519 peer key of low order', async () => {
      const vault = backend.vault();
      const key = await vault.generateX25519({ ephemeral: true });
      expectVaultError(() => vault.x25519(key, new Uint8Array(32)), 'invalid');
      const one = new Uint8Array(32);
      one[0] = 1;
      expectVaultError(() => vault.x25519(key, one), 'invalid');
      expectVaultError(() => vault.x25519(key, new Uint8Array(31)), 'invalid');
    });

    it('derives two or three HKDF outputs and refuses other counts', () => {
      const vault = backend.vault();
      const salt = vault.importSecret(new Uint8Array(32).fill(1));
      const ikm = vault.importSecret(new Uint8Array(32).fill(2));
      const two = vault.hkdf(salt, ikm, empty, 2).map((h) => vault.exportSecret(h));
      const three = vault.hkdf(salt, ikm, empty, 3).map((h) => vault.exportSecret(h));
      expect(two).toEqual(three.slice(0, 2));
      expect(three.every((o) => o.length === 32)).toBe(true);
      expect(vault.hkdf(salt, undefined, empty, 2).length).toBe(2);
      expect(() => vault.hkdf(salt, ikm, empty, 4 as 2)).toThrow(RangeError);
    });

    for (const algorithm of ['aes-256-gcm', 'chacha20-poly1305'] as const) {
      it(`encrypts and decrypts with ${algorithm} and rejects any tampering`, () => {
        const vault = backend.vault();
        const key = vault.aeadKey(vault.importSecret(new Uint8Array(32).fill(7)), algorithm);
        const nonce = new Uint8Array(12);
        nonce[11] = 1;
        const sealed = vault.aeadEncrypt(key, nonce, enc('secret message'), enc('aad'));
        expect(sealed.length).toBe(14 + 16);
        expect(vault.aeadDecrypt(key, nonce, sealed, enc('aad'))).toEqual(enc('secret message'));
        for (let i = 0; i < sealed.length; i++) {
          const bad = sealed.slice();
          bad[i]! ^= 0x01;
          expectVaultError(() => vault.aeadDecrypt(key, nonce, bad, enc('aad')), 'invalid');
        }
        expectVaultError(() => vault.aeadDecrypt(key, nonce, sealed, enc('AAD')), 'invalid');
        expectVaultError(() => vault.aeadDecrypt(key, new Uint8Array(12), sealed, enc('aad')), 'invalid');
        expectVaultError(() => vault.aeadDecrypt(key, nonce, sealed.subarray(0, 15), enc('aad')), 'invalid');
        expectVaultError(() => vault.aeadEncrypt(key, new Uint8Array(8), enc('x'), empty), 'invalid');
      });
    }

    it('refuses an AEAD key from a secret that is not 32 bytes', () => {
      const vault = backend.vault();
      expectVaultError(() => vault.aeadKey(vault.importSecret(new Uint8Array(16))), 'invalid');
    });

    it('forgets deleted secrets and AEAD keys', () => {
      const vault = backend.vault();
      const secret = vault.importSecret(new Uint8Array(32).fill(3));
      const key = vault.aeadKey(secret);
      vault.deleteSecret(secret);
      vault.deleteSecret(key);
      expectVaultError(() => vault.exportSecret(secret), 'not-found');
      expectVaultError(() => vault.aeadEncrypt(key, new Uint8Array(12), empty, empty), 'not-found');
      vault.deleteSecret(key); // deleting twice is harmless
    });

    it('copies imported secrets so that callers cannot change them afterwards', () => {
      const vault = backend.vault();
      const bytes = new Uint8Array(32).fill(5);
      const secret = vault.importSecret(bytes);
      bytes.fill(0);
      expect(vault.exportSecret(secret)).toEqual(new Uint8Array(32).fill(5));
    });

    it('never shows secrets when inspected or serialised', async () => {
      const vault = backend.vault();
      await vault.generateSigningKey('ed25519');
      expect(JSON.stringify(vault)).toBe(`{"backend":"${backend.name}"}`);
      const { inspect } = await import('node:util');
      expect(inspect(vault)).toBe(`Vault<${backend.name}>`);
    });

    it('persists signing and static X25519 keys in its store but never ephemeral ones', async () => {
      const store = new MemoryKeyStore();
      const vault = createVault(backend.name, { store });
      const signing = await vault.generateSigningKey('p256');
      const staticKey = await vault.generateX25519();
      const ephemeral = await vault.generateX25519({ ephemeral: true });
      expect((await store.list()).map((k) => k.id).sort()).toEqual([signing.id, staticKey.id].sort());
      const reopened = createVault(backend.name, { store });
      expect(await reopened.getKey(signing.id)).toEqual(signing);
      expect(await reopened.getKey(staticKey.id)).toEqual(staticKey);
      expect(await reopened.getKey(ephemeral.id)).toBeUndefined();
      expect(reopened.x25519PublicKey(staticKey)).toEqual(vault.x25519PublicKey(staticKey));
      expect(await reopened.deleteKey(signing)).toBe(true);
      expect(await store.load(signing.id)).toBeUndefined();
    });
  });
}

describe('ecdsaDerToRaw', () => {
  it('round-trips with ecdsaRawToDer, including short and high-bit scalars', () => {
    const raw = new Uint8Array(64);
    raw[31] = 1;
    raw[32] = 0x80;
    raw[63] = 2;
    expect(ecdsaDerToRaw(ecdsaRawToDer(raw))).toEqual(raw);
  });

  it('rejects long-form lengths, redundant zeros and trailing bytes', () => {
    expect(() =>
      ecdsaDerToRaw(Uint8Array.from([0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01])),
    ).toThrow(VaultError);
    expect(() =>
      ecdsaDerToRaw(Uint8Array.from([0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01])),
    ).toThrow(VaultError);
    expect(() =>
      ecdsaDerToRaw(Uint8Array.from([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00])),
    ).toThrow(VaultError);
    expect(() => ecdsaDerToRaw(Uint8Array.from([0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01]))).toThrow(
      VaultError,
    );
  });
});

describe('the browser entry', () => {
  it('creates a noble vault by default and refuses the node backend', async () => {
    const browser = await import('../src/browser.js');
    expect(browser.createVault().backend).toBe('noble');
    expect(() => browser.createVault('node')).toThrow(VaultError);
  });

  it('imports nothing from node: in the noble backend files', async () => {
    const { readFileSync } = await import('node:fs');
    const path = await import('node:path');
    for (const file of [
      'browser.ts',
      'noble.ts',
      'noble-vault.ts',
      'internal/noble-primitives.ts',
      'internal/software-vault.ts',
      'key-store.ts',
    ]) {
      const source = readFileSync(path.resolve(import.meta.dirname, '../src', file), 'utf8');
      expect(source, file).not.toMatch(/from 'node:|require\(/);
      expect(source, file).not.toMatch(
        /^(import|export) .* from '.*(node-vault|node-primitives|sqlite).*';$/m,
      );
    }
  });
});

import { describe as describeAliasing, expect as expectAliasing, it as itAliasing } from 'vitest';
import { createVault as createVaultForAliasing } from '../src/index.js';

describeAliasing('secrets imported from Buffers', () => {
  for (const backend of ['node', 'noble'] as const) {
    itAliasing(`${backend} vault keeps its own copy when the caller wipes a Buffer it imported`, () => {
      const vault = createVaultForAliasing(backend);
      const source = Buffer.alloc(32, 7);
      const secret = vault.importSecret(source);
      const key = vault.aeadKey(vault.importSecret(Buffer.alloc(32, 9)));
      source.fill(0);
      expectAliasing(vault.exportSecret(secret)).toEqual(new Uint8Array(32).fill(7));
      const nonce = new Uint8Array(12);
      const sealed = vault.aeadEncrypt(key, nonce, new Uint8Array([1, 2]), new Uint8Array());
      expectAliasing(vault.aeadDecrypt(key, nonce, sealed, new Uint8Array())).toEqual(new Uint8Array([1, 2]));
    });
  }
});

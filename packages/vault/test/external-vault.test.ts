import type { KeyHandle, SigningKeyType } from '@ockam/core';
import { OckamError } from '@ockam/core';
import { describe, expect, it } from 'vitest';
import { createExternalVault, createVault, type SigningKeyBackend } from '../src/index.js';

/** A backend over a second software vault that records which calls reached it. */
function recordingBackend(): SigningKeyBackend & { calls: string[]; closed: boolean } {
  const inner = createVault('noble');
  const calls: string[] = [];
  const backend = {
    kind: 'test-hsm',
    types: ['p256', 'ed25519'] as const,
    calls,
    closed: false,
    async generateSigningKey(type: SigningKeyType) {
      calls.push(`generate ${type}`);
      return inner.generateSigningKey(type);
    },
    async sign(key: KeyHandle, message: Uint8Array) {
      calls.push('sign');
      return inner.sign(key, message);
    },
    publicKey: (key: KeyHandle) => inner.publicKey(key),
    getKey: (id: string) => inner.getKey(id),
    deleteKey: (key: KeyHandle) => inner.deleteKey(key),
    async close() {
      backend.closed = true;
    },
  };
  return backend;
}

describe('createExternalVault', () => {
  it('generates and signs in the backend, keeps X25519 and secrets in software, refuses import and export', async () => {
    const software = createVault('node');
    const backend = recordingBackend();
    const vault = createExternalVault(software, backend);
    expect(vault.backend).toBe('test-hsm+node');

    const key = await vault.generateSigningKey('p256');
    const digest = vault.sha256(new TextEncoder().encode('change history'));
    const signature = await vault.sign(key, digest);
    expect(vault.verify({ type: 'p256', bytes: await vault.publicKey(key) }, digest, signature)).toBe(true);
    expect(backend.calls).toEqual(['generate p256', 'sign']);
    expect(await software.getKey(key.id)).toBeUndefined();
    expect((await vault.getKey(key.id))?.type).toBe('p256');

    const x = await vault.generateX25519();
    expect(await software.getKey(x.id)).toBeDefined();
    expect(await vault.getKey(x.id)).toEqual(x);
    expect(backend.calls).toHaveLength(2);

    await expect(vault.exportSecretKey(key)).rejects.toSatisfy(
      (e: unknown) => OckamError.isKind(e, 'unsupported') && /test-hsm/.test((e as Error).message),
    );
    await expect(vault.importSigningKey('ed25519', new Uint8Array(32))).rejects.toSatisfy((e: unknown) =>
      OckamError.isKind(e, 'unsupported'),
    );
    expect(await vault.exportSecretKey(x)).toHaveLength(32);

    expect(await vault.deleteKey(key)).toBe(true);
    expect(await vault.getKey(key.id)).toBeUndefined();
    await vault.close();
    expect(backend.closed).toBe(true);
  });
});

import { createServer, type Server } from 'node:net';
import { type LocalKms, localKmsSkipReason, startLocalKms } from '@ockam/brokers';
import { OckamError } from '@ockam/core';
import { createIdentity, importIdentity } from '@ockam/identity';
import { createExternalVault, createVault, type SigningKeyBackend } from '@ockam/vault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALIAS_PREFIX, openSigningKeyBackend } from '../src/index.js';

const skip = localKmsSkipReason();

describe.skipIf(skip !== undefined)('AWS KMS signing keys against local-kms', () => {
  let kms: LocalKms;
  const open = (vault = 'v1'): SigningKeyBackend =>
    openSigningKeyBackend({ kind: 'aws-kms', endpoint: kms.endpoint, region: kms.region }, vault);

  beforeAll(async () => {
    kms = await startLocalKms();
    // The SDK's default chain reads credentials from the environment: dummy ones for local-kms.
    process.env.AWS_ACCESS_KEY_ID = 'local-kms-test';
    process.env.AWS_SECRET_ACCESS_KEY = 'local-kms-test';
  }, 120_000);
  afterAll(async () => {
    await kms?.stop({ remove: true });
  });

  it('generates a P-256 key in KMS whose signatures our software verifier accepts', async () => {
    const keys = open();
    try {
      const key = await keys.generateSigningKey('p256');
      expect(key.type).toBe('p256');
      const publicKey = await keys.publicKey(key);
      expect(publicKey.length).toBe(65);
      expect(publicKey[0]).toBe(0x04);
      const verifier = createVault();
      expect(key.id).toBe(Buffer.from(verifier.sha256(publicKey)).toString('hex'));
      // Longer than KMS's 4096-byte RAW limit: we send a digest, as Ockam does.
      for (const message of [
        verifier.sha256(new TextEncoder().encode('hello')),
        new Uint8Array(5000).fill(7),
      ]) {
        const signature = await keys.sign(key, message);
        expect(signature.length).toBe(64);
        expect(verifier.verify({ type: 'p256', bytes: publicKey }, message, signature)).toBe(true);
        expect(
          verifier.verify({ type: 'p256', bytes: publicKey }, new Uint8Array([1, ...message]), signature),
        ).toBe(false);
      }
      expect(kms.output()).toMatch(/DIGEST message signed with ECC_NIST_P256/);
    } finally {
      await keys.close();
    }
  });

  it('finds a key again by its handle id after reopening, and deletes it (alias gone, key pending deletion)', async () => {
    const first = open();
    const key = await first.generateSigningKey('p256');
    const publicKey = await first.publicKey(key);
    await first.close();
    await expect(first.sign(key, new Uint8Array(32))).rejects.toThrow(/closed/);

    const again = open();
    try {
      expect(await again.getKey(key.id)).toEqual(key);
      expect(await again.publicKey(key)).toEqual(publicKey);
      const signature = await again.sign(key, new Uint8Array(32));
      expect(createVault().verify({ type: 'p256', bytes: publicKey }, new Uint8Array(32), signature)).toBe(
        true,
      );
      expect(await again.getKey('ab'.repeat(32))).toBeUndefined();
      expect(await again.getKey('not a handle id')).toBeUndefined();

      expect(await again.deleteKey(key)).toBe(true);
      expect(kms.output()).toContain(`Alias deleted: `);
      expect(kms.output()).toMatch(/Schedule key deletion/);
      expect(await again.getKey(key.id)).toBeUndefined();
      expect(await again.deleteKey(key)).toBe(false);
      await expect(again.sign(key, new Uint8Array(32))).rejects.toSatisfy((e) =>
        OckamError.isKind(e, 'not-found', 'vault'),
      );
    } finally {
      await again.close();
    }
    expect(kms.output()).toContain(`${ALIAS_PREFIX}${key.id}`);
  });

  it('refuses Ed25519: Ockam keeps P-256 keys in KMS', async () => {
    const keys = open();
    try {
      expect(keys.types).toEqual(['p256']);
      await expect(keys.generateSigningKey('ed25519')).rejects.toSatisfy(
        (e) => OckamError.isKind(e, 'unsupported', 'vault') && /P-256/.test(e.message),
      );
    } finally {
      await keys.close();
    }
  });

  it('an identity whose primary key is in KMS has a change history that verifies, found again by its key id', async () => {
    const vault = createExternalVault(createVault(), open());
    try {
      const identity = await createIdentity(vault, { keyType: 'p256' });
      const copy = importIdentity(identity.export());
      expect(copy.identifier).toBe(identity.identifier);
      expect(copy.primaryPublicKey.type).toBe('p256');
      const id = Buffer.from(vault.sha256(copy.primaryPublicKey.bytes)).toString('hex');
      expect(await vault.getKey(id)).toEqual({ id, type: 'p256' });
      // The secure channel's X25519 keys stay in the software vault.
      const x = await vault.generateX25519({ ephemeral: false });
      expect(await vault.getKey(x.id)).toEqual(x);
    } finally {
      await vault.close();
    }
  });
});

describe('AWS KMS endpoints that do not answer', () => {
  const saved = { ...process.env };
  beforeAll(() => {
    process.env.AWS_ACCESS_KEY_ID = 'local-kms-test';
    process.env.AWS_SECRET_ACCESS_KEY = 'local-kms-test';
  });
  afterAll(() => {
    process.env = saved;
  });

  it('an endpoint that is down fails with a clear error, soon', async () => {
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((r) => probe.close(() => r()));
    const keys = openSigningKeyBackend(
      { kind: 'aws-kms', endpoint: `http://127.0.0.1:${port}`, region: 'eu-west-1', timeoutMs: 5_000 },
      'down',
    );
    const started = Date.now();
    const error = await keys.generateSigningKey('p256').catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5_000 + 2_000);
    expect(OckamError.isKind(error, 'io', 'vault')).toBe(true);
    expect((error as Error).message).toMatch(
      new RegExp(`CreateKey failed \\(vault down, http://127.0.0.1:${port}\\): .*ECONNREFUSED`),
    );
    await keys.close();
  });

  it('an endpoint that accepts and never answers times out within the configured bound', async () => {
    const silent: Server = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const { port } = silent.address() as { port: number };
    const keys = openSigningKeyBackend(
      { kind: 'aws-kms', endpoint: `http://127.0.0.1:${port}`, region: 'eu-west-1', timeoutMs: 3_000 },
      'silent',
    );
    try {
      const started = Date.now();
      const error = await keys.getKey('ab'.repeat(32)).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(3_000 + 2_000);
      expect(OckamError.isKind(error, 'timeout', 'vault')).toBe(true);
      expect((error as Error).message).toMatch(/GetPublicKey failed .*no answer in time/);
    } finally {
      await keys.close();
      silent.close();
    }
  });

  it('no region and no credentials are told apart, before anything is sent', async () => {
    const env = process.env;
    const bare: NodeJS.ProcessEnv = { ...env, HOME: '/nonexistent', AWS_EC2_METADATA_DISABLED: 'true' };
    for (const k of [
      'AWS_REGION',
      'AWS_DEFAULT_REGION',
      'AWS_PROFILE',
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
    ])
      delete bare[k];
    process.env = bare;
    try {
      const noRegion = openSigningKeyBackend({ kind: 'aws-kms', endpoint: 'http://127.0.0.1:9' }, 'r');
      await expect(noRegion.generateSigningKey('p256')).rejects.toSatisfy(
        (e) =>
          OckamError.isKind(e, 'invalid', 'vault') &&
          /no AWS region: set AWS_REGION/.test((e as Error).message),
      );
      await noRegion.close();
      const noCredentials = openSigningKeyBackend(
        { kind: 'aws-kms', endpoint: 'http://127.0.0.1:9', region: 'eu-west-1' },
        'c',
      );
      await expect(noCredentials.generateSigningKey('p256')).rejects.toSatisfy(
        (e) => OckamError.isKind(e, 'permission', 'vault') && /no AWS credentials/.test((e as Error).message),
      );
      await noCredentials.close();
    } finally {
      process.env = env;
    }
  });

  it('a configuration that is not ours is refused when opened', () => {
    expect(() => openSigningKeyBackend({ kind: 'aws-kms', endpoint: 'not a url' }, 'bad')).toThrow(
      /not a URL/,
    );
    expect(() => openSigningKeyBackend({ kind: 'aws-kms', timeoutMs: -1 }, 'bad')).toThrow(/timeoutMs/);
    expect(() => openSigningKeyBackend({ kind: 'pkcs11' }, 'bad')).toThrow(/cannot open/);
  });
});

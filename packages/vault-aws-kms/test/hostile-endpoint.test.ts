/**
 * A KMS endpoint that lies: a tiny HTTP server speaking the KMS JSON protocol with answers chosen
 * by each test. Whatever it returns, nothing it says is believed without a check, and a failed
 * check leaves no key behind.
 */
import { generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { OckamError } from '@ockam/core';
import { createIdentity } from '@ockam/identity';
import { createExternalVault, createVault, type SigningKeyBackend } from '@ockam/vault';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ALIAS_PREFIX, openSigningKeyBackend } from '../src/index.js';

type Answer = (body: Record<string, unknown>) => {
  status?: number;
  json?: unknown;
  raw?: Buffer;
  /** Sent in pieces without a Content-Length (chunked). */
  chunked?: boolean;
};

const spki = (curve: 'P-256' | 'P-384' | 'ed25519') => {
  const pair =
    curve === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: curve });
  return { ...pair, der: pair.publicKey.export({ format: 'der', type: 'spki' }) };
};
const p256 = spki('P-256');
const other = spki('P-256');
const ARN = 'arn:aws:kms:eu-west-1:111122223333:key/hostile';

const publicKeyAnswer = (der: Buffer, extra: Record<string, unknown> = {}) => ({
  json: {
    KeyId: ARN,
    PublicKey: der.toString('base64'),
    KeySpec: 'ECC_NIST_P256',
    KeyUsage: 'SIGN_VERIFY',
    SigningAlgorithms: ['ECDSA_SHA_256'],
    ...extra,
  },
});
const signAnswer = (signature: Buffer) => ({
  json: { KeyId: ARN, Signature: signature.toString('base64'), SigningAlgorithm: 'ECDSA_SHA_256' },
});

describe('a hostile AWS KMS endpoint', () => {
  let server: Server;
  let endpoint: string;
  let answers: Record<string, Answer> = {};
  const calls: string[] = [];
  const saved = { ...process.env };

  const read = (req: IncomingMessage) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString() || '{}')));
    });

  beforeAll(async () => {
    process.env.AWS_ACCESS_KEY_ID = 'hostile-test';
    process.env.AWS_SECRET_ACCESS_KEY = 'hostile-test';
    server = createServer(async (req, res) => {
      const operation = String(req.headers['x-amz-target'] ?? '').replace('TrentService.', '');
      calls.push(operation);
      const body = await read(req);
      const answer = answers[operation]?.(body) ?? {
        status: 400,
        json: { __type: 'NotFoundException', message: `no ${operation} here` },
      };
      const payload = answer.raw ?? Buffer.from(JSON.stringify(answer.json ?? {}));
      res.writeHead(answer.status ?? 200, {
        'content-type': 'application/x-amz-json-1.1',
        ...(answer.chunked ? {} : { 'content-length': String(payload.length) }),
      });
      if (answer.chunked) {
        // Stops writing once the client gave up, as a flood would not.
        for (let o = 0; o < payload.length && !res.destroyed; o += 16_384)
          res.write(payload.subarray(o, o + 16_384));
      }
      res.end(answer.chunked ? undefined : payload);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    process.env = saved;
    await new Promise<void>((r) => server.close(() => r()));
  });
  afterEach(() => {
    answers = {};
    calls.length = 0;
  });

  const open = (): SigningKeyBackend =>
    openSigningKeyBackend({ kind: 'aws-kms', endpoint, region: 'eu-west-1', maxAttempts: 1 }, 'hostile');
  const protocolError = (pattern: RegExp) => (e: unknown) =>
    OckamError.isKind(e, 'protocol', 'vault') && pattern.test((e as Error).message);
  const created = () => ({ json: { KeyMetadata: { KeyId: 'hostile', Arn: ARN } } });
  const p256Point = (() => {
    const jwk = p256.publicKey.export({ format: 'jwk' });
    return Uint8Array.from([4, ...Buffer.from(jwk.x!, 'base64url'), ...Buffer.from(jwk.y!, 'base64url')]);
  })();
  const id = () => Buffer.from(createVault().sha256(p256Point)).toString('hex');

  for (const [what, der, pattern] of [
    ['a P-384 key', spki('P-384').der, /is ec on secp384r1, not P-256/],
    ['an Ed25519 key', spki('ed25519').der, /is ed25519, not P-256/],
    ['bytes that are no SPKI', Buffer.from('30820100deadbeef', 'hex'), /not a valid SPKI/],
    ['an oversized public key', Buffer.alloc(4096, 0x30), /4096 bytes is not a P-256 SPKI/],
  ] as const) {
    it(`refuses ${what} from GetPublicKey after CreateKey, creates no alias and schedules the key's deletion`, async () => {
      answers = {
        CreateKey: created,
        GetPublicKey: () => publicKeyAnswer(der),
        ScheduleKeyDeletion: () => ({ json: { KeyId: ARN } }),
      };
      const keys = open();
      await expect(keys.generateSigningKey('p256')).rejects.toSatisfy(protocolError(pattern));
      expect(calls).toEqual(['CreateKey', 'GetPublicKey', 'ScheduleKeyDeletion']);
      await keys.close();
    });
  }

  it('refuses a key that KMS says is not ECC_NIST_P256 or not for signing', async () => {
    const keys = open();
    answers = { GetPublicKey: () => publicKeyAnswer(p256.der, { KeySpec: 'ECC_NIST_P384' }) };
    await expect(keys.getKey(id())).rejects.toSatisfy(protocolError(/ECC_NIST_P384 key, not ECC_NIST_P256/));
    answers = { GetPublicKey: () => publicKeyAnswer(p256.der, { KeyUsage: 'ENCRYPT_DECRYPT' }) };
    await expect(keys.getKey(id())).rejects.toSatisfy(protocolError(/ENCRYPT_DECRYPT, not SIGN_VERIFY/));
    await keys.close();
  });

  it('refuses an alias that names a key whose public key has another id', async () => {
    answers = { GetPublicKey: () => publicKeyAnswer(other.der) };
    const keys = open();
    await expect(keys.getKey(id())).rejects.toSatisfy(protocolError(/public key of another key/));
    expect(calls).toEqual(['GetPublicKey']);
    await keys.close();
  });

  const digestOf = (body: Record<string, unknown>) => Buffer.from(String(body.Message), 'base64');
  for (const [what, answer, pattern] of [
    ['garbage', () => signAnswer(Buffer.from('not a DER signature at all!')), /malformed signature/],
    [
      'an oversized signature',
      () => signAnswer(Buffer.alloc(1024, 0x30)),
      /1024 bytes, not a DER P-256 signature/,
    ],
    ['no signature', () => ({ json: { KeyId: ARN } }), /0 bytes/],
    [
      "another key's valid signature",
      () =>
        signAnswer(
          nodeSign('sha256', new Uint8Array(32).fill(1), { key: other.privateKey, dsaEncoding: 'der' }),
        ),
      /does not verify/,
    ],
    [
      'a signature over other bytes',
      () =>
        signAnswer(
          nodeSign('sha256', Buffer.from('something else'), { key: p256.privateKey, dsaEncoding: 'der' }),
        ),
      /does not verify/,
    ],
    [
      'another algorithm',
      () => ({ json: { Signature: 'MAA=', SigningAlgorithm: 'RSASSA_PSS_SHA_256' } }),
      /RSASSA_PSS_SHA_256/,
    ],
  ] as const) {
    it(`refuses ${what} from Sign`, async () => {
      answers = { GetPublicKey: () => publicKeyAnswer(p256.der), Sign: answer };
      const keys = open();
      const key = await keys.getKey(id());
      expect(key).toEqual({ id: id(), type: 'p256' });
      await expect(keys.sign(key!, new Uint8Array(32).fill(1))).rejects.toSatisfy(protocolError(pattern));
      await keys.close();
    });
  }

  it('accepts the right signature from the same server, so the refusals above are the checks', async () => {
    const message = new Uint8Array(32).fill(1);
    answers = {
      GetPublicKey: () => publicKeyAnswer(p256.der),
      // ECDSA-SHA256 over the message is ECDSA over the digest KMS receives (MessageType DIGEST).
      Sign: (body) => {
        expect(digestOf(body)).toEqual(Buffer.from(createVault().sha256(message)));
        return signAnswer(nodeSign('sha256', message, { key: p256.privateKey, dsaEncoding: 'der' }));
      },
    };
    const keys = open();
    const key = (await keys.getKey(id()))!;
    const signature = await keys.sign(key, message);
    expect(createVault().verify({ type: 'p256', bytes: p256Point }, message, signature)).toBe(true);
    await keys.close();
  });

  it('refuses an answer larger than 64 KiB before parsing it, with or without a declared length', async () => {
    const big = Buffer.from(JSON.stringify({ KeyId: ARN, PublicKey: 'A'.repeat(1 << 20) }));
    const keys = open();
    answers = { GetPublicKey: () => ({ raw: big }) };
    await expect(keys.getKey(id())).rejects.toSatisfy(protocolError(/1048\d+ bytes, more than 65536/));
    answers = { GetPublicKey: () => ({ raw: big, chunked: true }) };
    await expect(keys.getKey(id())).rejects.toSatisfy(protocolError(/more than 65536 bytes/));
    await keys.close();
  });

  it('a change history is never signed by a KMS whose signatures do not verify: identity creation fails', async () => {
    answers = {
      CreateKey: created,
      GetPublicKey: () => publicKeyAnswer(p256.der),
      CreateAlias: () => ({ json: {} }),
      Sign: (body) =>
        signAnswer(nodeSign('sha256', digestOf(body), { key: other.privateKey, dsaEncoding: 'der' })),
    };
    const vault = createExternalVault(createVault(), open());
    await expect(createIdentity(vault, { keyType: 'p256' })).rejects.toSatisfy(
      protocolError(/does not verify/),
    );
    expect(calls).toContain(`CreateAlias`);
    expect(calls.at(-1)).toBe('Sign');
    await vault.close();
    expect(ALIAS_PREFIX).toBe('alias/ockam/');
  });
});

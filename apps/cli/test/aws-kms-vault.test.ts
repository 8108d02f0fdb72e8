/**
 * `ockam vault create --aws-kms` against local-kms (a real KMS endpoint on this machine, keys and
 * ECDSA included; no AWS account): an identity whose primary key is generated in KMS, the
 * credential it issues, and a node with it that accepts a secure channel and carries a portal.
 */
import { connect, createServer, type Server } from 'node:net';
import { type LocalKms, localKmsSkipReason, startLocalKms } from '@ockam/brokers';
import { importIdentity } from '@ockam/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ockam, tempHome } from './helpers.js';

const skip = localKmsSkipReason();

describe.skipIf(skip !== undefined)('ockam vault create --aws-kms (local-kms)', () => {
  let kms: LocalKms;
  let home: string;
  let cleanup: () => Promise<void>;
  let alice: string;
  let bob: string;
  const o = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    ockam(home, args, { env: { ...kms.env, ...env } });
  const ok = async (args: string[]) => {
    const r = await o(args);
    expect(r, args.join(' ')).toMatchObject({ code: 0 });
    return r.stdout;
  };

  beforeAll(async () => {
    kms = await startLocalKms();
    ({ home, cleanup } = tempHome());
    await ok(['vault', 'create', 'soft']);
    await ok(['vault', 'create', 'kms', '--aws-kms']);
  }, 120_000);
  afterAll(async () => {
    await cleanup?.();
    await kms?.stop({ remove: true });
  });

  it("vault show prints Ockam's use_aws_kms", async () => {
    const shown = JSON.parse(await ok(['--output', 'json', 'vault', 'show', 'kms']));
    expect(shown.vault.vault_type.LocalFileVault).toMatchObject({ use_aws_kms: 'Yes' });
    const soft = JSON.parse(await ok(['--output', 'json', 'vault', 'show', 'soft']));
    expect(soft.vault.vault_type).toEqual({ DatabaseVault: { use_aws_kms: 'No' } });
  });

  it('identity create --vault generates a P-256 key in KMS; the change history verifies; Ed25519 is refused', async () => {
    alice = (await ok(['identity', 'create', 'alice', '--vault', 'kms'])).trim();
    const shown = JSON.parse(await ok(['--output', 'json', 'identity', 'show', 'alice']));
    expect(shown).toMatchObject({ identifier: alice, vault_name: 'kms', key_type: 'p256' });
    const exported = (await ok(['identity', 'show', 'alice', '--full', '--encoding', 'hex'])).trim();
    const verified = importIdentity(Buffer.from(exported, 'hex'));
    expect(verified.identifier).toBe(alice);
    expect(verified.primaryPublicKey.type).toBe('p256');
    expect(kms.output()).toMatch(/New ECC_NIST_P256 key created/);
    expect(kms.output()).toMatch(/New alias created: \S+:alias\/ockam\/[0-9a-f]{64} -> /);

    const refused = await o(['identity', 'create', 'carol', '--vault', 'kms', '--key-type', 'ed25519']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/AWS KMS.*P-256.*not ed25519/);
    bob = (await ok(['identity', 'create', 'bob', '--vault', 'soft'])).trim();
    expect(JSON.parse(await ok(['--output', 'json', 'identity', 'show', 'bob'])).key_type).toBe('ed25519');
  });

  it('the identity in KMS issues a credential that verifies', async () => {
    const credential = (
      await ok(`credential issue --as alice --for ${bob} --attribute role=db --encoding hex`.split(' '))
    ).trim();
    const verified = JSON.parse(
      await ok(['--output', 'json', 'credential', 'verify', '--issuer', 'alice', '--credential', credential]),
    );
    expect(verified).toMatchObject({ valid: true, issuer: alice, subject: bob, attributes: { role: 'db' } });
  });

  it('a node with the identity in KMS accepts a secure channel and carries a TCP portal', async () => {
    let echo: Server | undefined;
    try {
      await ok(['node', 'create', 'n1', '--identity', 'alice']);
      await ok(['node', 'create', 'n2', '--identity', 'bob']);
      const channel = JSON.parse(
        await ok([
          '--output',
          'json',
          'secure-channel',
          'create',
          '--from',
          'n2',
          '--to',
          '/node/n1/service/api',
        ]),
      );
      expect(channel).toMatchObject({ peerIdentifier: alice, isOpen: true });

      echo = createServer((s) => s.pipe(s));
      await new Promise<void>((r) => echo!.listen(0, '127.0.0.1', r));
      const echoPort = (echo.address() as { port: number }).port;
      await ok(['tcp-outlet', 'create', '--at', 'n1', '--to', String(echoPort)]);
      const inletPort = await freePort();
      await ok([
        'tcp-inlet',
        'create',
        '--at',
        'n2',
        '--from',
        String(inletPort),
        '--to',
        '/node/n1/secure/api/service/outlet',
      ]);
      const payload = Buffer.from('bytes through a portal whose outlet node signs in KMS');
      const back = await new Promise<Buffer>((resolve, reject) => {
        const s = connect(inletPort, '127.0.0.1', () => s.write(payload));
        let got = Buffer.alloc(0);
        s.on('data', (d: Buffer) => {
          got = Buffer.concat([got, d]);
          if (got.length >= payload.length) {
            s.destroy();
            resolve(got);
          }
        });
        s.once('error', reject);
        s.setTimeout(30_000, () => reject(new Error('no echo through the portal within 30 s')));
      });
      expect(back).toEqual(payload);
    } finally {
      echo?.close();
    }
  });

  it('a KMS endpoint that is down gives a clear error and no identity is written', async () => {
    const port = await freePort();
    const r = await o(['identity', 'create', 'dave', '--vault', 'kms'], {
      AWS_ENDPOINT_URL_KMS: `http://127.0.0.1:${port}`,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`AWS KMS CreateKey failed \\(vault kms, http://127.0.0.1:${port}\\).*ECONNREFUSED`),
    );
    expect(await ok(['identity', 'list'])).not.toMatch(/dave/);
  });
});

import { connect, createServer, type Server } from 'node:net';
import { createSoftHsm, findSoftHsm, type SoftHsm, type SoftHsmToken } from '@ockam/vault-pkcs11/softhsm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ockam, tempHome } from './helpers.js';

const found = findSoftHsm();
const skip = 'missing' in found && !process.env.OCKAM_PKCS11_REQUIRED;
if (skip) console.log(`Skipping the PKCS#11 vault tests: ${(found as { missing: string }).missing}`);

const PIN = '246810';

/** Sends `text` through a TCP connection to `port` and resolves with what comes back once `text.length` bytes did. */
function echoThrough(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    socket.on('data', (d) => {
      got += d.toString();
      if (got.length >= text.length) {
        socket.end();
        resolve(got);
      }
    });
    socket.on('error', reject);
    socket.write(text);
  });
}

/** One line on stderr, saying what is wrong: the command's error, not a stack trace. */
const oneLineError = (stderr: string) =>
  stderr
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('Error: '));

describe.skipIf(skip)('vaults whose signing keys are in a PKCS#11 token (SoftHSM2)', () => {
  let hsm: SoftHsm;
  let token: SoftHsmToken;
  let pulled: SoftHsmToken;
  let home: string;
  let cleanup: () => Promise<void>;
  let echo: Server;
  let env: NodeJS.ProcessEnv;
  const o = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
    ockam(home, args, { env: { ...env, ...extra } });
  const library = () => ['--pkcs11-library', hsm.library];

  beforeAll(async () => {
    hsm = createSoftHsm();
    token = hsm.addToken('cli-token', PIN);
    pulled = hsm.addToken('pulled-out', PIN);
    env = { ...hsm.env, OCKAM_PKCS11_PIN: PIN };
    ({ home, cleanup } = tempHome());
    echo = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    expect((await o(['vault', 'create', 'soft'])).code).toBe(0);
    expect((await o(['identity', 'create', 'plain', '--vault', 'soft'])).code).toBe(0);
  });
  afterAll(async () => {
    echo?.close();
    await cleanup?.();
    hsm?.cleanup();
  });

  it('creates a vault in the token, an identity whose key is made there, and shows where the keys are', async () => {
    const created = await o(['vault', 'create', 'hsm', ...library(), '--token-label', token.label]);
    expect(created).toMatchObject({ code: 0, stdout: 'hsm\n' });
    const shown = JSON.parse((await o(['--output', 'json', 'vault', 'show', 'hsm'])).stdout);
    expect(shown.vault).toMatchObject({
      name: 'hsm',
      vault_type: { LocalFileVault: { use_aws_kms: 'No' } },
      signing_keys: { kind: 'pkcs11', library: hsm.library, tokenLabel: 'cli-token' },
    });
    expect(JSON.stringify(shown)).not.toContain(PIN);
    const listed = JSON.parse((await o(['--output', 'json', 'vault', 'list'])).stdout) as Array<{
      vault: { name: string; signing_keys?: unknown };
    }>;
    expect(listed.find((v) => v.vault.name === 'soft')?.vault.signing_keys).toBeUndefined();
    // By slot id too.
    expect((await o(['vault', 'create', 'by-slot', ...library(), '--slot', String(token.slot)])).code).toBe(
      0,
    );

    const alice = await o(['identity', 'create', 'alice', '--vault', 'hsm']);
    expect(alice).toMatchObject({ code: 0 });
    expect(alice.stdout).toMatch(/^I[0-9a-f]{64}\n$/);
    const full = await o(['identity', 'show', 'alice', '--full']);
    expect(full.stdout).toContain('EdDSACurve25519');
    const p256 = await o(['identity', 'create', 'bob', '--vault', 'by-slot', '--key-type', 'p256']);
    expect(p256.code).toBe(0);
    expect((await o(['identity', 'show', 'bob', '--full'])).stdout).toContain('ECDSASHA256CurveP256');
    // Their change histories verify: another home imports them only after verifying.
    const other = tempHome();
    try {
      for (const name of ['alice', 'bob']) {
        const hex = (await o(['identity', 'show', name, '--full', '--encoding', 'hex'])).stdout.trim();
        const imported = await ockam(other.home, ['identity', 'create', `${name}-copy`, '--identity', hex]);
        expect(imported.code, imported.stderr).toBe(0);
      }
    } finally {
      await other.cleanup();
    }
  });

  it('issues a credential signed in the token that verifies', async () => {
    const subject = (await o(['identity', 'show', 'plain'])).stdout.trim();
    for (const issuer of ['alice', 'bob']) {
      const credential = await o([
        'credential',
        'issue',
        '--as',
        issuer,
        '--for',
        subject,
        '--attribute',
        'role=db',
      ]);
      expect(credential.code, credential.stderr).toBe(0);
      const verified = await o([
        'credential',
        'verify',
        '--issuer',
        issuer,
        '--credential',
        credential.stdout.trim(),
      ]);
      expect(verified).toMatchObject({ code: 0, stdout: 'true\n' });
    }
  });

  it('runs a node whose identity key is in the token: a secure channel and a TCP portal carry bytes', async () => {
    expect((await o(['node', 'create', 'hsm-node', '--identity', 'alice'])).code).toBe(0);
    expect((await o(['node', 'create', 'soft-node', '--identity', 'plain'])).code).toBe(0);
    const alice = (await o(['identity', 'show', 'alice'])).stdout.trim();
    const plain = (await o(['identity', 'show', 'plain'])).stdout.trim();
    // Each way: the peer verifies the purpose key attestation alice's token signed.
    const out = await o([
      '--output',
      'json',
      'secure-channel',
      'create',
      '--from',
      'hsm-node',
      '--to',
      '/node/soft-node/service/api',
    ]);
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ peerIdentifier: plain, isOpen: true });
    const into = await o([
      '--output',
      'json',
      'secure-channel',
      'create',
      '--from',
      'soft-node',
      '--to',
      '/node/hsm-node/service/api',
    ]);
    expect(into.code, into.stderr).toBe(0);
    const channel = JSON.parse(into.stdout) as { peerIdentifier: string; route: string };
    expect(channel.peerIdentifier).toBe(alice);
    const sent = await o([
      'message',
      'send',
      'to the token node',
      '--from',
      'soft-node',
      '--to',
      `${channel.route}/service/uppercase`,
    ]);
    expect(sent).toMatchObject({ code: 0, stdout: 'TO THE TOKEN NODE\n' });
    const port = (echo.address() as { port: number }).port;
    expect((await o(['tcp-outlet', 'create', '--at', 'soft-node', '--to', String(port)])).code).toBe(0);
    const inletPort = await freePort();
    const inlet = await o([
      'tcp-inlet',
      'create',
      '--at',
      'hsm-node',
      '--from',
      String(inletPort),
      '--to',
      '/node/soft-node/secure/api/service/outlet',
    ]);
    expect(inlet.code, inlet.stderr).toBe(0);
    const text = 'bytes through a portal of a node whose key is in a token\n'.repeat(50);
    expect(await echoThrough(inletPort, text)).toBe(text);
  });

  it('makes P-256 identities by default in a token without Ed25519, and says why Ed25519 fails', async () => {
    const p256Only = createSoftHsm({ mechanisms: '-CKM_EC_EDWARDS_KEY_PAIR_GEN,CKM_EDDSA' });
    try {
      p256Only.addToken('no-eddsa', PIN);
      const e = { ...p256Only.env };
      expect(
        (await o(['vault', 'create', 'p256-hsm', ...library(), '--token-label', 'no-eddsa'], e)).code,
      ).toBe(0);
      expect((await o(['identity', 'create', 'frank', '--vault', 'p256-hsm'], e)).code).toBe(0);
      expect((await o(['identity', 'show', 'frank', '--full'], e)).stdout).toContain('ECDSASHA256CurveP256');
      const ed = await o(['identity', 'create', 'grace', '--vault', 'p256-hsm', '--key-type', 'ed25519'], e);
      expect(oneLineError(ed.stderr)[0]).toMatch(
        /^Error: The PKCS#11 token 'no-eddsa' .* cannot make ed25519 keys: it needs CKM_EC_EDWARDS_KEY_PAIR_GEN \(0x1055\) and CKM_EDDSA \(0x1057\)$/,
      );
    } finally {
      p256Only.cleanup();
    }
  });

  it('fails vault create and node start with one clear line for a wrong PIN or a missing token', async () => {
    const wrong = await o(['vault', 'create', 'bad-pin', ...library(), '--token-label', token.label], {
      OCKAM_PKCS11_PIN: '000000',
    });
    expect(wrong.code).not.toBe(0);
    // SoftHSM2 reports its retry counter as low after a wrong PIN, and the message says so.
    expect(oneLineError(wrong.stderr)).toEqual([
      `Error: Wrong PIN for the PKCS#11 token 'cli-token' (${hsm.library}) (CKR_PIN_INCORRECT): check OCKAM_PKCS11_PIN; the token has counted wrong PINs`,
    ]);
    expect(wrong.stderr).not.toContain('000000');
    const missing = await o(['vault', 'create', 'no-token', ...library(), '--token-label', 'nowhere']);
    expect(missing.code).not.toBe(0);
    expect(oneLineError(missing.stderr)[0]).toMatch(
      /^Error: No PKCS#11 token labelled 'nowhere' in .*libsofthsm2\.so \(tokens: .*'cli-token'/,
    );
    const badLibrary = await o([
      'vault',
      'create',
      'no-lib',
      '--pkcs11-library',
      '/nonexistent/lib.so',
      '--slot',
      '1',
    ]);
    expect(oneLineError(badLibrary.stderr)).toEqual([
      'Error: The PKCS#11 library /nonexistent/lib.so does not exist',
    ]);
    expect((await o(['vault', 'list'])).stdout).not.toMatch(/bad-pin|no-token|no-lib/);
    const both = await o(['vault', 'create', 'both', ...library(), '--slot', '1', '--token-label', 'x']);
    expect(oneLineError(both.stderr)).toEqual([
      'Error: --pkcs11-library needs exactly one of --slot and --token-label',
    ]);

    const node = await o(['node', 'create', 'wrong-pin-node', '--identity', 'alice'], {
      OCKAM_PKCS11_PIN: '000000',
    });
    expect(node.code).not.toBe(0);
    expect(oneLineError(node.stderr)).toHaveLength(1);
    expect(node.stderr).toMatch(/Wrong PIN for the PKCS#11 token 'cli-token'.*CKR_PIN_INCORRECT/);
    const noPin = await o(['node', 'create', 'no-pin-node', '--identity', 'alice'], { OCKAM_PKCS11_PIN: '' });
    expect(noPin.code).not.toBe(0);
    expect(noPin.stderr).toMatch(/set OCKAM_PKCS11_PIN \(or OCKAM_PKCS11_PIN_HSM\) to its user PIN/);
  });

  it('when the token is pulled out of a running node, new signatures fail clearly and software identities keep working', async () => {
    expect((await o(['vault', 'create', 'doomed', ...library(), '--token-label', pulled.label])).code).toBe(
      0,
    );
    expect((await o(['identity', 'create', 'carol', '--vault', 'doomed'])).code).toBe(0);
    expect((await o(['identity', 'create', 'dave', '--vault', 'doomed'])).code).toBe(0);
    expect((await o(['identity', 'create', 'erin', '--vault', 'soft'])).code).toBe(0);
    expect((await o(['node', 'create', 'carol-node', '--identity', 'carol'])).code).toBe(0);
    const to = ['--to', '/node/soft-node/service/api'];
    expect((await o(['secure-channel', 'create', '--from', 'carol-node', ...to])).code).toBe(0);

    pulled.remove();

    // Dave's purpose key has not been attested yet: that needs a signature from the token.
    const dave = await o(['secure-channel', 'create', '--from', 'carol-node', '--identity', 'dave', ...to]);
    expect(dave.code).not.toBe(0);
    expect(oneLineError(dave.stderr)).toHaveLength(1);
    expect(dave.stderr).toMatch(
      /PKCS#11 token labelled 'pulled-out'|PKCS#11 token 'pulled-out'.*not available any more/,
    );
    const issue = await o([
      'credential',
      'issue',
      '--as',
      'carol',
      '--for',
      (await o(['identity', 'show', 'erin'])).stdout.trim(),
    ]);
    expect(issue.code).not.toBe(0);
    expect(oneLineError(issue.stderr)[0]).toMatch(/PKCS#11 token .*'pulled-out'/);

    // A node cannot start with an identity whose token is gone.
    const start = await o(['node', 'create', 'carol-again', '--identity', 'carol']);
    expect(start.code).not.toBe(0);
    expect(oneLineError(start.stderr)).toHaveLength(1);
    expect(start.stderr).toMatch(/Node carol-again failed to start: No PKCS#11 token labelled 'pulled-out'/);

    // A software identity on the same node, and in the same home, carries on.
    const erin = await o(['secure-channel', 'create', '--from', 'carol-node', '--identity', 'erin', ...to]);
    expect(erin.code, erin.stderr).toBe(0);
    const sent = await o([
      'message',
      'send',
      'still here',
      '--from',
      'carol-node',
      '--to',
      `${erin.stdout.trim()}/service/uppercase`,
    ]);
    expect(sent).toMatchObject({ code: 0, stdout: 'STILL HERE\n' });
    // Carol's channel needs no new signature (X25519 stays in software): it still opens.
    expect((await o(['secure-channel', 'create', '--from', 'carol-node', ...to])).code).toBe(0);
    // And the other token's identities are unaffected.
    const credential = await o([
      'credential',
      'issue',
      '--as',
      'alice',
      '--for',
      (await o(['identity', 'show', 'erin'])).stdout.trim(),
    ]);
    expect(credential.code, credential.stderr).toBe(0);
  });
});

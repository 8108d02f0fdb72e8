import { createRequire } from 'node:module';
import { OckamError, type SigningKeyType } from '@ockam/core';
import { createVault, type SigningKeyBackend } from '@ockam/vault';
import type * as Pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEcPoint } from '../src/der.js';
import { openSigningKeyBackend, PIN_ENV, vaultPinEnv } from '../src/index.js';
import { createSoftHsm, findSoftHsm, type SoftHsm, type SoftHsmToken } from '../src/softhsm.js';

const found = findSoftHsm();
const skip = 'missing' in found && !process.env.OCKAM_PKCS11_REQUIRED;
if (skip) console.log(`Skipping the PKCS#11 tests: ${(found as { missing: string }).missing}`);

const PIN = '4321';
const software = createVault();
const hello = new TextEncoder().encode('hello from a token');

describe('parseEcPoint (bytes from the token)', () => {
  it('takes a DER OCTET STRING or a bare point of the exact size, and nothing else', () => {
    const ed = new Uint8Array(32).fill(7);
    expect(parseEcPoint(Uint8Array.of(0x04, 32, ...ed), 32)).toEqual(ed);
    expect(parseEcPoint(ed, 32)).toEqual(ed);
    const p = Uint8Array.of(0x04, ...new Uint8Array(64).fill(9));
    expect(parseEcPoint(Uint8Array.of(0x04, 65, ...p), 65)).toEqual(p);
    expect(parseEcPoint(p, 65)).toEqual(p);
    for (const bad of [
      new Uint8Array(0),
      Uint8Array.of(0x04),
      Uint8Array.of(0x04, 33, ...ed), // length byte lies
      Uint8Array.of(0x04, 0x81, 32, ...ed), // long form where a short one is due
      Uint8Array.of(0x04, 32, ...ed, 0), // trailing byte
      new Uint8Array(1 << 16), // big
    ])
      expect(() => parseEcPoint(bad, 32)).toThrow(/unexpected form/);
    expect(() => parseEcPoint(Uint8Array.of(0x04, 65, 0x02, ...new Uint8Array(64)), 65)).toThrow(
      /uncompressed/,
    );
    expect(() => parseEcPoint(Uint8Array.of(0x03, ...new Uint8Array(64)), 65)).toThrow(/unexpected form/);
  });
});

describe.skipIf(skip)('PKCS#11 signing keys in SoftHSM2', () => {
  let hsm: SoftHsm;
  let token: SoftHsmToken;
  let doomed: SoftHsmToken;
  let quiet: SoftHsmToken;
  const config = () => ({ kind: 'pkcs11', library: hsm.library, tokenLabel: token.label });
  const opened: SigningKeyBackend[] = [];
  const open = (c: Record<string, unknown> = config(), name = 'hsm') => {
    const b = openSigningKeyBackend({ kind: 'pkcs11', ...c }, name);
    opened.push(b);
    return b;
  };

  beforeAll(() => {
    hsm = createSoftHsm();
    token = hsm.addToken('ockam-test', PIN);
    doomed = hsm.addToken('doomed', PIN);
    // No session is ever logged in to this one: a login is shared by all of a process's sessions.
    quiet = hsm.addToken('quiet', PIN);
    process.env[PIN_ENV] = PIN;
  });
  afterAll(async () => {
    for (const b of opened) await b.close();
    hsm?.cleanup();
  });

  it('probes the mechanisms: SoftHSM2 makes Ed25519 and P-256 keys', () => {
    expect(open().types).toEqual(['ed25519', 'p256']);
  });

  it.each(['ed25519', 'p256'] as SigningKeyType[])(
    'generates a %s key in the token, signs, and our software vault verifies',
    async (type) => {
      const keys = open();
      const key = await keys.generateSigningKey(type);
      const publicKey = await keys.publicKey(key);
      expect(publicKey.length).toBe(type === 'ed25519' ? 32 : 65);
      expect(key.id).toBe(Buffer.from(software.sha256(publicKey)).toString('hex'));
      const signature = await keys.sign(key, hello);
      expect(signature.length).toBe(64);
      expect(await software.verify({ type, bytes: publicKey }, hello, signature)).toBe(true);
      expect(
        await software.verify({ type, bytes: publicKey }, new TextEncoder().encode('other'), signature),
      ).toBe(false);
    },
  );

  it('keeps private keys sensitive and never extractable: CKA_VALUE cannot be read', async () => {
    const keys = open();
    const key = await keys.generateSigningKey('p256');
    // A session of our own on the same (already initialised) library, to read the objects back.
    const p = createRequire(import.meta.url)('pkcs11js') as typeof Pkcs11js;
    const m = new p.PKCS11();
    m.load(hsm.library);
    expect(() => m.C_Initialize()).toThrow(/CKR_CRYPTOKI_ALREADY_INITIALIZED/);
    const slot = m.C_GetSlotList(true).find((s) => m.C_GetTokenInfo(s).label.trim() === token.label);
    if (slot === undefined) throw new Error('no slot');
    const session = m.C_OpenSession(slot, p.CKF_SERIAL_SESSION);
    try {
      m.C_FindObjectsInit(session, [
        { type: p.CKA_CLASS, value: p.CKO_PRIVATE_KEY },
        { type: p.CKA_ID, value: Buffer.from(key.id, 'hex') },
      ]);
      const [object] = m.C_FindObjects(session, 2);
      m.C_FindObjectsFinal(session);
      if (object === undefined) throw new Error('private key not found by CKA_ID');
      const flag = (type: number) => m.C_GetAttributeValue(session, object, [{ type }])[0]?.value?.[0];
      expect(flag(p.CKA_TOKEN)).toBe(1);
      expect(flag(p.CKA_PRIVATE)).toBe(1);
      expect(flag(p.CKA_SIGN)).toBe(1);
      expect(flag(p.CKA_SENSITIVE)).toBe(1);
      expect(flag(p.CKA_EXTRACTABLE)).toBe(0);
      expect(flag(p.CKA_ALWAYS_SENSITIVE)).toBe(1);
      expect(flag(p.CKA_NEVER_EXTRACTABLE)).toBe(1);
      expect(() => m.C_GetAttributeValue(session, object, [{ type: p.CKA_VALUE }])).toThrow(
        /CKR_ATTRIBUTE_SENSITIVE/,
      );
    } finally {
      m.C_CloseSession(session);
    }
  });

  it('finds keys again after reopening, by handle id, and deletes them', async () => {
    const first = open();
    const ed = await first.generateSigningKey('ed25519');
    const p256 = await first.generateSigningKey('p256');
    const publicKeys = [await first.publicKey(ed), await first.publicKey(p256)];
    await first.close();
    await expect(first.sign(ed, hello)).rejects.toThrow(/closed/);
    // By slot id this time: the same token.
    const again = open({ library: hsm.library, slot: token.slot });
    expect(await again.getKey(ed.id)).toEqual(ed);
    expect(await again.getKey(p256.id)).toEqual(p256);
    expect(await again.getKey('00'.repeat(32))).toBeUndefined();
    expect(await again.getKey('not an id')).toBeUndefined();
    for (const [i, key] of [ed, p256].entries()) {
      expect(await again.publicKey(key)).toEqual(publicKeys[i]);
      const bytes = publicKeys[i] as Uint8Array;
      expect(await software.verify({ type: key.type, bytes }, hello, await again.sign(key, hello))).toBe(
        true,
      );
    }
    expect(await again.deleteKey(ed)).toBe(true);
    expect(await again.deleteKey(ed)).toBe(false);
    expect(await again.getKey(ed.id)).toBeUndefined();
    await expect(again.sign(ed, hello)).rejects.toThrow(/No ed25519 key/);
  });

  it('serialises concurrent calls on its one session', async () => {
    const keys = open();
    const [a, b] = await Promise.all([keys.generateSigningKey('ed25519'), keys.generateSigningKey('p256')]);
    if (a === undefined || b === undefined) throw new Error('no keys');
    const pa = await keys.publicKey(a);
    const pb = await keys.publicKey(b);
    const messages = Array.from({ length: 40 }, (_, i) => new TextEncoder().encode(`message ${i}`));
    const signatures = await Promise.all(messages.map((m, i) => keys.sign(i % 2 ? b : a, m)));
    for (const [i, m] of messages.entries())
      expect(
        await software.verify(
          { type: i % 2 ? 'p256' : 'ed25519', bytes: i % 2 ? pb : pa },
          m,
          signatures[i] as Uint8Array,
        ),
      ).toBe(true);
  });

  it('shares the library between backends: closing one leaves the other working', async () => {
    const one = open();
    const two = open(config(), 'other');
    const key = await two.generateSigningKey('ed25519');
    await one.close();
    const publicKey = await two.publicKey(key);
    expect(
      await software.verify({ type: 'ed25519', bytes: publicKey }, hello, await two.sign(key, hello)),
    ).toBe(true);
  });

  it('refuses a wrong PIN clearly, without showing it, and prefers the vault’s own PIN variable', () => {
    const own = vaultPinEnv('my-hsm');
    expect(own).toBe('OCKAM_PKCS11_PIN_MY_HSM');
    process.env[own] = '999999';
    try {
      const error = (() => {
        try {
          open({ library: hsm.library, tokenLabel: quiet.label }, 'my-hsm');
        } catch (e) {
          return e;
        }
      })();
      expect(OckamError.isKind(error, 'permission', 'vault')).toBe(true);
      expect((error as Error).message).toMatch(
        /Wrong PIN for the PKCS#11 token 'quiet'.*CKR_PIN_INCORRECT.*OCKAM_PKCS11_PIN_MY_HSM/,
      );
      expect((error as Error).message).not.toContain('999999');
      // SoftHSM2 sets CKF_USER_PIN_COUNT_LOW after a wrong login; a token near locking is worth a word.
      expect((error as Error).message).toMatch(/; the token has counted wrong PINs$/);
    } finally {
      delete process.env[own];
    }
    delete process.env[PIN_ENV];
    try {
      expect(() => open()).toThrow(/set OCKAM_PKCS11_PIN \(or OCKAM_PKCS11_PIN_HSM\) to its user PIN/);
    } finally {
      process.env[PIN_ENV] = PIN;
    }
  });

  it('says which token, slot or library is missing', () => {
    expect(() => open({ library: hsm.library, tokenLabel: 'nope' })).toThrow(
      /No PKCS#11 token labelled 'nope' in .*libsofthsm2.so \(tokens: .*'ockam-test'/,
    );
    expect(() => open({ library: hsm.library, slot: 424242 })).toThrow(/No PKCS#11 token in slot 424242/);
    expect(() => open({ library: '/nonexistent/libpkcs11.so', tokenLabel: 'x' })).toThrow(
      /The PKCS#11 library \/nonexistent\/libpkcs11.so does not exist/,
    );
    expect(() => open({ library: '/etc/hostname', tokenLabel: 'x' })).toThrow(
      /Cannot load the PKCS#11 library \/etc\/hostname/,
    );
    expect(() => open({ library: hsm.library })).toThrow(/exactly one of a PKCS#11 slot and a token label/);
    expect(() => open({ library: hsm.library, slot: 1, tokenLabel: 'x' })).toThrow(/exactly one/);
  });

  it('fails clearly when the token is removed while a session is open', async () => {
    const keys = open({ library: hsm.library, tokenLabel: doomed.label });
    const key = await keys.generateSigningKey('p256');
    expect((await keys.sign(key, hello)).length).toBe(64);
    doomed.remove();
    await expect(keys.sign(key, hello)).rejects.toThrow(
      /The PKCS#11 token 'doomed' .* is not available any more \(CKR_TOKEN_NOT_PRESENT\) while signing/,
    );
    // The next call looks for the token again, and says it is not there.
    await expect(keys.sign(key, hello)).rejects.toThrow(/No PKCS#11 token labelled 'doomed'/);
    // Other tokens of the same library are unaffected.
    const other = open();
    const k = await other.generateSigningKey('ed25519');
    expect((await other.sign(k, hello)).length).toBe(64);
  });
});

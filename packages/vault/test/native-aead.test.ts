import { createCipheriv, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createVault } from '../src/index.js';
import { nativeAeadStatus, nodeCryptoPrimitives, nodePrimitives } from '../src/internal/node-primitives.js';

// The optional native AEAD (native/aead.c) must be what the node backend runs on wherever it can be
// built, which includes CI (.ci/run installs a compiler); OCKAM_VAULT_NATIVE_AEAD=0 turns it off.
const disabled = process.env.OCKAM_VAULT_NATIVE_AEAD === '0';
if (disabled) console.log(`native AEAD tests skipped: ${nativeAeadStatus().reason}`);

const algorithms = [
  ['aes-256-gcm', 32],
  ['aes-256-gcm', 16],
  ['aes-256-gcm', 24],
  ['chacha20-poly1305', 32],
] as const;

describe.skipIf(disabled)('native AEAD (node backend)', () => {
  it('is built and loaded', () => {
    const status = nativeAeadStatus();
    expect(status, 'run `node packages/vault/scripts/build-native.mjs` to see why').toMatchObject({
      loaded: true,
      reason: 'loaded',
    });
    const addon = createRequire(import.meta.url)('../build/Release/ockam_aead.node');
    expect(status.vaes).toBe(addon.vaes === true && process.env.OCKAM_VAULT_VAES !== '0');
    console.log(
      `AES-256-GCM runs on ${status.vaes ? 'the addon’s VAES code' : 'OpenSSL'} (CPU has VAES and VPCLMULQDQ: ${addon.vaes})`,
    );
  });

  for (const [algorithm, keyLength] of algorithms) {
    it(`gives node:crypto's bytes for ${algorithm} with a ${keyLength}-byte key, whole and in parts`, () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: keyLength, maxLength: keyLength }),
          fc.uint8Array({ minLength: 12, maxLength: 12 }),
          fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 5 }),
          fc.uint8Array({ maxLength: 40 }),
          (key, nonce, parts, aad) => {
            const native = nodePrimitives.aead(algorithm, key);
            const reference = nodeCryptoPrimitives.aead(algorithm, key);
            const plaintext = Buffer.concat(parts);
            const sealed = native.encrypt(nonce, plaintext, aad);
            expect(Buffer.from(sealed)).toEqual(Buffer.from(reference.encrypt(nonce, plaintext, aad)));
            expect(Buffer.concat(native.encryptParts!(nonce, parts, aad))).toEqual(Buffer.from(sealed));
            expect(Buffer.from(native.decrypt(nonce, sealed, aad)!)).toEqual(plaintext);
            expect(Buffer.from(reference.decrypt(nonce, sealed, aad)!)).toEqual(plaintext);
            native.dispose?.();
          },
        ),
        { numRuns: 150 },
      );
    });
  }

  it('refuses a flipped bit anywhere, a wrong nonce or AAD, and a short input, without plaintext', () => {
    const key = new Uint8Array(randomBytes(32));
    const aead = nodePrimitives.aead('aes-256-gcm', key);
    const nonce = new Uint8Array(12).fill(3);
    const aad = Uint8Array.of(1, 2);
    const plaintext = new Uint8Array(randomBytes(1000));
    const sealed = aead.encrypt(nonce, plaintext, aad);
    for (const i of [0, 500, 999, 1000, 1015]) {
      const bad = sealed.slice();
      bad[i]! ^= 1;
      expect(aead.decrypt(nonce, bad, aad)).toBeUndefined();
    }
    expect(aead.decrypt(new Uint8Array(12), sealed, aad)).toBeUndefined();
    expect(aead.decrypt(nonce, sealed, new Uint8Array(0))).toBeUndefined();
    expect(aead.decrypt(nonce, sealed.subarray(0, 15), aad)).toBeUndefined();
    // The key still works after all those failures.
    expect(Buffer.from(aead.decrypt(nonce, sealed, aad)!)).toEqual(Buffer.from(plaintext));
  });

  it('frees the key at delete: the vault refuses it, the prepared key throws instead of using freed memory', () => {
    const vault = createVault('node');
    const key = vault.aeadKey(vault.importSecret(new Uint8Array(32)));
    const nonce = new Uint8Array(12);
    expect(vault.aeadEncrypt(key, nonce, Uint8Array.of(1), new Uint8Array(0)).length).toBe(17);
    vault.deleteSecret(key);
    expect(() => vault.aeadEncrypt(key, nonce, Uint8Array.of(1), new Uint8Array(0))).toThrow(/no AEAD key/);
    const prepared = nodePrimitives.aead('aes-256-gcm', new Uint8Array(32));
    prepared.dispose?.();
    prepared.dispose?.();
    expect(() => prepared.encrypt(nonce, Uint8Array.of(1), new Uint8Array(0))).toThrow(/deleted/);
  });

  it('checks every argument of the raw addon before touching memory', () => {
    const addon = createRequire(import.meta.url)('../build/Release/ockam_aead.node');
    const h = addon.create(0, new Uint8Array(32));
    const nonce = new Uint8Array(12);
    const none = new Uint8Array(0);
    expect(() => addon.create(2, new Uint8Array(32))).toThrow(RangeError);
    expect(() => addon.create(0, new Uint8Array(31))).toThrow(RangeError);
    expect(() => addon.create(1, new Uint8Array(16))).toThrow(RangeError);
    expect(() => addon.create(0, 'key')).toThrow(TypeError);
    expect(() => addon.seal(h, nonce, new Uint8Array(10), none, new Uint8Array(25), 0)).toThrow(/no room/);
    expect(() => addon.seal(h, nonce, new Uint8Array(10), none, new Uint8Array(26), 1)).toThrow(/no room/);
    expect(() => addon.seal(h, nonce, new Uint8Array(10), none, new Uint8Array(26), 27)).toThrow(/offset/);
    expect(() => addon.seal(h, nonce, new Uint8Array(10), none, new Uint8Array(26), -1)).toThrow(/offset/);
    expect(() => addon.seal(h, new Uint8Array(8), new Uint8Array(1), none, new Uint8Array(17), 0)).toThrow(
      /12-byte/,
    );
    expect(() => addon.seal(h, nonce, [new Uint8Array(1), 'x'], none, new Uint8Array(17), 0)).toThrow(
      TypeError,
    );
    expect(() => addon.seal(h, nonce, new Uint16Array(1), none, new Uint8Array(18), 0)).toThrow(TypeError);
    expect(() => addon.seal({}, nonce, new Uint8Array(1), none, new Uint8Array(17), 0)).toThrow(/handle/);
    expect(() => addon.open(h, nonce, new Uint8Array(40), none, new Uint8Array(23))).toThrow(/no room/);
    expect(addon.open(h, nonce, new Uint8Array(15), none, new Uint8Array(0))).toBe(false);
    const out = new Uint8Array(26);
    addon.seal(h, nonce, new Uint8Array(10).fill(7), none, out, 0);
    const plain = new Uint8Array(10);
    expect(addon.open(h, nonce, out, none, plain)).toBe(true);
    expect([...plain]).toEqual(new Array(10).fill(7));
    out[3]! ^= 1;
    expect(addon.open(h, nonce, out, none, plain)).toBe(false);
    expect([...plain]).toEqual(new Array(10).fill(0)); // wiped, never unauthenticated plaintext
    addon.destroy(h);
    expect(() => addon.seal(h, nonce, new Uint8Array(1), none, new Uint8Array(17), 0)).toThrow(/destroyed/);
  });

  it('opens ciphertext in parts cut anywhere (the tag too), and refuses overlap and too many parts', () => {
    const addon = createRequire(import.meta.url)('../build/Release/ockam_aead.node');
    const h = addon.create(0, new Uint8Array(32).fill(5));
    const nonce = new Uint8Array(12).fill(1);
    const none = new Uint8Array(0);
    const plaintext = new Uint8Array(randomBytes(100));
    const sealed = new Uint8Array(116);
    addon.seal(h, nonce, plaintext, none, sealed, 0);
    for (const cuts of [
      [0],
      [1],
      [99],
      [100],
      [101],
      [108],
      [115],
      [116],
      [3, 50, 107, 113],
      [100, 100, 100],
    ]) {
      const parts = [];
      let at = 0;
      for (const cut of [...cuts, 116]) {
        parts.push(sealed.subarray(at, cut));
        at = cut;
      }
      const out = new Uint8Array(100);
      expect(addon.open(h, nonce, parts, none, out), `cut at ${cuts}`).toBe(true);
      expect(Buffer.from(out)).toEqual(Buffer.from(plaintext));
      const bad = parts.map((p) => p.slice());
      bad.at(-1)![bad.at(-1)!.length - 1]! ^= 0x80; // the tag's last byte, wherever it landed
      if (bad.at(-1)!.length === 0) continue;
      expect(addon.open(h, nonce, bad, none, out)).toBe(false);
      expect(out.every((b) => b === 0)).toBe(true);
    }
    // In place is allowed for one buffer only; an output overlapping a part otherwise is refused.
    const copy = sealed.slice();
    expect(addon.open(h, nonce, copy, none, copy.subarray(0, 100))).toBe(true);
    expect(Buffer.from(copy.subarray(0, 100))).toEqual(Buffer.from(plaintext));
    const both = sealed.slice();
    expect(() =>
      addon.open(h, nonce, [both.subarray(0, 50), both.subarray(50)], none, both.subarray(0, 100)),
    ).toThrow(/overlaps/);
    expect(() => addon.open(h, nonce, both.subarray(8), none, both.subarray(0, 100))).toThrow(/overlaps/);
    const wide = new Uint8Array(200);
    wide.set(plaintext, 0);
    expect(() => addon.seal(h, nonce, wide.subarray(0, 100), none, wide, 4)).toThrow(/overlaps/);
    expect(() => addon.seal(h, nonce, [wide.subarray(0, 100)], none, wide, 50)).toThrow(/overlaps/);
    const pieces = Array.from({ length: 65 }, () => new Uint8Array(2));
    expect(() => addon.open(h, nonce, pieces, none, new Uint8Array(200))).toThrow(/64 parts/);
    expect(() => addon.seal(h, nonce, pieces, none, new Uint8Array(200), 0)).toThrow(
      /plaintext has more than 64 parts/,
    );
    expect(() => addon.open(h, nonce, [sealed, 'x'], none, new Uint8Array(200))).toThrow(TypeError);
    addon.destroy(h);
  });
});

// native/gcm_vaes.c: AES-256-GCM of our own on VAES and VPCLMULQDQ. It must give OpenSSL's bytes
// for every length, cut and AAD, open what OpenSSL seals, and refuse (and wipe) anything tampered.
const addon = disabled ? undefined : createRequire(import.meta.url)('../build/Release/ockam_aead.node');
const vaes = addon?.vaes === true;
if (!disabled && !vaes)
  console.log('VAES AES-GCM tests skipped: this CPU lacks VAES or VPCLMULQDQ (OpenSSL runs instead)');

describe.skipIf(!vaes)('AES-256-GCM on VAES (native/gcm_vaes.c)', () => {
  const none = new Uint8Array(0);
  const seal = (
    handle: object,
    nonce: Uint8Array,
    parts: Uint8Array | Uint8Array[],
    aad: Uint8Array,
    length: number,
  ) => {
    const out = new Uint8Array(length + 16);
    addon.seal(handle, nonce, parts, aad, out, 0);
    return out;
  };
  const cutAt = (bytes: Uint8Array, cuts: number[]): Uint8Array[] => {
    const out: Uint8Array[] = [];
    let at = 0;
    for (const c of [...cuts.map((x) => Math.min(x, bytes.length)).sort((a, b) => a - b), bytes.length]) {
      out.push(bytes.subarray(at, c));
      at = c;
    }
    return out;
  };

  it('seals every length from 0 to 600 bytes, and 48/64 KiB ones, exactly as OpenSSL does, whole and cut', () => {
    const key = new Uint8Array(randomBytes(32));
    const fast = addon.create(0, key, true);
    const openssl = addon.create(0, key, false);
    const lengths = [
      ...Array.from({ length: 601 }, (_, i) => i),
      4095,
      4096,
      4097,
      49_152,
      49_169,
      65_536 + 64,
    ];
    for (const length of lengths) {
      const nonce = new Uint8Array(randomBytes(12));
      const aad = new Uint8Array(randomBytes(length % 3 === 0 ? 0 : length % 37));
      const plaintext = new Uint8Array(randomBytes(length));
      const expected = seal(openssl, nonce, plaintext, aad, length);
      const reference = createCipheriv('aes-256-gcm', key, nonce);
      reference.setAAD(aad);
      const viaNode = Buffer.concat([reference.update(plaintext), reference.final(), reference.getAuthTag()]);
      expect(Buffer.compare(Buffer.from(expected), viaNode), `OpenSSL at ${length}`).toBe(0);
      expect(
        Buffer.compare(seal(fast, nonce, plaintext, aad, length), expected),
        `whole, ${length} bytes`,
      ).toBe(0);
      const cuts = [length % 17, (length * 7) % (length + 1), length - (length % 5)];
      const parts = cutAt(plaintext, cuts);
      expect(Buffer.compare(seal(fast, nonce, parts, aad, length), expected), `cut at ${cuts}`).toBe(0);
      // It opens OpenSSL's output, whole, cut, and in place.
      const back = new Uint8Array(length);
      expect(
        addon.open(
          fast,
          nonce,
          cutAt(
            expected,
            cuts.map((c) => c + 9),
          ),
          aad,
          back,
        ),
      ).toBe(true);
      expect(Buffer.compare(back, plaintext)).toBe(0);
      const inPlace = expected.slice();
      expect(addon.open(fast, nonce, inPlace, aad, inPlace.subarray(0, length))).toBe(true);
      expect(Buffer.compare(inPlace.subarray(0, length), plaintext)).toBe(0);
    }
    addon.destroy(fast);
    addon.destroy(openssl);
  });

  it('agrees with OpenSSL on random keys, nonces, AAD and cuts (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.array(fc.uint8Array({ maxLength: 1500 }), { maxLength: 6 }),
        fc.uint8Array({ maxLength: 70 }),
        (key, nonce, parts, aad) => {
          const fast = addon.create(0, key, true);
          const openssl = addon.create(0, key, false);
          const length = parts.reduce((n, p) => n + p.length, 0);
          const sealed = seal(fast, nonce, parts, aad, length);
          expect(Buffer.compare(sealed, seal(openssl, nonce, Buffer.concat(parts), aad, length))).toBe(0);
          const back = new Uint8Array(length);
          expect(addon.open(openssl, nonce, sealed, aad, back)).toBe(true);
          expect(addon.open(fast, nonce, cutAt(sealed, [length >> 1, length + 3]), aad, back)).toBe(true);
          expect(Buffer.compare(back, Buffer.concat(parts))).toBe(0);
          addon.destroy(fast);
          addon.destroy(openssl);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses a flipped bit anywhere, another nonce or AAD, and wipes what it wrote', () => {
    const key = new Uint8Array(randomBytes(32));
    const fast = addon.create(0, key, true);
    const nonce = new Uint8Array(randomBytes(12));
    const aad = Uint8Array.of(1, 2, 3);
    const plaintext = new Uint8Array(randomBytes(5000));
    const sealed = seal(fast, nonce, plaintext, aad, 5000);
    for (const i of [0, 15, 16, 255, 256, 4999, 5000, 5015]) {
      const bad = sealed.slice();
      bad[i]! ^= 0x40;
      const out = new Uint8Array(5000).fill(7);
      expect(addon.open(fast, nonce, cutAt(bad, [300]), aad, out), `bit at byte ${i}`).toBe(false);
      expect(out.every((b) => b === 0)).toBe(true);
    }
    const out = new Uint8Array(5000);
    expect(addon.open(fast, new Uint8Array(12), sealed, aad, out)).toBe(false);
    expect(addon.open(fast, nonce, sealed, none, out)).toBe(false);
    expect(addon.open(fast, nonce, sealed, aad, out)).toBe(true); // the key still works
    expect(Buffer.compare(out, plaintext)).toBe(0);
    addon.destroy(fast);
    expect(() => seal(fast, nonce, plaintext, aad, 5000)).toThrow(/destroyed/);
  });
});

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
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
    expect(status, 'run `node packages/vault/scripts/build-native.mjs` to see why').toEqual({
      loaded: true,
      reason: 'loaded',
    });
    const addon = createRequire(import.meta.url)('../build/Release/ockam_aead.node');
    expect(Object.keys(addon).sort()).toEqual(['create', 'destroy', 'open', 'seal']);
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

/**
 * The addon compiled from test/fixtures/foreign-external.c: native code other than the vault's,
 * making an external that is not a vault key handle. Built with cc against the running Node's
 * headers (found as scripts/build-native.mjs finds them).
 */
function foreignAddon(): { make(): object } {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  const nodedir = [process.env.npm_config_nodedir, prefix].find(
    (d) => d !== undefined && existsSync(path.join(d, 'include', 'node', 'node_api.h')),
  );
  if (nodedir === undefined) throw new Error(`no Node.js headers under ${prefix}/include/node`);
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'ockam-foreign-')), 'foreign.node');
  const source = fileURLToPath(new URL('./fixtures/foreign-external.c', import.meta.url));
  execFileSync('cc', [
    '-shared',
    '-fPIC',
    '-O1',
    `-I${path.join(nodedir, 'include', 'node')}`,
    source,
    '-o',
    out,
  ]);
  return createRequire(import.meta.url)(out);
}

describe.skipIf(disabled)('native AEAD against in-process code', () => {
  const load = () => createRequire(import.meta.url)('../build/Release/ockam_aead.node');
  const none = new Uint8Array(0);
  const nonce = new Uint8Array(12).fill(9);
  /** A copy of `parts` whose element `at` is a getter that runs `effect` and then returns it. */
  const withGetter = (parts: Uint8Array[], at: number, effect: () => void): Uint8Array[] => {
    const array = [...parts];
    Object.defineProperty(array, at, {
      get() {
        effect();
        return parts[at];
      },
      enumerable: true,
    });
    return array;
  };
  /** Detaches `bytes`' ArrayBuffer (its memory goes to the clone; `bytes` becomes empty). */
  const detach = (bytes: Uint8Array) =>
    structuredClone(bytes.buffer, { transfer: [bytes.buffer as ArrayBuffer] });
  /** Two parts, each in its own ArrayBuffer, and their sealed form in two parts too. */
  const fixture = (addon: ReturnType<typeof load>, h: object) => {
    const plain = [new Uint8Array(randomBytes(40)), new Uint8Array(randomBytes(24))];
    const sealed = new Uint8Array(64 + 16);
    addon.seal(h, nonce, plain, none, sealed, 0);
    const cut = [sealed.slice(0, 30), sealed.slice(30)];
    return { plain, cut };
  };

  it('refuses parts whose getter detaches or shrinks the output, without writing to it', () => {
    const addon = load();
    const h = addon.create(0, new Uint8Array(32).fill(1));
    const { plain, cut } = fixture(addon, h);
    let out = new Uint8Array(80);
    expect(() =>
      addon.seal(
        h,
        nonce,
        withGetter(plain, 1, () => detach(out)),
        none,
        out,
        0,
      ),
    ).toThrow(/no room/);
    out = new Uint8Array(64);
    expect(() =>
      addon.open(
        h,
        nonce,
        withGetter(cut, 1, () => detach(out)),
        none,
        out,
      ),
    ).toThrow(/no room/);
    const resizable = new ArrayBuffer(80, { maxByteLength: 80 });
    const tracking = new Uint8Array(resizable); // follows the buffer's length
    expect(() =>
      addon.seal(
        h,
        nonce,
        withGetter(plain, 1, () => resizable.resize(8)),
        none,
        tracking,
        0,
      ),
    ).toThrow(/no room/);
    expect([...tracking]).toEqual(new Array(8).fill(0));
    // The key still works.
    const back = new Uint8Array(64);
    expect(addon.open(h, nonce, cut, none, back)).toBe(true);
    expect(Buffer.from(back)).toEqual(Buffer.concat(plain));
    addon.destroy(h);
  });

  it('refuses parts whose getter detaches or resizes a part fetched before it', () => {
    const addon = load();
    const h = addon.create(1, new Uint8Array(32).fill(2));
    const { plain, cut } = fixture(addon, h);
    const out = new Uint8Array(80);
    expect(() =>
      addon.seal(
        h,
        nonce,
        withGetter(plain, 1, () => detach(plain[0]!)),
        none,
        out,
        0,
      ),
    ).toThrow(/plaintext changed size/);
    expect(out.every((b) => b === 0)).toBe(true);
    expect(() =>
      addon.open(
        h,
        nonce,
        withGetter(cut, 1, () => detach(cut[0]!)),
        none,
        new Uint8Array(64),
      ),
    ).toThrow(/ciphertext changed size/);
    const resizable = new ArrayBuffer(40, { maxByteLength: 400 });
    const first = new Uint8Array(resizable);
    expect(() =>
      addon.seal(
        h,
        nonce,
        withGetter([first, plain[1]!], 1, () => resizable.resize(400)),
        none,
        out,
        0,
      ),
    ).toThrow(TypeError);
    addon.destroy(h);
  });

  it('refuses parts whose getter destroys the key or throws, and parts that are not an array', () => {
    const addon = load();
    const h = addon.create(0, new Uint8Array(32).fill(3));
    const { plain, cut } = fixture(addon, h);
    const out = new Uint8Array(80);
    const boom = new Error('a getter threw');
    expect(() =>
      addon.seal(
        h,
        nonce,
        withGetter(plain, 1, () => {
          throw boom;
        }),
        none,
        out,
        0,
      ),
    ).toThrow(boom);
    expect(out.every((b) => b === 0)).toBe(true);
    expect(() => addon.seal(h, nonce, new Proxy(plain, {}), none, out, 0)).toThrow(TypeError);
    expect(() => addon.seal(h, nonce, { length: 1, 0: plain[0] }, none, out, 0)).toThrow(TypeError);
    expect(() =>
      addon.open(
        h,
        nonce,
        withGetter(cut, 1, () => addon.destroy(h)),
        none,
        out,
      ),
    ).toThrow(/destroyed/);
    expect(() => addon.seal(h, nonce, plain, none, out, 0)).toThrow(/destroyed/);
  });

  it('takes no external for a key handle but its own: another addon’s is refused with a TypeError', () => {
    const addon = load();
    const foreign = foreignAddon().make();
    const out = new Uint8Array(80);
    const message = /not one made by this addon/;
    expect(() => addon.seal(foreign, nonce, new Uint8Array(64), none, out, 0)).toThrow(TypeError);
    expect(() => addon.seal(foreign, nonce, new Uint8Array(64), none, out, 0)).toThrow(message);
    expect(() => addon.open(foreign, nonce, out, none, new Uint8Array(64))).toThrow(message);
    expect(() => addon.destroy(foreign)).toThrow(message);
    expect(() => addon.destroy({})).toThrow(message);
    // Its own handles still work after all that.
    const h = addon.create(0, new Uint8Array(32));
    addon.seal(h, nonce, new Uint8Array(64), none, out, 0);
    expect(addon.open(h, nonce, out, none, new Uint8Array(64))).toBe(true);
    addon.destroy(h);
  });
});

import { createCipheriv } from 'node:crypto';
import { fromHex, OckamError, toHex, type Vault } from '@ockam/core';
import { beforeEach, describe, expect, it } from 'vitest';
import { Decryptor } from '../src/decryptor.js';
import { Encryptor } from '../src/encryptor.js';
import { BACKENDS, vaultFor } from './helpers.js';

const K0 = fromHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');

/** Independent model of PROTOCOL.md §3.3 on node:crypto. */
function aesGcm(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const c = createCipheriv('aes-256-gcm', key, nonce);
  const out = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
  return new Uint8Array(out);
}
function referenceRekey(k: Uint8Array): Uint8Array {
  return aesGcm(k, fromHex('00000000ffffffffffffffff'), new Uint8Array(32)).subarray(0, 32);
}
function referenceFrame(keys: Uint8Array[], n: number, plaintext: Uint8Array): Uint8Array {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setBigUint64(4, BigInt(n));
  return new Uint8Array([...nonce.subarray(4), ...aesGcm(keys[Math.floor(n / 32)]!, nonce, plaintext)]);
}

function isProtocolError(e: unknown): boolean {
  return OckamError.isKind(e, 'protocol', 'channel');
}

for (const backend of BACKENDS) {
  describe(`data phase on the ${backend} vault`, () => {
    let vault: Vault;
    const key = () => vault.aeadKey(vault.importSecret(K0));
    beforeEach(() => {
      vault = vaultFor(backend);
    });

    it('frames carry the 8-byte big-endian nonce and match an independent AES-GCM computation, rekeying every 32', () => {
      const keys = [K0];
      for (let i = 1; i < 5; i++) keys.push(referenceRekey(keys[i - 1]!));
      const enc = new Encryptor(vault, key());
      for (let n = 0; n < 150; n++) {
        const pt = new TextEncoder().encode(`message ${n}`);
        const frame = enc.encrypt(pt);
        expect(toHex(frame.subarray(0, 8))).toBe(n.toString(16).padStart(16, '0'));
        expect(toHex(frame)).toBe(toHex(referenceFrame(keys, n, pt)));
      }
      expect(enc.nonce).toBe(150n);
    });

    it('encryptToParts gives the same frames as pieces, nonce first, across rekeys', () => {
      const keys = [K0];
      for (let i = 1; i < 3; i++) keys.push(referenceRekey(keys[i - 1]!));
      const enc = new Encryptor(vault, key());
      const dec = new Decryptor(vault, key());
      for (let n = 0; n < 70; n++) {
        const head = new TextEncoder().encode(`head ${n}`);
        const body = new Uint8Array(n * 100).fill(n);
        const pieces = enc.encryptToParts([head, new Uint8Array(0), body, Uint8Array.of(0x40)]);
        expect(toHex(pieces[0]!)).toBe(n.toString(16).padStart(16, '0'));
        const frame = new Uint8Array(pieces.reduce((len, p) => len + p.length, 0));
        let o = 0;
        for (const p of pieces) {
          frame.set(p, o);
          o += p.length;
        }
        const pt = new Uint8Array(head.length + body.length + 1);
        pt.set(head);
        pt.set(body, head.length);
        pt[pt.length - 1] = 0x40;
        expect(toHex(frame)).toBe(toHex(referenceFrame(keys, n, pt)));
        expect(dec.decrypt(frame)).toEqual(pt);
      }
    });

    it('encryptPooled gives the same frames in reused memory, given back once however often released', () => {
      const keys = [K0];
      for (let i = 1; i < 3; i++) keys.push(referenceRekey(keys[i - 1]!));
      const enc = new Encryptor(vault, key());
      const dec = new Decryptor(vault, key());
      const seen = new Set<ArrayBufferLike>();
      for (let n = 0; n < 70; n++) {
        const body = new Uint8Array(n * 700).fill(n);
        const { frame, release } = enc.encryptPooled([Uint8Array.of(n), body]);
        const pt = new Uint8Array(1 + body.length).fill(n);
        expect(Buffer.compare(frame, referenceFrame(keys, n, pt))).toBe(0);
        expect(Buffer.compare(dec.decrypt(frame), pt)).toBe(0);
        if (frame.length >= 4096) seen.add(frame.buffer);
        release();
        release(); // a second release must not hand the memory to two frames
      }
      if (backend === 'node') {
        // One slot served every frame of 4 KiB or more; two frames held at once never share memory.
        expect(seen.size).toBe(1);
        const a = enc.encryptPooled([new Uint8Array(10)]);
        const b = enc.encryptPooled([new Uint8Array(10)]);
        expect(a.frame.buffer).not.toBe(b.frame.buffer);
        a.release();
        b.release();
        // A small frame, and one larger than a slot, get memory of their own, exactly their size.
        const small = enc.encryptPooled([new Uint8Array(100)]);
        expect(small.frame.byteLength).toBe(124);
        expect(small.frame.buffer.byteLength).toBe(124);
        const big = enc.encryptPooled([new Uint8Array(100_000)]);
        expect(big.frame.length).toBe(100_024);
        expect(dec.decrypt(big.frame)).toEqual(new Uint8Array(100_000));
        big.release();
      }
    });

    it('decrypts a frame given in parts cut anywhere, the nonce too, without changing them', () => {
      const enc = new Encryptor(vault, key());
      const dec = new Decryptor(vault, key(), { inPlace: true });
      for (let n = 0; n < 40; n++) {
        const pt = new Uint8Array(3000 + n).map((_, i) => (i * n) & 0xff);
        const frame = enc.encrypt(pt);
        const cuts = [
          [3],
          [8],
          [9, 100],
          [1500, 1501, 3010],
          [frame.length - 16],
          [frame.length - 5, frame.length],
        ][n % 6]!;
        const parts: Uint8Array[] = [];
        let at = 0;
        for (const c of [...cuts, frame.length]) {
          parts.push(frame.subarray(at, c));
          at = c;
        }
        const copy = frame.slice();
        if (n % 5 === 4) {
          // A forged frame in parts is refused and leaves the window as it was.
          const bad = parts.map((p) => p.slice());
          const tail = bad.findLast((p) => p.length > 0)!;
          tail[tail.length - 1]! ^= 1; // the tag's last byte
          expect(() => dec.decrypt(bad)).toThrow(/failed authentication/);
        }
        const { plaintext, nonce } = dec.decryptFrame(parts);
        expect(nonce).toBe(BigInt(n));
        expect(plaintext).toEqual(pt);
        if (cuts[0]! >= 8) expect(frame).toEqual(copy); // parts are read, never decrypted in place
      }
      expect(() => dec.decrypt([new Uint8Array(10), new Uint8Array(13)])).toThrow(/23 bytes is shorter/);
    });

    it('decrypts in order across many rekeys', () => {
      const enc = new Encryptor(vault, key());
      const dec = new Decryptor(vault, key());
      for (let n = 0; n < 300; n++) {
        const pt = new Uint8Array([n & 0xff, n >> 8]);
        expect(dec.decrypt(enc.encrypt(pt))).toEqual(pt);
      }
      expect(dec.highestNonce).toBe(299n);
    });

    function frames(count: number): Uint8Array[] {
      const enc = new Encryptor(vault, key());
      return Array.from({ length: count }, (_, n) => enc.encrypt(new Uint8Array([n])));
    }

    it('enforces the window: 31 and 32 behind accepted, 33 behind refused; 32 ahead accepted, 33 ahead refused; duplicates refused', () => {
      const f = frames(100);
      const dec = new Decryptor(vault, key());
      const refused = (n: number) => {
        let error: unknown;
        try {
          dec.decrypt(f[n]!);
        } catch (e) {
          error = e;
        }
        expect(isProtocolError(error), `frame ${n} should be refused`).toBe(true);
      };
      dec.decrypt(f[0]!);
      refused(33); // 33 ahead of 0
      dec.decrypt(f[32]!); // 32 ahead of 0, first frame of the second key
      dec.decrypt(f[63]!); // highest is now 63
      refused(63); // duplicate
      refused(32); // 31 behind but already seen
      dec.decrypt(f[31]!); // 32 behind, previous key
      refused(31); // and only once
      refused(30); // 33 behind
      dec.decrypt(f[33]!); // 30 behind
      dec.decrypt(f[62]!); // 1 behind
      refused(96); // 33 ahead of 63
      dec.decrypt(f[95]!); // 32 ahead, third key derived on demand
      dec.decrypt(f[64]!); // 31 behind, previous key
      expect(dec.highestNonce).toBe(95n);
    });

    it('commits window and key state only after a frame authenticates', () => {
      const f = frames(70);
      const dec = new Decryptor(vault, key());
      dec.decrypt(f[0]!);
      dec.decrypt(f[32]!);
      dec.decrypt(f[40]!); // current key is the second, previous the first
      const forged = f[64]!.slice();
      forged[forged.length - 1]! ^= 1; // flip a bit of the tag
      expect(() => dec.decrypt(forged)).toThrow(/failed authentication/);
      expect(dec.highestNonce).toBe(40n);
      // Keys did not rotate: a first-key frame still decrypts, and the genuine frame 64 is still fresh.
      dec.decrypt(f[10]!);
      dec.decrypt(f[64]!);
      // A forged nonce prefix fails authentication too, and does not burn that nonce.
      const renumbered = f[65]!.slice();
      renumbered[7] = 66;
      expect(() => dec.decrypt(renumbered)).toThrow(/failed authentication/);
      dec.decrypt(f[66]!);
      dec.decrypt(f[65]!);
    });

    it('derives the next interval key at most once, however many forged frames ask for it', () => {
      const f = frames(60);
      // Counts REKEY (PROTOCOL.md §3.3): an AES-GCM encryption under the all-ones nonce.
      let rekeys = 0;
      const counting = new Proxy(vault, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver);
          if (prop === 'aeadEncrypt')
            return (...args: Parameters<Vault['aeadEncrypt']>) => {
              if (args[1].every((b, i) => (i < 4 ? b === 0 : b === 0xff))) rekeys++;
              return target.aeadEncrypt(...args);
            };
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const dec = new Decryptor(counting, key());
      for (let n = 0; n < 20; n++) dec.decrypt(f[n]!);
      for (let n = 20n; n <= 51n; n++) {
        // Forged frames with nonces 20…51 (32…51 in the next interval): each fails its tag check.
        const forged = new Uint8Array(40);
        new DataView(forged.buffer).setBigUint64(0, n);
        expect(() => dec.decrypt(forged)).toThrow(/failed authentication/);
      }
      // Nonce 52 is more than 32 ahead of 19: refused before any key is looked at.
      const ahead = new Uint8Array(40);
      new DataView(ahead.buffer).setBigUint64(0, 52n);
      expect(() => dec.decrypt(ahead)).toThrow(/more than 32 ahead/);
      expect(rekeys).toBe(1);
      // The key derived for the forgeries is the one the genuine frames use.
      for (let n = 20; n < 60; n++) expect(dec.decrypt(f[n]!)).toEqual(new Uint8Array([n]));
      expect(rekeys).toBe(1);
      dec.destroy();
    });

    it('refuses truncated frames, replays and the reserved nonce', () => {
      const f = frames(2);
      const dec = new Decryptor(vault, key());
      expect(() => dec.decrypt(f[0]!.subarray(0, 23))).toThrow(/shorter than nonce and tag/);
      expect(() => dec.decrypt(f[0]!.subarray(0, 24))).toThrow(/failed authentication/);
      expect(dec.decrypt(f[0]!)).toEqual(new Uint8Array([0]));
      expect(() => dec.decrypt(f[0]!)).toThrow(/already received/);
      const reserved = f[1]!.slice();
      reserved.fill(0xff, 0, 8);
      expect(() => dec.decrypt(reserved)).toThrow(/reserved nonce/);
    });

    it('refuses to wrap the nonce past 2^64 - 1', () => {
      const enc = new Encryptor(vault, key(), { nonce: 0xfffffffffffffffen });
      const frame = enc.encrypt(new Uint8Array(1));
      expect(toHex(frame.subarray(0, 8))).toBe('fffffffffffffffe');
      let error: unknown;
      try {
        enc.encrypt(new Uint8Array(1));
      } catch (e) {
        error = e;
      }
      expect(OckamError.isKind(error, 'resource', 'channel')).toBe(true);
    });

    it('refuses to work after destroy', () => {
      const enc = new Encryptor(vault, key());
      enc.destroy();
      expect(() => enc.encrypt(new Uint8Array(1))).toThrow(/destroyed/);
    });
  });
}

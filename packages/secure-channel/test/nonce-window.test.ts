import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decryptor } from '../src/decryptor.js';
import { Encryptor } from '../src/encryptor.js';
import { NonceWindow } from '../src/internal/nonce-window.js';
import { vaultFor } from './helpers.js';

/** The window's rule, stated directly: within 32 either side of the highest nonce, each nonce once. */
class Model {
  highest = 0;
  readonly seen = new Set<number>();
  accepts(n: number): boolean {
    if (n > this.highest) return n - this.highest <= 32;
    return this.highest - n <= 32 && !this.seen.has(n);
  }
  mark(n: number): void {
    this.seen.add(n);
    if (n > this.highest) this.highest = n;
  }
}

describe('replay window', () => {
  it('agrees with a direct statement of the rule on random nonce sequences', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 200 }), (nonces) => {
        const w = new NonceWindow();
        const m = new Model();
        for (const n of nonces) {
          const ok = w.check(BigInt(n)) === undefined;
          expect(ok, `nonce ${n} after highest ${m.highest}`).toBe(m.accepts(n));
          if (ok) {
            w.mark(BigInt(n));
            m.mark(n);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('decrypts every frame exactly once when frames are shuffled within the window', async () => {
    const vault = vaultFor('node');
    const k = new Uint8Array(32).fill(3);
    const key = () => vault.aeadKey(vault.importSecret(k));
    const enc = new Encryptor(vault, key());
    const frames = Array.from({ length: 200 }, (_, i) => enc.encrypt(new Uint8Array([i & 0xff, i >> 8])));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 31 }), { minLength: 200, maxLength: 200 }), (jitter) => {
        // Each frame moves back by up to 31 places: every frame stays within 32 of the highest seen.
        const order = frames.map((_, i) => ({ i, at: i + jitter[i]! * 0.999 })).sort((a, b) => a.at - b.at);
        const dec = new Decryptor(vault, key());
        const got = new Set<number>();
        for (const { i } of order) {
          const pt = dec.decrypt(frames[i]!);
          got.add(pt[0]! | (pt[1]! << 8));
          expect(() => dec.decrypt(frames[i]!)).toThrow(/already received/);
        }
        expect(got.size).toBe(200);
        dec.destroy();
      }),
      { numRuns: 30 },
    );
  });
});

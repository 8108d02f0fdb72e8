// Vault benchmark: node (node:crypto) and noble (pure JS) side by side, against dist.
// Run `pnpm build` first, then `pnpm bench`. Numbers only; nothing is asserted.
import { performance } from 'node:perf_hooks';
import { createVault } from '../dist/index.js';

const TARGET_MS = Number(process.env.BENCH_MS ?? 400);

/** Runs fn repeatedly for about TARGET_MS (after a short warm-up) and returns ops/s. */
async function measure(fn) {
  const warmEnd = performance.now() + TARGET_MS / 4;
  while (performance.now() < warmEnd) await fn();
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < TARGET_MS) {
    for (let i = 0; i < 8; i++) await fn();
    ops += 8;
    now = performance.now();
  }
  return (ops * 1000) / (now - start);
}

const rows = [];
const backends = ['node', 'noble'];
const vaults = Object.fromEntries(backends.map((b) => [b, createVault(b)]));
const digest = new Uint8Array(32).fill(1);

async function row(name, unit, make) {
  const out = { name, unit };
  for (const b of backends) out[b] = await make(vaults[b]);
  rows.push(out);
  const ratio = out.node / out.noble;
  console.log(
    `${name.padEnd(34)} ${fmt(out.node).padStart(12)} ${fmt(out.noble).padStart(12)} ${unit.padEnd(6)} ${ratio.toFixed(1).padStart(6)}×`,
  );
}

const fmt = (n) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1));

console.log(`node ${process.version}, ${TARGET_MS} ms per measurement`);
console.log(
  `${'operation'.padEnd(34)} ${'node'.padStart(12)} ${'noble'.padStart(12)} ${'unit'.padEnd(6)} ${'node/noble'.padStart(6)}`,
);

for (const type of ['ed25519', 'p256']) {
  await row(`${type} sign (32-byte digest)`, 'ops/s', async (v) => {
    const key = await v.generateSigningKey(type);
    return measure(() => v.sign(key, digest));
  });
  await row(`${type} verify`, 'ops/s', async (v) => {
    const key = await v.generateSigningKey(type);
    const sig = await v.sign(key, digest);
    const pk = { type, bytes: await v.publicKey(key) };
    return measure(() => {
      if (!v.verify(pk, digest, sig)) throw new Error('verify failed');
    });
  });
}

await row('x25519 ECDH', 'ops/s', async (v) => {
  const a = await v.generateX25519({ ephemeral: true });
  const peer = v.x25519PublicKey(await v.generateX25519({ ephemeral: true }));
  return measure(() => v.deleteSecret(v.x25519(a, peer)));
});

await row('hkdf (Noise, 2 outputs)', 'ops/s', async (v) => {
  const ck = v.importSecret(new Uint8Array(32).fill(2));
  const ikm = v.importSecret(new Uint8Array(32).fill(3));
  const info = new Uint8Array(0);
  return measure(() => {
    for (const h of v.hkdf(ck, ikm, info, 2)) v.deleteSecret(h);
  });
});

for (const algorithm of ['aes-256-gcm', 'chacha20-poly1305']) {
  for (const size of [64, 1024, 16 * 1024, 64 * 1024]) {
    for (const direction of ['encrypt', 'decrypt']) {
      await row(
        `${algorithm} ${direction} ${size >= 1024 ? `${size / 1024} KiB` : `${size} B`}`,
        'MB/s',
        async (v) => {
          const key = v.aeadKey(v.importSecret(new Uint8Array(32).fill(4)), algorithm);
          const nonce = new Uint8Array(12);
          const aad = new Uint8Array(0);
          const plaintext = new Uint8Array(size).fill(5);
          const sealed = v.aeadEncrypt(key, nonce, plaintext, aad);
          const ops =
            direction === 'encrypt'
              ? await measure(() => v.aeadEncrypt(key, nonce, plaintext, aad))
              : await measure(() => v.aeadDecrypt(key, nonce, sealed, aad));
          return (ops * size) / 1e6;
        },
      );
    }
  }
}

if (process.env.BENCH_JSON) console.log(JSON.stringify(rows));

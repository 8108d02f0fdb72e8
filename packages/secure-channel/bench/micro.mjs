// Micro benchmarks of the secure channel's parts, against dist (run by run.mjs, or alone).
//
// Data phase: Encryptor.encrypt + Decryptor.decrypt per frame (rekey every 32 included), beside the
// same AES-256-GCM done directly with node:crypto (one encrypt + one decrypt, no framing) — the
// reference for what the channel's own bookkeeping costs. Handshake: a full Ockam XX exchange.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Route } from '@ockam/core';
import { createVault } from '@ockam/vault';
import {
  Decryptor,
  Encryptor,
  encodeSecureChannelMessage,
  HandshakeState,
  OCKAM_PROTOCOL_NAME,
} from '../dist/index.js';

const TARGET_MS = Number(process.env.MICRO_BENCH_MS ?? 200);

async function measure(fn) {
  const warmEnd = performance.now() + TARGET_MS / 4;
  while (performance.now() < warmEnd) await fn();
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < TARGET_MS) {
    for (let i = 0; i < 16; i++) await fn();
    ops += 16;
    now = performance.now();
  }
  return (ops * 1000) / (now - start);
}

const fmt = (n) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1));
console.log(`node ${process.version}, ${TARGET_MS} ms per measurement`);
console.log(
  `${'operation'.padEnd(44)} ${'ops/s'.padStart(12)} ${'MB/s'.padStart(10)} ${'reference'.padStart(12)} ${'ref MB/s'.padStart(10)}`,
);

const key = new Uint8Array(randomBytes(32)); // a plain Uint8Array: Buffer#slice is a view
function reference(size) {
  const pt = randomBytes(size);
  const nonce = Buffer.alloc(12);
  let n = 0n;
  return () => {
    nonce.writeBigUInt64BE(n++, 4);
    const c = createCipheriv('aes-256-gcm', key, nonce);
    const ct = Buffer.concat([c.update(pt), c.final()]);
    const tag = c.getAuthTag();
    const d = createDecipheriv('aes-256-gcm', key, nonce);
    d.setAuthTag(tag);
    Buffer.concat([d.update(ct), d.final()]);
  };
}

for (const backend of ['node', 'noble']) {
  const vault = createVault(backend);
  const aead = () => vault.aeadKey(vault.importSecret(key));
  for (const size of [64, 1024, 16 * 1024, 64 * 1024]) {
    if (backend === 'noble' && size > 16 * 1024) continue;
    const enc = new Encryptor(vault, aead());
    const dec = new Decryptor(vault, aead());
    const pt = randomBytes(size);
    const ops = await measure(() => dec.decrypt(enc.encrypt(pt)));
    const ref = backend === 'node' ? await measure(reference(size)) : Number.NaN;
    const mb = (o) => fmt((o * size) / 1e6);
    console.log(
      `${`frame encrypt+decrypt ${size} B (${backend})`.padEnd(44)} ${fmt(ops).padStart(12)} ${mb(ops).padStart(10)} ${(Number.isNaN(ref) ? '-' : fmt(ref)).padStart(12)} ${(Number.isNaN(ref) ? '-' : mb(ref)).padStart(10)}`,
    );
  }
  const route = Route.of('0123456789abcdef0123456789abcdef', 'echo');
  const payload = randomBytes(1024);
  const ops = await measure(() =>
    encodeSecureChannelMessage({ kind: 'payload', onwardRoute: route, returnRoute: route, payload }),
  );
  console.log(`${`plaintext encode 1 KiB payload (${backend})`.padEnd(44)} ${fmt(ops).padStart(12)}`);
  const sInit = await vault.generateX25519();
  const sResp = await vault.generateX25519();
  const empty = new Uint8Array(0);
  const hsOps = await measure(async () => {
    const i = await HandshakeState.initialize({
      vault,
      protocol: OCKAM_PROTOCOL_NAME,
      initiator: true,
      s: sInit,
    });
    const r = await HandshakeState.initialize({
      vault,
      protocol: OCKAM_PROTOCOL_NAME,
      initiator: false,
      s: sResp,
    });
    r.readMessage(i.writeMessage(empty));
    i.readMessage(r.writeMessage(empty));
    r.readMessage(i.writeMessage(empty));
    for (const c of [i.split(), r.split()]) {
      c.send.destroy();
      c.receive.destroy();
    }
  });
  console.log(`${`Noise XX handshake, both sides (${backend})`.padEnd(44)} ${fmt(hsOps).padStart(12)}`);
}

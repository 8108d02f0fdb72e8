// Identity benchmark against dist: create, import (full verification) and purpose key
// verification per second, node and noble vaults side by side. Run `pnpm build` first.
import { performance } from 'node:perf_hooks';
import { createVault } from '@ockam/vault';
import {
  createIdentity,
  createPurposeKey,
  importIdentity,
  rotateIdentity,
  verifyPurposeKeyAttestation,
} from '../dist/index.js';

const TARGET_MS = Number(process.env.BENCH_MS ?? 400);

async function measure(fn) {
  const warmEnd = performance.now() + TARGET_MS / 4;
  while (performance.now() < warmEnd) await fn();
  let ops = 0;
  const start = performance.now();
  while (performance.now() - start < TARGET_MS) {
    await fn();
    ops++;
  }
  return (ops * 1000) / (performance.now() - start);
}

const backends = ['node', 'noble'];
console.log(`node ${process.version}, ${TARGET_MS} ms per measurement`);
console.log(`${'operation'.padEnd(40)} ${'node'.padStart(10)} ${'noble'.padStart(10)} ops/s`);
async function row(name, make) {
  const out = [];
  for (const b of backends) out.push(await make(createVault(b)));
  console.log(
    `${name.padEnd(40)} ${out.map((n) => Math.round(n).toLocaleString('en-US').padStart(10)).join(' ')}`,
  );
}

for (const keyType of ['ed25519', 'p256']) {
  await row(`createIdentity (${keyType})`, (v) => measure(() => createIdentity(v, { keyType })));
  await row(`importIdentity, 1 change (${keyType})`, async (v) => {
    const hex = (await createIdentity(v, { keyType })).export();
    return measure(() => importIdentity(hex, v));
  });
  await row(`importIdentity, 3 changes (${keyType})`, async (v) => {
    const id = await rotateIdentity(v, await rotateIdentity(v, await createIdentity(v, { keyType })));
    const hex = id.export();
    return measure(() => importIdentity(hex, v));
  });
  await row(`verifyPurposeKeyAttestation (${keyType})`, async (v) => {
    const id = await createIdentity(v, { keyType });
    const pk = await createPurposeKey(v, id, 'secure-channel');
    return measure(() => verifyPurposeKeyAttestation(pk.encoded, id, { verifier: v }));
  });
}

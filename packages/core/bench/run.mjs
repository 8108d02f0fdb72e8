// Router benchmark: messages per second through local workers (no transport), and the cost per
// hop. Run with `pnpm bench` in this package (after `pnpm build`).
import { Node, startEcho, startHop } from '../dist/index.js';

async function run(hops, payloadSize, total) {
  const node = new Node();
  startEcho(node);
  const route = [];
  for (let i = 0; i < hops; i++) {
    startHop(node, `hop${i}`);
    route.push(`hop${i}`);
  }
  route.push('echo');
  const client = node.client({ capacity: 256 });
  const payload = new Uint8Array(payloadSize);
  const window = 64;
  const start = process.hrtime.bigint();
  let sent = 0;
  let received = 0;
  while (received < total) {
    while (sent < total && sent - received < window) {
      await client.send(route, payload);
      sent++;
    }
    await client.receive();
    received++;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await node.stop();
  return total / seconds;
}

console.log('@ockam/core router: pipelined request/response through local hops (window 64)');
console.log('hops  payload  round trips/s  messages routed/s');
for (const hops of [0, 1, 4]) {
  for (const size of [64, 16384]) {
    await run(hops, size, 20_000); // warm-up
    const rate = await run(hops, size, 100_000);
    const routed = rate * 2 * (hops + 1);
    console.log(
      `${String(hops).padStart(4)}  ${String(size).padStart(7)}  ${Math.round(rate).toLocaleString().padStart(13)}  ${Math.round(routed).toLocaleString().padStart(17)}`,
    );
  }
}

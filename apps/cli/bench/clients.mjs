// Bench clients: request/response latency on one connection, many simultaneous echo connections,
// and a bulk sender (the throughput fallback when iperf3 is absent).
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';

function open(port, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    const t = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${port} timed out`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(t);
      resolve(socket);
    });
    socket.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/**
 * `warmup + n` sequential round trips of `size` bytes on one connection to an echo server; each
 * waits for all `size` bytes to come back (and checks them) before the next is sent.
 * Returns the n measured round-trip times in µs, sorted.
 */
export async function latency(port, size, n, warmup = Math.min(200, n)) {
  const socket = await open(port);
  const payload = randomBytes(size);
  const samples = new Float64Array(n);
  let received = [];
  let got = 0;
  let waiting = null;
  socket.on('data', (d) => {
    received.push(d);
    got += d.length;
    if (got >= size && waiting) {
      const w = waiting;
      waiting = null;
      w();
    }
  });
  let failure = null;
  socket.on('error', (e) => (failure = e));
  socket.on('close', () => {
    failure ??= new Error('connection closed');
    if (waiting) waiting();
  });
  try {
    for (let i = 0; i < warmup + n; i++) {
      const start = process.hrtime.bigint();
      const done = new Promise((r) => (waiting = r));
      socket.write(payload);
      await done;
      if (failure && got < size) throw failure;
      const elapsed = Number(process.hrtime.bigint() - start) / 1000;
      const back = received.length === 1 ? received[0] : Buffer.concat(received);
      if (back.length !== size || !back.equals(payload)) throw new Error(`echo mismatch at round trip ${i}`);
      received = [];
      got = 0;
      if (i >= warmup) samples[i - warmup] = elapsed;
    }
  } finally {
    socket.destroy();
  }
  return Array.from(samples).sort((a, b) => a - b);
}

/**
 * Opens `count` connections (at most `concurrency` connecting at once), keeps them all open,
 * sends `bytes` random bytes on each (all at the same time) and checks each echo byte for byte.
 * `whileOpen()` runs once every echo is back and before any connection is closed.
 */
export async function manyConnections(
  port,
  { count, bytes, concurrency = 200, whileOpen, timeoutMs = 60_000 },
) {
  const sockets = new Array(count);
  const errors = [];
  const startConnect = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      try {
        sockets[i] = await open(port, timeoutMs);
      } catch (e) {
        errors.push(`connect #${i}: ${e.message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const connectMs = performance.now() - startConnect;
  const open_ = sockets.filter(Boolean).length;

  const startEcho = performance.now();
  let correct = 0;
  const checks = sockets.map(
    (socket, i) =>
      new Promise((resolve) => {
        if (!socket) return resolve();
        const payload = randomBytes(bytes);
        const chunks = [];
        let got = 0;
        const t = setTimeout(() => {
          errors.push(`#${i}: ${got}/${bytes} bytes echoed after ${timeoutMs} ms`);
          resolve();
        }, timeoutMs);
        socket.on('data', (d) => {
          chunks.push(d);
          got += d.length;
          if (got >= bytes) {
            clearTimeout(t);
            const back = Buffer.concat(chunks);
            if (back.length === bytes && back.equals(payload)) correct++;
            else errors.push(`#${i}: echo differs (${back.length} bytes)`);
            resolve();
          }
        });
        socket.on('error', (e) => {
          clearTimeout(t);
          errors.push(`#${i}: ${e.message}`);
          resolve();
        });
        socket.write(payload);
      }),
  );
  await Promise.all(checks);
  const echoMs = performance.now() - startEcho;
  const during = whileOpen ? await whileOpen() : undefined;
  for (const s of sockets) s?.destroy();
  return { open: open_, correct, errors, connectMs, echoMs, during };
}

/**
 * Bulk sender for the sink of echo-server.mjs: writes for `seconds`, half-closes, and waits for
 * the sink's byte count. Returns bits per second as the sink counted them.
 */
export async function bulkSend(port, seconds) {
  const socket = await open(port);
  const chunk = randomBytes(128 * 1024);
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let reply = Buffer.alloc(0);
  const counted = new Promise((resolve, reject) => {
    socket.on('data', (d) => (reply = Buffer.concat([reply, d])));
    socket.on('end', () =>
      reply.length === 8 ? resolve(reply.readBigUInt64BE(0)) : reject(new Error('no count from sink')),
    );
    socket.on('error', reject);
  });
  await new Promise((resolve) => {
    const pump = () => {
      while (performance.now() < deadline) {
        if (!socket.write(chunk)) return socket.once('drain', pump);
      }
      resolve();
    };
    pump();
  });
  socket.end();
  const bytes = await counted;
  const elapsed = (performance.now() - start) / 1000;
  socket.destroy();
  return (Number(bytes) * 8) / elapsed;
}

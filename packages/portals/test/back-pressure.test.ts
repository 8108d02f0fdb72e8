import { createHash } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createInlet, createOutlet } from '../src/index.js';
import { closeServer, connectTo, listeningNode, listenOn, testNode } from './helpers.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const CHUNK = 64 * 1024;

/** A deterministic byte stream: chunk n is filled from a counter, cheap to produce and to check. */
function chunkAt(n: number): Buffer {
  const b = Buffer.allocUnsafe(CHUNK);
  for (let off = 0; off < CHUNK; off += 4) b.writeUInt32LE((n * (CHUNK / 4) + off / 4) >>> 0, off);
  return b;
}

interface Run {
  seconds: number;
  maxInFlight: number;
  rssGrowth: number;
  received: number;
  digestOk: boolean;
}

/**
 * The target writes `total` bytes as fast as its socket accepts them; the client reads through
 * inlet → TCP → outlet and pauses for `pauseMs` after every `pauseEvery` bytes. In flight =
 * bytes the generator has handed to its socket minus bytes the client has read: everything
 * buffered anywhere along the path (kernel buffers included).
 */
async function pushThrough(total: number, pauseEvery: number, pauseMs: number): Promise<Run> {
  let produced = 0;
  const expected = createHash('sha256');
  const target = createServer((socket: Socket) => {
    socket.on('error', () => {});
    let n = 0;
    const pump = (): void => {
      while (produced < total) {
        const c = chunkAt(n++);
        expected.update(c);
        produced += c.length;
        if (!socket.write(c)) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.end();
    };
    pump();
  });
  const port = await listenOn(target);
  cleanups.push(() => closeServer(target));
  const o = await listeningNode('outlet-node');
  cleanups.push(() => o.node.stop());
  createOutlet(o.node, { to: `127.0.0.1:${port}`, consumerOf: [o.listener.flowControlId], lingerMs: 20 });
  const i = testNode('inlet-node');
  cleanups.push(() => i.node.stop());
  const inlet = await createInlet(i.node, {
    bind: '127.0.0.1:0',
    route: [`1#127.0.0.1:${o.port}`, 'outlet'],
    lingerMs: 20,
  });
  cleanups.push(() => inlet.stop());

  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  let rssMax = rssBefore;
  const started = performance.now();
  const client = await connectTo(inlet.address.port);
  const actual = createHash('sha256');
  let received = 0;
  let maxInFlight = 0;
  let sincePause = 0;
  await new Promise<void>((resolve, reject) => {
    client.on('data', (c: Buffer) => {
      received += c.length;
      actual.update(c);
      maxInFlight = Math.max(maxInFlight, produced - received);
      sincePause += c.length;
      if (sincePause >= pauseEvery) {
        sincePause = 0;
        rssMax = Math.max(rssMax, process.memoryUsage().rss);
        client.pause();
        setTimeout(() => client.resume(), pauseMs);
      }
    });
    client.on('end', resolve);
    client.on('error', reject);
  });
  const seconds = (performance.now() - started) / 1000;
  client.destroy();
  return {
    seconds,
    maxInFlight,
    rssGrowth: rssMax - rssBefore,
    received,
    digestOk: actual.digest('hex') === expected.digest('hex'),
  };
}

const MiB = 1024 * 1024;

function report(label: string, total: number, run: Run): void {
  console.log(
    `${label}: ${(total / MiB).toFixed(0)} MiB in ${run.seconds.toFixed(1)} s (${(total / MiB / run.seconds).toFixed(0)} MiB/s), ` +
      `max in flight ${(run.maxInFlight / MiB).toFixed(1)} MiB, RSS growth ${(run.rssGrowth / MiB).toFixed(1)} MiB`,
  );
}

describe('back-pressure', () => {
  it('slows the server to a slow client: a 64 MiB response read at ~10 MiB/s stays under 32 MiB in flight', async () => {
    // Unthrottled, the server would be ~60 MiB ahead within a second; the bound proves it waits.
    const total = 64 * MiB;
    const run = await pushThrough(total, MiB, 100);
    report('slow client', total, run);
    expect(run.received).toBe(total);
    expect(run.digestOk).toBe(true);
    expect(run.maxInFlight).toBeLessThan(32 * MiB);
  }, 60_000);

  it('pushes 1 GiB through a client that pauses, with bounded bytes in flight', async () => {
    const total = 1024 * MiB;
    const run = await pushThrough(total, 16 * MiB, 20);
    report('back-pressure 1 GiB', total, run);
    expect(run.received).toBe(total);
    expect(run.digestOk).toBe(true);
    expect(run.maxInFlight).toBeLessThan(48 * MiB);
    expect(run.rssGrowth).toBeLessThan(256 * MiB);
  }, 300_000);
});

import { createHash, randomBytes } from 'node:crypto';
import { Route, startEcho } from '@ockam/core';
import { createIdentity } from '@ockam/identity';
import { createSecureChannel, createSecureChannelListener } from '@ockam/secure-channel';
import { createVault } from '@ockam/vault';
import { afterEach, describe, expect, it } from 'vitest';
import { createInlet, createOutlet, createRelay, startRelayService } from '../src/index.js';
import {
  collect,
  connectTo,
  httpGetBody,
  httpTarget,
  listeningNode,
  sha256,
  sleep,
  type TestNode,
  testNode,
  waitFor,
} from './helpers.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const FAST_SESSION = { pingIntervalMs: 100, maxMissedPings: 3, retryInitialMs: 50, retryMaxMs: 400 };
const BODY = randomBytes(32 * 1024 * 1024);
const BODY_DIGEST = sha256(BODY);

/**
 * Starts a download of BODY through the inlet, read slowly so that it is still running when the
 * route is cut. Resolves with what the client got.
 */
async function slowDownload(port: number): Promise<{ bytes: number; complete: boolean }> {
  const socket = await connectTo(port);
  socket.write('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
  const hash = createHash('sha256');
  let bytes = 0;
  let headerSkipped = false;
  let pending = Buffer.alloc(0);
  socket.on('data', (c: Buffer) => {
    if (!headerSkipped) {
      pending = Buffer.concat([pending, c]);
      const at = pending.indexOf('\r\n\r\n');
      if (at < 0) return;
      headerSkipped = true;
      c = pending.subarray(at + 4);
    }
    bytes += c.length;
    hash.update(c);
    socket.pause();
    setTimeout(() => socket.resume(), 5);
  });
  await collect(socket);
  return { bytes, complete: bytes === BODY.length && hash.digest('hex') === BODY_DIGEST };
}

/** Attempts made by a session during `ms` while its route stays down. */
async function attemptsDuring(stats: () => { attempts: number }, ms: number): Promise<number> {
  const before = stats().attempts;
  await sleep(ms);
  return stats().attempts - before;
}

describe('staying up', () => {
  it('an inlet whose outlet node dies fails the transfer visibly, backs off, keeps its port and recovers', async () => {
    const http = await httpTarget(BODY);
    cleanups.push(() => http.stop());
    let o: TestNode & { port: number } = await listeningNode('outlet-node');
    const startOutletNode = async (port: number) => {
      const n = await listeningNode('outlet-node', port);
      createOutlet(n.node, {
        to: `127.0.0.1:${http.port}`,
        consumerOf: [n.listener.flowControlId],
        lingerMs: 20,
      });
      return n;
    };
    await o.node.stop();
    o = await startOutletNode(o.port);
    const port = o.port;
    cleanups.push(() => o.node.stop());
    const i = testNode('inlet-node');
    cleanups.push(() => i.node.stop());
    const inlet = await createInlet(i.node, {
      bind: '127.0.0.1:0',
      route: [`1#127.0.0.1:${port}`, 'outlet'],
      session: FAST_SESSION,
      connectionWaitMs: 0,
      lingerMs: 20,
    });
    cleanups.push(() => inlet.stop());
    expect(inlet.status).toBe('up');

    const download = slowDownload(inlet.address.port);
    await waitFor(() => inlet.connections() === 1, 'download started');
    await sleep(200);
    await o.node.stop();
    const result = await download;
    // Cut mid-way: the client sees its connection close short, never corrupt data.
    expect(result.complete).toBe(false);
    expect(result.bytes).toBeLessThan(BODY.length);
    await waitFor(() => inlet.status === 'down', 'inlet down');

    // Down: a bounded number of attempts (back-off), and new clients are closed at once.
    const attempts = await attemptsDuring(() => inlet.session.stats(), 2_000);
    console.log(`outlet node down: ${attempts} reconnection attempts in 2 s (back-off 50 ms → 400 ms)`);
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(attempts).toBeLessThan(40);
    const refused = await collect(await connectTo(inlet.address.port));
    expect(refused.data.length).toBe(0);
    expect(i.lines.some((l) => l.message.includes('the route to the outlet is down'))).toBe(true);

    // Back: new connections work without any command.
    o = await startOutletNode(port);
    await waitFor(() => inlet.status === 'up', 'inlet up again', 5_000);
    expect(sha256(await httpGetBody(inlet.address.port))).toBe(BODY_DIGEST);
  });

  it('an inlet whose TCP connection is closed under a transfer closes that transfer and reconnects at once', async () => {
    const http = await httpTarget(BODY);
    cleanups.push(() => http.stop());
    const o = await listeningNode('outlet-node');
    cleanups.push(() => o.node.stop());
    createOutlet(o.node, {
      to: `127.0.0.1:${http.port}`,
      consumerOf: [o.listener.flowControlId],
      lingerMs: 20,
    });
    const i = testNode('inlet-node');
    cleanups.push(() => i.node.stop());
    const inlet = await createInlet(i.node, {
      bind: '127.0.0.1:0',
      route: [`1#127.0.0.1:${o.port}`, 'outlet'],
      session: FAST_SESSION,
      lingerMs: 20,
    });
    cleanups.push(() => inlet.stop());
    const download = slowDownload(inlet.address.port);
    await waitFor(() => inlet.connections() === 1, 'download started');
    await sleep(200);
    for (const c of o.tcp.connections()) await c.close();
    const result = await download;
    expect(result.complete).toBe(false);
    // The outlet side let go of its target connection too.
    await waitFor(
      () => o.node.addresses().every((a) => !a.value.startsWith('outlet_portal_')),
      'outlet portals gone',
    );
    await waitFor(() => inlet.status === 'up' && inlet.session.stats().connects === 2, 'reconnected');
    expect(sha256(await httpGetBody(inlet.address.port))).toBe(BODY_DIGEST);
  });

  it('an inlet and a relay through a relay node that dies recover when it comes back, with a secure channel end to end', async () => {
    const http = await httpTarget(BODY);
    cleanups.push(() => http.stop());
    const startRelayNode = async (port = 0) => {
      const n = await listeningNode('relay-node', port);
      startRelayService(n.node, { consumerOf: [n.listener.flowControlId] });
      return n;
    };
    let r = await startRelayNode();
    const relayPort = r.port;
    cleanups.push(() => r.node.stop());

    const vault = createVault('node');
    const o = testNode('outlet-node');
    cleanups.push(() => o.node.stop());
    const scListener = await createSecureChannelListener(o.node, {
      identity: await createIdentity(vault),
      vault,
    });
    startEcho(o.node);
    o.node.flowControls.addConsumer('echo', scListener.flowControlId);
    createOutlet(o.node, {
      to: `127.0.0.1:${http.port}`,
      consumerOf: [scListener.flowControlId],
      lingerMs: 20,
    });
    const relay = await createRelay(o.node, [`1#127.0.0.1:${relayPort}`], 'o1', { session: FAST_SESSION });
    cleanups.push(() => relay.stop());

    const i = testNode('inlet-node');
    cleanups.push(() => i.node.stop());
    const iIdentity = await createIdentity(vault);
    const inlet = await createInlet(i.node, {
      bind: '127.0.0.1:0',
      session: FAST_SESSION,
      connectionWaitMs: 0,
      lingerMs: 20,
      route: async (signal) => {
        const channel = await createSecureChannel(
          i.node,
          [`1#127.0.0.1:${relayPort}`, 'forward_to_o1', 'api'],
          {
            identity: iIdentity,
            vault,
            timeoutMs: 2_000,
            signal,
          },
        );
        return {
          route: Route.of(channel.encryptorAddress, 'outlet'),
          flowControlId: channel.flowControlId,
          close: () => channel.close(),
        };
      },
    });
    cleanups.push(() => inlet.stop());
    expect(inlet.status).toBe('up');
    expect(sha256(await httpGetBody(inlet.address.port))).toBe(BODY_DIGEST);

    const download = slowDownload(inlet.address.port);
    await waitFor(() => inlet.connections() === 1, 'download started');
    await sleep(200);
    await r.node.stop();
    const result = await download;
    expect(result.complete).toBe(false);
    await waitFor(() => inlet.status === 'down' && relay.status === 'down', 'inlet and relay down');

    const inletAttempts = await attemptsDuring(() => inlet.session.stats(), 2_000);
    console.log(
      `relay node down: ${inletAttempts} inlet reconnection attempts in 2 s (back-off 50 ms → 400 ms)`,
    );
    expect(inletAttempts).toBeLessThan(40);

    r = await startRelayNode(relayPort);
    await waitFor(() => relay.status === 'up', 'relay registered again', 10_000);
    await waitFor(() => inlet.status === 'up', 'inlet up again', 10_000);
    expect(sha256(await httpGetBody(inlet.address.port))).toBe(BODY_DIGEST);
  });
});

/**
 * A handshake that cannot complete says so: at once when the connection it uses closes, and with
 * the route and what to check when nobody answers. Real TCP sockets on 127.0.0.1.
 */
import { createServer, type Socket } from 'node:net';
import { OckamError, startEcho } from '@ockam/core';
import { createIdentity } from '@ockam/identity';
import { createVault } from '@ockam/vault';
import { afterEach, describe, expect, it } from 'vitest';
import { createSecureChannel } from '../src/secure-channel.js';
import { createSecureChannelListener } from '../src/secure-channel-listener.js';
import { tcpNode } from './tampering-hop.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('a secure channel handshake that cannot complete', () => {
  it('fails as soon as its TCP connection closes, long before its timeout', async () => {
    // A TCP peer that takes the first frame (msg1) and hangs up, as a crashing node would.
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.once('data', () => socket.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          server.close(() => resolve());
        }),
    );
    const port = (server.address() as { port: number }).port;
    const a = await tcpNode('alice');
    cleanups.push(() => a.node.stop());
    const vault = createVault('node');
    const error = await createSecureChannel(a.node, [`1#127.0.0.1:${port}`, 'api'], {
      identity: await createIdentity(vault),
      vault,
      // Longer than the test may take: only the closed connection can end the handshake.
      timeoutMs: 120_000,
    }).catch((e: unknown) => e);
    expect(OckamError.isKind(error, 'io', 'channel')).toBe(true);
    expect((error as Error).message).toMatch(
      /Secure channel handshake along .* failed: .*the connection or channel it went through, closed before the handshake completed/,
    );
  });

  it('times out with the route, its first hop and the listener to check when nobody answers', async () => {
    const b = await tcpNode('bob');
    cleanups.push(() => b.node.stop());
    const a = await tcpNode('alice');
    cleanups.push(() => a.node.stop());
    const vault = createVault('node');
    // B listens at `api` but is not exposed to its TCP listener (no consumerOf): msg1 is dropped there.
    await createSecureChannelListener(b.node, { identity: await createIdentity(vault), vault });
    const error = await createSecureChannel(a.node, [b.route, 'api'], {
      identity: await createIdentity(vault),
      vault,
      timeoutMs: 300,
    }).catch((e: unknown) => e);
    expect(OckamError.isKind(error, 'timeout', 'channel')).toBe(true);
    const message = (error as Error).message;
    expect(message).toMatch(
      /Secure channel handshake along 0#tcp_sender_\w+ => 0#api did not complete within 300 ms/,
    );
    expect(message).toMatch(/first hop tcp_sender_\w+/);
    expect(message).toContain("a secure channel listener runs at 'api'");
    expect(message).toContain('flow-control consumer');
    expect(b.lines.some((l) => l.message === 'flow control dropped a message' && l.fields.to === 'api')).toBe(
      true,
    );
  });

  it('lets a request through the channel find its reply without wiring the client by hand', async () => {
    const b = await tcpNode('bob');
    cleanups.push(() => b.node.stop());
    const a = await tcpNode('alice');
    cleanups.push(() => a.node.stop());
    const vault = createVault('node');
    const listener = await createSecureChannelListener(b.node, {
      identity: await createIdentity(vault),
      vault,
      consumerOf: [b.listener.flowControlId],
    });
    startEcho(b.node);
    b.node.flowControls.addConsumer('echo', listener.flowControlId);
    const channel = await createSecureChannel(a.node, [b.route, 'api'], {
      identity: await createIdentity(vault),
      vault,
    });
    // No addConsumer(client, channel.flowControlId): request does it, as Ockam's send_and_receive.
    const reply = await a.node
      .client()
      .request([channel.encryptorAddress, 'echo'], Uint8Array.of(1, 2, 3), { timeoutMs: 10_000 });
    expect([...reply.payload]).toEqual([1, 2, 3]);
    await channel.close();
  });
});

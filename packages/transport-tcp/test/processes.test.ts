import { Address, TCP } from '@ockam/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { TcpCloseInfo } from '../src/index.js';
import { exited, freePort, spawnPeer, testNode, waitFor } from './helpers.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('tcp transport between processes', () => {
  it('round-trips through a peer node in another process', async () => {
    const { child, port } = await spawnPeer();
    cleanups.push(() => child.kill('SIGKILL'));
    const client = testNode('client');
    cleanups.push(() => client.stop());
    const c = client.node.client({ capacity: 256 });
    const route = await client.node.resolveRoute([`1#127.0.0.1:${port}`, 'echo']);
    const payloads = [new Uint8Array(0), new Uint8Array([1, 2, 3]), new Uint8Array(1_000_000).fill(9)];
    for (const p of payloads) await c.send(route, p);
    for (const p of payloads) expect(Buffer.compare((await c.receive()).payload, p)).toBe(0);
    // A graceful stop of the peer is reported as closed by peer.
    const closed = client.tcp.connections()[0]!.closed;
    child.kill('SIGTERM');
    expect(await closed).toMatchObject({ cause: 'peer' });
    await exited(child);
  });

  it('detects a peer killed with SIGKILL, reports it, and reconnects once the peer is back', async () => {
    const port = await freePort();
    const first = await spawnPeer(port);
    cleanups.push(() => first.child.kill('SIGKILL'));
    const client = testNode('client');
    cleanups.push(() => client.stop());
    const closes: TcpCloseInfo[] = [];
    client.tcp.on('close', (_c, info) => closes.push(info));
    const hop = new Address(TCP, `127.0.0.1:${port}`);
    const sender1 = await client.tcp.resolve(hop);
    expect([...(await client.node.client().request([sender1, 'echo'], new Uint8Array([1]))).payload]).toEqual(
      [1],
    );

    first.child.kill('SIGKILL');
    await exited(first.child);
    await waitFor(() => closes.length === 1, 'close event');
    expect(['peer', 'io']).toContain(closes[0]!.cause);
    expect(client.tcp.connections()).toEqual([]);
    expect(client.node.has(sender1)).toBe(false);
    expect(
      client.lines.some(
        (l) => l.message === 'tcp connection closed' && l.fields.peer === `127.0.0.1:${port}`,
      ),
    ).toBe(true);
    await expect(client.tcp.resolve(hop)).rejects.toThrow(/Cannot connect to 127\.0\.0\.1:\d+/);

    const second = await spawnPeer(port);
    cleanups.push(() => second.child.kill('SIGKILL'));
    const sender2 = await client.tcp.resolve(hop);
    expect(sender2.equals(sender1)).toBe(false);
    expect([...(await client.node.client().request([sender2, 'echo'], new Uint8Array([2]))).payload]).toEqual(
      [2],
    );
  });
});

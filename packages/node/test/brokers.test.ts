// @ockam/brokers by path, not as a workspace dependency: it depends (through @ockam/interop
// and @ockam/hardening) on the command, which depends on this package, and turbo refuses cycles.

import { brokerSkipReason, type RabbitMQBroker, startRabbitMQ } from '@ockam/brokers';
import { utf8 } from '@ockam/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNode, type OckamNode } from '../src/index.js';

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const skip = brokerSkipReason('rabbitmq');

describe.skipIf(skip !== undefined)('nodes with RabbitMQ hops', () => {
  let rabbit: RabbitMQBroker;
  const nodes: OckamNode[] = [];
  const node = async (name: string) => {
    const n = await createNode({ name });
    nodes.push(n);
    return n;
  };
  beforeAll(async () => {
    rabbit = await startRabbitMQ();
  }, 90_000);
  afterAll(async () => {
    for (const n of nodes) await n.stop().catch(() => {});
    await rabbit?.stop({ remove: true });
  }, 90_000);

  it('resolves /amqp/QUEUE in a multiaddr: a secure channel to the node consuming it', async () => {
    const a = await node('a');
    const b = await node('b');
    await a.createBrokerListener('amqp', rabbit.url, 'ockam.node-a');
    const info = await b.createBrokerListener('amqp', rabbit.url, 'ockam.node-b');
    expect(info).toMatchObject({ kind: 'amqp', inbox: 'ockam.node-b' });
    expect(info.broker).not.toContain('guest:guest');
    const reply = await a.request('/amqp/ockam.node-b/secure/api/service/echo', utf8('through rabbit'));
    expect(text(reply.payload)).toBe('through rabbit');
    const channel = await a.createSecureChannel('/amqp/ockam.node-b');
    expect(channel.peerIdentifier).toBe(b.identifier);
    expect(text((await channel.request('echo', utf8('again'))).payload)).toBe('again');
  });

  it('forwards onto a queue only through an explicitly created, exposed connection (/worker/<hex>)', async () => {
    const a = nodes[0]!;
    const hopNode = await node('hop');
    const c = await node('c');
    await hopNode.createBrokerListener('amqp', rabbit.url, 'ockam.node-hop');
    await c.createBrokerListener('amqp', rabbit.url, 'ockam.node-c');
    // Without the connection, the hop node has no worker that publishes to c's queue.
    await expect(
      a.request(`${hopNode.multiaddr}/service/amqp_sender_x/secure/api/service/echo`, utf8('x'), {
        timeoutMs: 3_000,
      }),
    ).rejects.toThrow();
    const conn = await hopNode.connectBroker('amqp', 'ockam.node-c', { expose: true });
    expect(conn.workerAddress).toMatch(/^[0-9a-f]{32}$/);
    expect(hopNode.brokerConnections('amqp').map((x) => x.workerAddress)).toContain(conn.workerAddress);
    const channel = await a.createSecureChannel(`${hopNode.multiaddr}/worker/${conn.workerAddress}`);
    expect(channel.peerIdentifier).toBe(c.identifier);
    expect(text((await channel.request('echo', utf8('tcp then rabbit'))).payload)).toBe('tcp then rabbit');
    await hopNode.closeBrokerConnection('amqp', conn.workerAddress);
    expect(hopNode.brokerConnections('amqp')).toEqual([]);
  });

  it('lists and deletes listeners, and refuses a second broker of the same kind', async () => {
    const d = await node('d');
    await d.createBrokerListener('amqp', rabbit.url, 'ockam.node-d');
    expect(d.brokerListeners().map((l) => l.inbox)).toEqual(['ockam.node-d']);
    await expect(d.createBrokerListener('amqp', 'amqp://127.0.0.1:1', 'ockam.other')).rejects.toThrow(
      /uses the AMQP broker/,
    );
    await expect(d.connectBroker('kafka', 'ockam.x')).rejects.toThrow(/needs a kafka-listener/);
    await d.deleteBrokerListener('amqp', 'ockam.node-d');
    expect(d.brokerListeners()).toEqual([]);
  });
});

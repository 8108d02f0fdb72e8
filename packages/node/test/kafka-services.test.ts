import { createServer, type Server } from 'node:net';
import { freePort as freeTcpPort } from '@ockam/brokers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNode, type OckamNode } from '../src/index.js';

const freePort = () => freeTcpPort('tcp');

function bound(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s: Server = createServer();
    s.once('error', () => resolve(true));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
  });
}

describe('kafka services from the package API', () => {
  let node: OckamNode;
  beforeAll(async () => {
    node = await createNode({ name: 'kafka-api' });
  });
  afterAll(() => node.stop());

  it('a kafka-outlet starts the fixed kafka_interceptor and kafka_bootstrap, one per node, and delete removes them', async () => {
    const info = await node.createKafkaOutlet({ bootstrapServer: '127.0.0.1:9092' });
    expect(info).toEqual({
      addr: 'kafka_outlet',
      type: 'kafka_outlet',
      bootstrapServer: '127.0.0.1:9092',
      tls: false,
      brokers: {},
    });
    expect(node.workers()).toEqual(expect.arrayContaining(['kafka_interceptor', 'kafka_bootstrap']));
    await expect(
      node.createKafkaOutlet({ addr: 'second', bootstrapServer: '127.0.0.1:9093' }),
    ).rejects.toThrow(/already has a kafka-outlet/);
    expect(node.kafkaServices()).toEqual([{ addr: 'kafka_outlet', type: 'kafka_outlet' }]);
    await expect(node.deleteKafkaInlet('kafka_outlet')).rejects.toThrow(
      "Service at address 'kafka_outlet' is not a kafka inlet. A service of kind outlet was found instead",
    );
    await node.deleteKafkaOutlet('kafka_outlet');
    expect(node.workers()).not.toContain('kafka_interceptor');
    expect(node.workers()).not.toContain('kafka_bootstrap');
    await expect(node.deleteKafkaOutlet('kafka_outlet')).rejects.toThrow(
      "Service at address 'kafka_outlet' with kind outlet not found",
    );
  });

  it('a kafka-inlet binds its bootstrap port, refuses an overlapping broker range and a taken address, and delete frees the port', async () => {
    const from = await freePort();
    const config = {
      from: `127.0.0.1:${from}`,
      to: '/secure/api',
      consumerResolution: { kind: 'single-node' as const, route: '/secure/api' },
      consumerPublishing: { kind: 'none' as const },
    };
    await expect(
      node.createKafkaInlet({ ...config, brokersPortRange: [from - 1, from + 1] }),
    ).rejects.toThrow(
      `The bootstrap port ${from} can't overlap with the brokers port range ${from - 1}-${from + 1}`,
    );
    const info = await node.createKafkaInlet(config);
    expect(info).toMatchObject({
      addr: 'kafka_inlet',
      type: 'kafka_inlet',
      from: `127.0.0.1:${from}`,
      to: '/secure/api',
      brokersPortRange: [Math.min(from + 1, 65535), Math.min(from + 100, 65535)],
      encryptContent: true,
      status: 'up',
    });
    expect(await bound(from)).toBe(true);
    await expect(node.createKafkaInlet({ ...config, from: `127.0.0.1:${await freePort()}` })).rejects.toThrow(
      /kafka_inlet is already in use/,
    );
    await node.deleteKafkaInlet('kafka_inlet');
    expect(await bound(from)).toBe(false);
    expect(node.workers()).not.toContain('kafka_inlet');
    expect(node.kafkaInlets()).toEqual([]);
  });
});

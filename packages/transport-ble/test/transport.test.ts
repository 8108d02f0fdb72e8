import { decodeBareString, encodeBareString, OckamError, startEcho, startUppercase } from '@ockam/core';
import { describe, expect, it } from 'vitest';
import { nobleAdapter, SimulatedRadio } from '../src/index.js';
import { bleNode, waitFor } from './helpers.js';

async function pair(radio: SimulatedRadio, mtus: { server?: number; client?: number } = {}) {
  const server = bleNode('server', radio.adapter({ mtu: mtus.server }));
  const listener = await server.ble.listen('ockam_ble_1');
  startEcho(server.node);
  server.node.flowControls.addConsumer('echo', listener.flowControlId);
  const client = bleNode('client', radio.adapter({ mtu: mtus.client }));
  const stop = async () => {
    await client.node.stop();
    await server.node.stop();
    await radio.close();
  };
  return { server, listener, client, stop };
}

describe('BLE transport on a simulated radio', () => {
  it('resolves 4#name, echoes a message of many fragments, and reuses the link', async () => {
    const radio = new SimulatedRadio({ mtu: 23 });
    const { server, client, stop } = await pair(radio);
    try {
      const payload = Uint8Array.from({ length: 900 }, (_, i) => i & 255);
      const reply = await client.node.client().request(['4#ockam_ble_1', 'echo'], payload);
      expect([...reply.payload]).toEqual([...payload]);
      await client.node.client().request(['4#ockam_ble_1', 'echo'], Uint8Array.of(1));
      expect(client.ble.connections()).toHaveLength(1);
      const conn = client.ble.connections()[0]!;
      expect(conn.mtu).toBe(23);
      expect(conn.role).toBe('central');
      // 900 bytes of payload + routes: > 50 writes of 18 bytes each.
      expect(conn.stats().writesOut).toBeGreaterThan(50);
      expect(server.ble.connections()[0]!.spawnerFlowControlId).toBeDefined();
    } finally {
      await stop();
    }
  });

  it('negotiates the smaller MTU of the two devices and uses bigger fragments', async () => {
    const radio = new SimulatedRadio({ mtu: 517 });
    const { client, stop } = await pair(radio, { server: 185, client: 247 });
    try {
      const conn = await client.ble.connect('ockam_ble_1');
      expect(conn.mtu).toBe(185);
      await client.node.client().request([conn.senderAddress, 'echo'], new Uint8Array(500));
      // 8-byte length, then ≤ 180-byte fragments.
      expect(conn.stats().writesOut).toBeLessThanOrEqual(5);
      expect(radio.stats.lost).toBe(0);
    } finally {
      await stop();
    }
  });

  it('drops messages over 1024 bytes at the sender, visibly', async () => {
    const radio = new SimulatedRadio();
    const { client, stop } = await pair(radio);
    try {
      const conn = await client.ble.connect('ockam_ble_1');
      const c = client.node.client();
      await c.send([conn.senderAddress, 'echo'], new Uint8Array(1100));
      await waitFor(
        () => client.lines.some((l) => l.message === 'ble message dropped: it cannot be sent'),
        'drop log',
      );
      await expect(c.receive({ timeoutMs: 100 })).rejects.toThrow(/No reply/);
    } finally {
      await stop();
    }
  });

  it('fails requests visibly on a lossy link (no retransmission) while the link stays up', async () => {
    const radio = new SimulatedRadio({ lossRate: 0.2, seed: 7, delayMs: 1 });
    const { server, client, stop } = await pair(radio);
    try {
      const conn = await client.ble.connect('ockam_ble_1');
      let ok = 0;
      let failed = 0;
      for (let i = 0; i < 10; i++) {
        try {
          await client.node
            .client()
            .request([conn.senderAddress, 'echo'], new Uint8Array(200), { timeoutMs: 300 });
          ok++;
        } catch (e) {
          expect(OckamError.isKind(e, 'timeout')).toBe(true);
          failed++;
        }
      }
      expect(radio.stats.lost).toBeGreaterThan(0);
      expect(failed).toBeGreaterThan(0);
      const serverConn = server.ble.connections()[0]!;
      const drops = Object.values(serverConn.stats().dropped).reduce((a, b) => a + b, 0);
      expect(drops + serverConn.stats().messagesDropped).toBeGreaterThan(0);
      expect(conn.isOpen).toBe(true);
      void ok;
    } finally {
      await stop();
    }
  });

  it('lets a central reach only services exposed to the listener', async () => {
    const radio = new SimulatedRadio();
    const { server, listener, client, stop } = await pair(radio);
    startUppercase(server.node);
    try {
      const conn = await client.ble.connect('ockam_ble_1');
      const c = client.node.client();
      await c.send([conn.senderAddress, 'uppercase'], encodeBareString('hi'));
      await waitFor(
        () => server.lines.some((l) => l.message === 'flow control dropped a message'),
        'fc drop',
      );
      await expect(c.receive({ timeoutMs: 100 })).rejects.toThrow();
      server.node.flowControls.addConsumer('uppercase', listener.flowControlId);
      const reply = await client.node
        .client()
        .request([conn.senderAddress, 'uppercase'], encodeBareString('hi'));
      expect(decodeBareString(reply.payload)).toBe('HI');
    } finally {
      await stop();
    }
  });

  it('keeps the link when a peer sends undeliverable messages, and logs them', async () => {
    const radio = new SimulatedRadio();
    const { server, client, stop } = await pair(radio);
    try {
      const conn = await client.ble.connect('ockam_ble_1');
      await client.node.client().send([conn.senderAddress, 'nobody'], Uint8Array.of(1));
      await waitFor(() => server.lines.some((l) => l.message === 'ble message dropped'), 'drop');
      const reply = await client.node.client().request([conn.senderAddress, 'echo'], Uint8Array.of(2));
      expect([...reply.payload]).toEqual([2]);
    } finally {
      await stop();
    }
  });

  it('reports a missing peripheral, closes both ends on disconnect, and releases everything on stop', async () => {
    const radio = new SimulatedRadio();
    const { server, client, stop } = await pair(radio);
    try {
      await expect(client.ble.connect('nobody')).rejects.toSatisfy((e) =>
        OckamError.isKind(e, 'not-found', 'transport'),
      );
      const conn = await client.ble.connect('ockam_ble_1');
      const serverConn = server.ble.connections()[0]!;
      await conn.close();
      expect((await serverConn.closed).cause).toBe('peer');
      await client.ble.connect('ockam_ble_1');
      await client.ble.stop();
      await server.ble.stop();
      expect(server.ble.listeners()).toHaveLength(0);
      expect(server.node.flowControls.size.producers).toBe(0);
      expect(client.node.flowControls.size.producers).toBe(0);
      await expect(client.ble.connect('ockam_ble_1')).rejects.toSatisfy((e) =>
        OckamError.isKind(e, 'shutdown'),
      );
    } finally {
      await stop();
    }
  });
});

describe('the real-radio adapter', () => {
  it('says which optional package to install when it is missing', async () => {
    const adapter = nobleAdapter();
    await expect(adapter.connect('x')).rejects.toSatisfy(
      (e) =>
        OckamError.isKind(e, 'unsupported', 'transport') && /@abandonware\/noble/.test((e as Error).message),
    );
    await expect(adapter.advertise('x', () => {})).rejects.toThrow(/@abandonware\/bleno/);
    await adapter.close();
  });
});

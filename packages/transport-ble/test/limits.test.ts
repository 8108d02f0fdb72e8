import { startEcho } from '@ockam/core';
import { describe, expect, it } from 'vitest';
import { type BleTransportOptions, SimulatedRadio } from '../src/index.js';
import { bleNode, waitFor } from './helpers.js';

async function listening(radio: SimulatedRadio, limits: BleTransportOptions['limits']) {
  const server = bleNode('server', radio.adapter(), { limits });
  const listener = await server.ble.listen('ockam_ble_1');
  startEcho(server.node);
  server.node.flowControls.addConsumer('echo', listener.flowControlId);
  return { server, listener };
}

describe('BLE transport limits', () => {
  it('disconnects a central over maxConnections at once, and logs it once', async () => {
    const radio = new SimulatedRadio();
    const { server, listener } = await listening(radio, { maxConnections: 2 });
    try {
      const links = await Promise.all(
        Array.from({ length: 5 }, () => radio.adapter().connect('ockam_ble_1')),
      );
      await waitFor(() => links.filter((l) => l.connected).length === 2, 'two links left');
      expect(listener.connections()).toHaveLength(2);
      expect(server.ble.inboundStats().refused).toBe(3);
      expect(server.lines.filter((l) => l.fields.limit === 'max-connections')).toHaveLength(1);
    } finally {
      await server.node.stop();
      await radio.close();
    }
  });

  it('disconnects a central that sends no message in time, but not one that did', async () => {
    const radio = new SimulatedRadio();
    const { server } = await listening(radio, { firstMessageTimeoutMs: 200 });
    const client = bleNode('client', radio.adapter());
    try {
      const talker = await client.ble.connect('ockam_ble_1');
      await client.node.client().request([talker.senderAddress, 'echo'], Uint8Array.of(1));
      const silent = await radio.adapter().connect('ockam_ble_1');
      await waitFor(() => !silent.connected, 'the silent central disconnected');
      expect(talker.isOpen).toBe(true);
      expect(server.ble.inboundStats().closed['first-message-timeout']).toBe(1);
    } finally {
      await client.node.stop();
      await server.node.stop();
      await radio.close();
    }
  });

  it('logs fragments dropped for one reason once, however many arrive', async () => {
    const radio = new SimulatedRadio();
    const { server, listener } = await listening(radio, {});
    try {
      const link = await radio.adapter().connect('ockam_ble_1');
      // Fragments with no length before them: a peer (or a radio) can send any number.
      for (let i = 0; i < 200; i++) await link.write(Uint8Array.of(1, 2, 3));
      await waitFor(
        () => listener.connections()[0]?.stats().dropped['stray-fragment'] === 200,
        'every stray fragment counted',
      );
      expect(server.lines.filter((l) => l.message === 'ble fragment dropped')).toHaveLength(1);
    } finally {
      await server.node.stop();
      await radio.close();
    }
  });
});

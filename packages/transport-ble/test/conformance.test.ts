import { streamTransportConformance } from '@ockam/core/testing';
import { afterAll } from 'vitest';
import { BleTransport, encodeLengthHeader, MAX_OCKAM_MESSAGE_LENGTH, SimulatedRadio } from '../src/index.js';
import { waitFor } from './helpers.js';

// One radio for the file; each listener advertises a name of its own.
const radio = new SimulatedRadio({ mtu: 185 });
afterAll(() => radio.close());
let names = 0;

streamTransportConformance({
  name: 'ble (simulated radio)',
  create: (node, options) => new BleTransport(node, radio.adapter(), options),
  listen: async (ble) => {
    const name = `ockam_ble_${++names}`;
    const listener = await ble.listen(name);
    return { listener, hop: `4#${name}` };
  },
  // A legacy message is at most 1024 bytes, routes included.
  largePayloadBytes: 900,
  // A central that declares a message over 1024 bytes: the peripheral drops it and keeps the link.
  refuseOversized: async (hop, server, timeoutMs) => {
    const link = await radio.adapter().connect(hop.slice(2));
    try {
      await link.write(encodeLengthHeader(MAX_OCKAM_MESSAGE_LENGTH + 1));
      await waitFor(
        () => server.connections().some((c) => c.stats().dropped['length-rejected'] > 0),
        'the oversized length to be refused',
        timeoutMs,
      );
    } finally {
      await link.disconnect();
    }
  },
  backPressure: 'drop',
});

import { decodeBareString, encodeBareString, Node, startUppercase } from '@ockam/core';
import { createIdentity } from '@ockam/identity';
import { createSecureChannel, createSecureChannelListener, trustIdentifier } from '@ockam/secure-channel';
import { TcpTransport } from '@ockam/transport-tcp';
import { createVault } from '@ockam/vault';
import { describe, expect, it } from 'vitest';
import { BleTransport, SimulatedRadio } from '../src/index.js';

describe('a secure channel over BLE, bridged to TCP', () => {
  it('carries a request and its response: BLE sensor → bridge (BLE + TCP) → service node over TCP', async () => {
    const radio = new SimulatedRadio({ mtu: 23, delayMs: 0 });
    const vault = createVault('node');

    // Service node: TCP listener, secure-channel listener, uppercase behind the channel.
    const service = new Node({ name: 'service' });
    const serviceTcp = new TcpTransport(service);
    service.registerTransport(serviceTcp);
    const tcpListener = await serviceTcp.listen('127.0.0.1:0');
    const serviceIdentity = await createIdentity(vault);
    const channels = await createSecureChannelListener(service, {
      identity: serviceIdentity,
      vault,
      consumerOf: [tcpListener.flowControlId],
    });
    startUppercase(service);
    service.flowControls.addConsumer('uppercase', channels.flowControlId);

    // Bridge: advertises over BLE, connects over TCP and lets its BLE centrals through.
    const bridge = new Node({ name: 'bridge' });
    const bridgeBle = new BleTransport(bridge, radio.adapter());
    bridge.registerTransport(bridgeBle);
    const bleListener = await bridgeBle.listen('ockam_bridge');
    const bridgeTcp = new TcpTransport(bridge);
    bridge.registerTransport(bridgeTcp);
    const toService = await bridgeTcp.connect(`127.0.0.1:${tcpListener.address.port}`, {
      exposeTo: [bleListener.flowControlId],
    });

    // Sensor: a BLE central with its own identity.
    const sensor = new Node({ name: 'sensor' });
    const sensorBle = new BleTransport(sensor, radio.adapter());
    sensor.registerTransport(sensorBle);
    const sensorIdentity = await createIdentity(vault);
    try {
      const link = await sensorBle.connect('ockam_bridge');
      const channel = await createSecureChannel(
        sensor,
        [link.senderAddress, toService.senderAddress, 'api'],
        {
          identity: sensorIdentity,
          vault,
          trustPolicy: trustIdentifier(serviceIdentity.identifier),
          consumerOf: [link.flowControlId],
        },
      );
      expect(channel.peerIdentifier).toBe(serviceIdentity.identifier);
      const client = sensor.client();
      sensor.flowControls.addConsumer(client.address, channel.flowControlId);
      const reply = await client.request(
        [channel.encryptorAddress, 'uppercase'],
        encodeBareString('temperature 21.5'),
      );
      expect(decodeBareString(reply.payload)).toBe('TEMPERATURE 21.5');
      expect(reply.localInfo.secureChannelIdentifier).toBe(serviceIdentity.identifier);
      // Every message fitted the 1024-byte BLE limit and crossed the radio in 18-byte fragments.
      const stats = link.stats();
      expect(stats.messagesOut).toBeGreaterThanOrEqual(3);
      expect(stats.messagesDropped).toBe(0);
      expect(stats.writesOut).toBeGreaterThan(stats.messagesOut * 10);
      await channel.close();
    } finally {
      await sensor.stop();
      await bridge.stop();
      await service.stop();
      await radio.close();
    }
  });
});

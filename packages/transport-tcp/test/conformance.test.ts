import { connect } from 'node:net';
import { streamTransportConformance } from '@ockam/core/testing';
import { TcpTransport } from '../src/index.js';

streamTransportConformance({
  name: 'tcp',
  create: (node, options) => new TcpTransport(node, options),
  listen: async (tcp) => {
    const listener = await tcp.listen('127.0.0.1:0');
    return { listener, hop: `1#127.0.0.1:${listener.address.port}` };
  },
  largePayloadBytes: 4 * 1024 * 1024,
  // Through a raw socket: the version byte, then a header declaring 16 MiB + 1 (§2.1's cap + 1).
  refuseOversized: (hop, _server, timeoutMs) =>
    new Promise((resolve, reject) => {
      const [host, port] = hop.slice(2).split(':');
      const socket = connect({ host: host!, port: Number(port) });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('the oversized frame was not refused'));
      }, timeoutMs);
      socket.on('error', () => {});
      // Flowing, so that the server's FIN is read and 'close' comes.
      socket.resume();
      socket.once('connect', () => socket.write(Buffer.from('0101000001', 'hex')));
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    }),
  backPressure: 'pause',
  resourceKinds: /TCP/,
});

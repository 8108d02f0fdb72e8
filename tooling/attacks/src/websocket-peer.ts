/**
 * A raw WebSocket peer on a plain TCP socket: it writes the upgrade request itself, so it can send
 * any `Origin` and `Host` a browser would (the page's origin, a rebound DNS name) and pipeline
 * frames right behind the request, then speaks RFC 6455 framing by hand, one Ockam transport
 * message per binary frame (PROTOCOL.md §2.4).
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { decodeLegacyTransportMessage, encodeLegacyTransportMessage, type LocalMessage } from '@ockam/core';
import { splitHostPort } from './peer.js';
import { WatchedPeer } from './watched-peer.js';

export interface UpgradeHeaders {
  /** The `Origin` header; none if undefined (as programs do). */
  origin?: string;
  /** The `Host` header (default: the address connected to). */
  host?: string;
}

export class RawWebSocket extends WatchedPeer {
  readonly socket: net.Socket;
  /** The response's status code (101 when upgraded), 0 if the node closed without answering. */
  status = 0;
  /** Messages the node sent back, decoded, in order. */
  readonly received: LocalMessage[] = [];
  #buffer = Buffer.alloc(0);

  private constructor(socket: net.Socket) {
    super();
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#parse();
      this.wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  /**
   * Connects to `hostPort`, writes an upgrade request with `headers`, then `after` (raw bytes, e.g.
   * `clientFrame(…)`) in the same write; resolves once the response's status line is in or the node
   * closed the connection.
   */
  static async open(
    hostPort: string,
    headers: UpgradeHeaders = {},
    after: Uint8Array = new Uint8Array(0),
    timeoutMs = 10_000,
  ): Promise<RawWebSocket> {
    const [host, port] = splitHostPort(hostPort);
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host, port });
      s.once('error', reject);
      s.once('connect', () => {
        s.off('error', reject);
        resolve(s);
      });
    });
    const peer = new RawWebSocket(socket);
    const request = [
      'GET / HTTP/1.1',
      `Host: ${headers.host ?? hostPort}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      'Sec-WebSocket-Version: 13',
      ...(headers.origin === undefined ? [] : [`Origin: ${headers.origin}`]),
      '',
      '',
    ].join('\r\n');
    socket.write(Buffer.concat([Buffer.from(request, 'latin1'), after]));
    if (!(await peer.waitFor(() => peer.status !== 0, timeoutMs)) && !peer.closed)
      throw new Error(`No answer to the upgrade request within ${timeoutMs} ms`);
    return peer;
  }

  /** Sends one Ockam transport message as one masked binary frame. */
  send(message: LocalMessage): boolean {
    return this.socket.write(clientFrame(encodeLegacyTransportMessage(message)));
  }

  destroy(): void {
    this.socket.destroy();
  }

  #parse(): void {
    if (this.status === 0) {
      const end = this.#buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.#buffer.subarray(0, end).toString('latin1');
      this.status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? -1);
      this.#buffer = this.#buffer.subarray(end + 4);
    }
    if (this.status !== 101) return;
    // Server frames are unmasked (RFC 6455 §5.1); the node sends small, unfragmented binary ones.
    for (;;) {
      const b = this.#buffer;
      if (b.length < 2) return;
      let length = b[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (b.length < 4) return;
        length = b.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (b.length < 10) return;
        length = Number(b.readBigUInt64BE(2));
        offset = 10;
      }
      if (b.length < offset + length) return;
      const opcode = b[0]! & 0x0f;
      const payload = b.subarray(offset, offset + length);
      this.#buffer = b.subarray(offset + length);
      if (opcode === 2) this.received.push(decodeLegacyTransportMessage(payload, 'reply'));
    }
  }
}

/** One masked binary client frame (RFC 6455 §5.2, §5.3) carrying `payload`. */
export function clientFrame(payload: Uint8Array): Buffer {
  const n = payload.length;
  const head =
    n < 126
      ? Buffer.from([0x82, 0x80 | n])
      : n < 65536
        ? Buffer.from([0x82, 0x80 | 126, n >> 8, n & 0xff])
        : (() => {
            const h = Buffer.alloc(10);
            h[0] = 0x82;
            h[1] = 0x80 | 127;
            h.writeBigUInt64BE(BigInt(n), 2);
            return h;
          })();
  const mask = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i & 3]!;
  return Buffer.concat([head, mask, body]);
}

/** The Ockam transport message `message` as one masked client frame. */
export function messageFrame(message: LocalMessage): Buffer {
  return clientFrame(encodeLegacyTransportMessage(message));
}

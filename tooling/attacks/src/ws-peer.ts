/**
 * A raw WebSocket peer: a `ws` client that speaks Ockam's WebSocket framing (PROTOCOL.md §2.4:
 * one legacy transport message per binary message) and, under it, the raw TCP socket, so that it
 * can also write hand-made WebSocket frames: a head declaring a large payload, then bytes at any
 * pace. It does what an unauthenticated attacker with access to a WebSocket listener can do.
 */
import type { Socket } from 'node:net';
import { type LocalMessage, LocalMessage as Message, type RouteLike } from '@ockam/core';
import { decodeWebSocketFrame, encodeWebSocketFrame } from '@ockam/transport-websocket';
import { WebSocket } from 'ws';
import { splitHostPort } from './peer.js';
import { WatchedPeer } from './watched-peer.js';

export class RawWsPeer extends WatchedPeer {
  readonly socket: WebSocket;
  /** Messages the node sent back, decoded, in order. */
  readonly received: LocalMessage[] = [];
  /** The close code the node sent, if any. */
  closeCode: number | undefined;

  private constructor(socket: WebSocket) {
    super();
    this.socket = socket;
    socket.on('message', (data: Buffer) => {
      try {
        this.received.push(decodeWebSocketFrame(new Uint8Array(data)));
      } catch {
        socket.terminate();
      }
      this.wake();
    });
    socket.on('error', () => {});
    socket.on('close', (code: number) => {
      this.closed = true;
      this.closeCode = code;
      this.wake();
    });
  }

  /** Opens `ws://host:port/`; rejects if the listener refuses the connection or the upgrade. */
  static connect(hostPort: string): Promise<RawWsPeer> {
    const [host, port] = splitHostPort(hostPort);
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`ws://${host.includes(':') ? `[${host}]` : host}:${port}/`, {
        perMessageDeflate: false,
        maxPayload: 16 * 1024 * 1024,
      });
      socket.once('error', reject);
      socket.once('open', () => {
        socket.off('error', reject);
        resolve(new RawWsPeer(socket));
      });
    });
  }

  /** Sends one transport message with the given routes (the return route defaults to `['attacker']`). */
  send(onward: RouteLike, payload: Uint8Array, returnRoute: RouteLike = ['attacker']): void {
    this.socket.send(encodeWebSocketFrame(new Message(onward, returnRoute, payload)), { binary: true });
  }

  /** Sends `bytes` as one binary WebSocket message, whatever they hold. */
  sendMessage(bytes: Uint8Array): void {
    this.socket.send(bytes, { binary: true });
  }

  /** Writes raw bytes on the TCP socket under the WebSocket: hand-made frames, half a frame. */
  write(bytes: Uint8Array): boolean {
    const raw = (this.socket as unknown as { _socket?: Socket })._socket;
    return raw?.writable === true && raw.write(bytes);
  }

  destroy(): void {
    this.socket.terminate();
  }
}

/**
 * The head of a client's binary WebSocket frame declaring `length` payload bytes (RFC 6455 §5.2:
 * FIN, opcode 2, the 64-bit length form, and a mask key of zeros, so that the payload goes as it is).
 */
export function wsFrameHead(length: number): Uint8Array {
  const head = new Uint8Array(2 + 8 + 4);
  head[0] = 0x82;
  head[1] = 0x80 | 127;
  new DataView(head.buffer).setBigUint64(2, BigInt(length));
  return head;
}

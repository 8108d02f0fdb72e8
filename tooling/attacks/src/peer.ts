/**
 * A raw network peer: a plain TCP socket that speaks Ockam's TCP framing (PROTOCOL.md §2.1) and
 * nothing else. It does what an unauthenticated attacker on the same network can do: write any
 * version byte, any frame, any route, at any pace, and read what comes back.
 */
import net from 'node:net';
import { decodeTransportMessage, LocalMessage, type RouteLike } from '@ockam/core';
import { encodeFrame, FrameDecoder } from '@ockam/transport-tcp';
import { WatchedPeer } from './watched-peer.js';

export class RawPeer extends WatchedPeer {
  readonly socket: net.Socket;
  /** Messages the node sent back, decoded, in order. */
  readonly received: LocalMessage[] = [];
  readonly #decoder = new FrameDecoder();

  private constructor(socket: net.Socket) {
    super();
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#decoder.push(chunk);
      try {
        for (let f = this.#decoder.next(); f !== undefined; f = this.#decoder.next())
          this.received.push(decodeTransportMessage(f));
      } catch {
        socket.destroy();
      }
      this.wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  /** Connects to `host:port`; writes the protocol-version byte first unless `version` is false. */
  static connect(hostPort: string, options: { version?: boolean } = {}): Promise<RawPeer> {
    const [host, port] = splitHostPort(hostPort);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        const peer = new RawPeer(socket);
        if (options.version !== false) socket.write(Uint8Array.of(1));
        resolve(peer);
      });
    });
  }

  /** Sends one transport message with the given routes (the return route defaults to `['attacker']`). */
  send(onward: RouteLike, payload: Uint8Array, returnRoute: RouteLike = ['attacker']): boolean {
    return this.socket.write(encodeFrame(new LocalMessage(onward, returnRoute, payload)));
  }

  /** Writes raw bytes: a hand-made frame, half a frame, garbage. */
  write(bytes: Uint8Array): boolean {
    return this.socket.write(bytes);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** `host:port` → [host, port], for IPv4 and bracketed IPv6. */
export function splitHostPort(hostPort: string): [string, number] {
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(hostPort);
  if (!m) throw new TypeError(`Not a host:port: ${hostPort}`);
  return [m[1]!, Number(m[2])];
}

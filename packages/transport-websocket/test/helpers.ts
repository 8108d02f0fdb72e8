import { type Logger, type LogLine, type Node, recordingLogger } from '@ockam/core';
import { echoNode, type RecordingNode, recordingNode, waitFor } from '@ockam/core/testing';
import { WebSocket as WsWebSocket } from 'ws';
import { type WebSocketListener, WebSocketTransport, type WebSocketTransportOptions } from '../src/index.js';

export type { LogLine };

/** Every log line of a test node, kept for assertions. */
export const capturingLogger = (): { logger: Logger; lines: LogLine[] } => recordingLogger('trace');

export type TestNode = RecordingNode<WebSocketTransport> & { readonly ws: WebSocketTransport };

export function testNode(name: string, options: WebSocketTransportOptions = {}): TestNode {
  const t = recordingNode(name, (node) => new WebSocketTransport(node, options));
  return { ...t, ws: t.transport };
}

/** A node listening on 127.0.0.1 with echo exposed to its listener. */
export async function echoServer(
  name = 'server',
  options: WebSocketTransportOptions = {},
): Promise<TestNode & { listener: WebSocketListener; port: number }> {
  const create = (node: Node) => new WebSocketTransport(node, options);
  const t = await echoNode(name, create, (ws) => ws.listen('127.0.0.1:0'));
  return { ...t, ws: t.transport, port: t.listener.address.port };
}

export { waitFor };

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A plain `ws` client that records the binary messages it receives and how the socket closed. */
export class RawClient {
  readonly socket: WsWebSocket;
  readonly received: Uint8Array[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  isClosed = false;

  private constructor(socket: WsWebSocket) {
    this.socket = socket;
    socket.on('message', (data: Buffer) => this.received.push(new Uint8Array(data)));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', (code: number, reason: Buffer) => {
        this.isClosed = true;
        resolve({ code, reason: reason.toString() });
      }),
    );
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = new WsWebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
      socket.once('open', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  get localPort(): number {
    return (this.socket as unknown as { _socket: { localPort: number } })._socket.localPort;
  }

  send(bytes: Uint8Array | string): void {
    this.socket.send(typeof bytes === 'string' ? bytes : Buffer.from(bytes));
  }

  async waitClosed(timeoutMs = 5_000): Promise<{ code: number; reason: string }> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      this.closed,
      new Promise<never>(
        (_, reject) => (timer = setTimeout(() => reject(new Error('socket still open')), timeoutMs)),
      ),
    ]).finally(() => clearTimeout(timer));
  }

  terminate(): void {
    this.socket.terminate();
  }
}

export function hex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}

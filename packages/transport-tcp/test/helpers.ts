import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, connect as netConnect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { LogLine, Node } from '@ockam/core';
import { echoNode, type RecordingNode, recordingNode, waitFor } from '@ockam/core/testing';
import { type TcpListener, TcpTransport, type TcpTransportOptions } from '../src/index.js';

export type { LogLine };

export type TestNode = RecordingNode<TcpTransport> & { readonly tcp: TcpTransport };

export function testNode(name: string, options: TcpTransportOptions = {}): TestNode {
  const t = recordingNode(name, (node) => new TcpTransport(node, options));
  return { ...t, tcp: t.transport };
}

/** A node listening on 127.0.0.1 with echo exposed to its listener. */
export async function echoServer(
  name = 'server',
  options: TcpTransportOptions = {},
): Promise<TestNode & { listener: TcpListener; port: number }> {
  const create = (node: Node) => new TcpTransport(node, options);
  const t = await echoNode(name, create, (tcp) => tcp.listen('127.0.0.1:0'));
  return { ...t, tcp: t.transport, port: t.listener.address.port };
}

export { waitFor };

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A plain node:net client that records what it receives and when the socket closes. */
export class RawClient {
  readonly socket: Socket;
  readonly #chunks: Buffer[] = [];
  readonly closed: Promise<void>;
  isClosed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (c: Buffer) => this.#chunks.push(c));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        resolve();
      }),
    );
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: '127.0.0.1', port });
      socket.once('connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  get received(): Buffer {
    return Buffer.concat(this.#chunks);
  }

  write(bytes: Uint8Array | string): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes.replace(/\s+/g, ''), 'hex') : bytes);
  }

  async waitForBytes(n: number, timeoutMs = 5_000): Promise<Buffer> {
    await waitFor(() => this.received.length >= n, `${n} bytes`, timeoutMs);
    return this.received;
  }

  async waitClosed(timeoutMs = 5_000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.closed,
      new Promise(
        (_, reject) => (timer = setTimeout(() => reject(new Error('socket still open')), timeoutMs)),
      ),
    ]).finally(() => clearTimeout(timer));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const PEER_SCRIPT = fileURLToPath(new URL('./fixtures/peer.mjs', import.meta.url));

/** Spawns test/fixtures/peer.mjs (the built package in a child process) and waits for its port. */
export function spawnPeer(port = 0): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PEER_SCRIPT, String(port)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        child.stdout?.off('data', onData);
        resolve({ child, port: (JSON.parse(out.slice(0, nl)) as { port: number }).port });
      }
    };
    child.stdout?.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`peer exited early with code ${code}`)));
  });
}

export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** A port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

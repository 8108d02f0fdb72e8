import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type Server as HttpServer, get as httpGet } from 'node:http';
import { type AddressInfo, createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { type Logger, type LogLine, Node, recordingLogger, startEcho } from '@ockam/core';
import { waitFor } from '@ockam/core/testing';
import { type TcpListener, TcpTransport } from '@ockam/transport-tcp';

export type { LogLine };

/** Every log line of a test node, kept for assertions; PORTALS_LOG=1 prints them as well. */
export function capturingLogger(echo = process.env.PORTALS_LOG === '1'): {
  logger: Logger;
  lines: LogLine[];
} {
  return recordingLogger(
    'debug',
    echo ? (l) => console.error(l.level, l.message, JSON.stringify(l.fields)) : undefined,
  );
}

export interface TestNode {
  node: Node;
  tcp: TcpTransport;
  lines: LogLine[];
}

export function testNode(name: string): TestNode {
  const { logger, lines } = capturingLogger();
  const node = new Node({ name, logger });
  const tcp = new TcpTransport(node);
  node.registerTransport(tcp);
  return { node, tcp, lines };
}

/** A node with a TCP listener and `echo` exposed to it (what session pings need). */
export async function listeningNode(
  name: string,
  port = 0,
): Promise<TestNode & { listener: TcpListener; port: number }> {
  const t = testNode(name);
  const listener = await t.tcp.listen(`127.0.0.1:${port}`);
  startEcho(t.node);
  t.node.flowControls.addConsumer('echo', listener.flowControlId);
  return { ...t, listener, port: listener.address.port };
}

export async function listenOn(server: Server | HttpServer, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

export function closeServer(server: Server | HttpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A plain TCP echo server; tracks its sockets. */
export async function echoTarget(): Promise<{
  server: Server;
  port: number;
  sockets: Set<Socket>;
  stop(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  const port = await listenOn(server);
  return {
    server,
    port,
    sockets,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await closeServer(server);
    },
  };
}

/** An HTTP server that answers `body` (or what the handler says). */
export async function httpTarget(
  body: string | Buffer,
): Promise<{ server: HttpServer; port: number; stop(): Promise<void> }> {
  const server = createHttpServer((req, res) => {
    if (req.url === '/echo') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(Buffer.concat(chunks)));
      return;
    }
    res.setHeader('content-type', 'application/octet-stream');
    res.end(body);
  });
  const port = await listenOn(server);
  return {
    server,
    port,
    stop: async () => {
      server.closeAllConnections();
      await closeServer(server);
    },
  };
}

export function httpGetBody(port: number, path = '/'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = httpGet({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks)));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

export function connectTo(port: number, options: { allowHalfOpen?: boolean } = {}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port, allowHalfOpen: options.allowHalfOpen ?? false });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Collects what a socket receives until it ends or closes. */
export function collect(socket: Socket): Promise<{ data: Buffer; error: Error | undefined }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: Error | undefined;
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (e) => {
      error = e;
    });
    socket.once('close', () => resolve({ data: Buffer.concat(chunks), error }));
  });
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export { waitFor };

/** TCP sockets this process holds (libuv handles), for leak checks. */
export function tcpHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap')
    .length;
}

/**
 * A TCP echo server, and a client connection that streams random bytes through a portal to it and
 * checks that every byte comes back, in order, with a SHA-256 over each direction.
 */
import { createHash, type Hash, randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface EchoServer {
  readonly port: number;
  readonly connections: number;
  close(): Promise<void>;
}

export async function startEchoServer(): Promise<EchoServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
    socket.pipe(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('echo server has no port');
  return {
    port: address.port,
    get connections() {
      return sockets.size;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface StreamResult {
  sent: number;
  received: number;
  /** True when both hashes match and every byte came back. */
  intact: boolean;
  /** The connection was closed or reset by the other side (not by us) before we finished. */
  closedByPeer: boolean;
  error?: string;
}

/**
 * One connection through a portal: writes random chunks while at most `window` bytes are unechoed,
 * hashing what it sends and what it receives.
 */
export class EchoStream {
  readonly #socket: Socket;
  readonly #sentHash: Hash = createHash('sha256');
  readonly #receivedHash: Hash = createHash('sha256');
  readonly #window: number;
  #sent = 0;
  #received = 0;
  #running = true;
  #error: string | undefined;
  #closed = false;
  #drained: (() => void) | undefined;
  readonly ready: Promise<void>;

  constructor(port: number, window = 32 * 1024) {
    this.#window = window;
    this.#socket = connect({ host: '127.0.0.1', port });
    this.#socket.setNoDelay(true);
    this.ready = new Promise((resolve, reject) => {
      this.#socket.once('connect', () => resolve());
      this.#socket.once('error', reject);
    });
    this.#socket.on('data', (chunk: Buffer) => {
      this.#received += chunk.length;
      this.#receivedHash.update(chunk);
      if (this.#received > this.#sent)
        this.#error ??= `received ${this.#received} bytes, sent only ${this.#sent}`;
      this.#pump();
      if (!this.#running && this.#received >= this.#sent) this.#drained?.();
    });
    this.#socket.on('error', (e) => {
      this.#error ??= e.message;
    });
    this.#socket.on('close', () => {
      this.#closed = true;
      if (this.#running) this.#error ??= 'connection closed while streaming';
      this.#drained?.();
    });
  }

  get sent(): number {
    return this.#sent;
  }

  get received(): number {
    return this.#received;
  }

  get error(): string | undefined {
    return this.#error;
  }

  start(): void {
    this.#pump();
  }

  #pump(): void {
    while (this.#running && !this.#closed && this.#sent - this.#received < this.#window) {
      const chunk = randomBytes(512 + Math.floor(Math.random() * 7680));
      this.#sentHash.update(chunk);
      this.#sent += chunk.length;
      this.#socket.write(chunk);
    }
  }

  /** Stops sending, waits (up to `timeoutMs`) for the echo of every byte, and compares. */
  async finish(timeoutMs: number): Promise<StreamResult> {
    this.#running = false;
    if (this.#received < this.#sent && !this.#closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.#drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const closedByPeer = this.#closed;
    this.#socket.destroy();
    const intact =
      this.#error === undefined &&
      this.#received === this.#sent &&
      this.#sentHash.digest('hex') === this.#receivedHash.digest('hex');
    return {
      sent: this.#sent,
      received: this.#received,
      intact,
      closedByPeer,
      ...(this.#error !== undefined
        ? { error: this.#error }
        : this.#received !== this.#sent
          ? { error: `${this.#sent - this.#received} bytes never came back` }
          : {}),
    };
  }

  destroy(): void {
    this.#running = false;
    this.#socket.destroy();
  }
}

/** Sends `data` through one new connection and resolves with what comes back once `data.length` bytes did. */
export function echoOnce(port: number, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let got = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`echo of ${data.length} bytes: only ${got} came back in ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(data));
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= data.length) {
        clearTimeout(timer);
        socket.destroy();
        resolve(new Uint8Array(Buffer.concat(chunks)));
      }
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on('close', () => {
      if (got < data.length) {
        clearTimeout(timer);
        reject(new Error(`echo of ${data.length} bytes: connection closed after ${got}`));
      }
    });
  });
}

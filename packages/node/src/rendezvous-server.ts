/**
 * A standalone rendezvous server (`ockam rendezvous create`): a UDP rendezvous service that tells
 * UDP nodes their public address, and a TCP healthcheck beside it that answers an HTTP request
 * with `Alive` after it has pinged the rendezvous service over UDP (as Ockam's does, so a load
 * balancer's HTTP probe checks the UDP side too). `rendezvousGetMyAddress` asks one which public
 * address it sees for us.
 *
 * @example
 * ```ts
 * import { rendezvousGetMyAddress, startRendezvousServer } from '@ockam/node';
 * const server = await startRendezvousServer({ udp: '0.0.0.0:4000', healthcheck: '0.0.0.0:4001' });
 * await rendezvousGetMyAddress('127.0.0.1:4000'); // '127.0.0.1:40123'
 * await server.stop();
 * ```
 */
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { type Logger, Node, OckamError, parseHostPort } from '@ockam/core';
import {
  getMyAddress,
  pingRendezvous,
  rendezvousRoute,
  startRendezvousService,
  UdpTransport,
} from '@ockam/transport-udp';

/** Healthchecks served at once; more connections are closed at once (each costs a UDP bind). */
const MAX_CONCURRENT_HEALTHCHECKS = 16;
/** How long a healthcheck client may take to send its request. */
const HEALTHCHECK_READ_TIMEOUT_MS = 5_000;
const ALIVE = 'HTTP/1.1 200 OK\r\n\r\nAlive\n';

export interface RendezvousServerOptions {
  /** UDP HOST:PORT of the rendezvous service (Ockam's default `0.0.0.0:4000`). */
  udp: string;
  /** TCP HOST:PORT of the healthcheck (none if omitted). */
  healthcheck?: string;
  logger?: Logger;
}

export interface RendezvousServer {
  /** The bound UDP address (the real port when 0 was asked). */
  readonly udpAddress: string;
  /** The bound healthcheck address, if any. */
  readonly healthcheckAddress: string | undefined;
  stop(): Promise<void>;
}

function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export async function startRendezvousServer(options: RendezvousServerOptions): Promise<RendezvousServer> {
  parseHostPort(options.udp);
  const node = new Node(options.logger ? { logger: options.logger } : {});
  const udp = new UdpTransport(node, options.logger ? { logger: options.logger } : {});
  node.registerTransport(udp);
  const stopNode = async () => {
    await udp.stop().catch(() => {});
    await node.stop();
  };
  let udpAddress: string;
  try {
    const bind = await udp.bind(options.udp);
    startRendezvousService(node, { exposeTo: [bind.flowControlId] });
    udpAddress = joinHostPort(bind.localAddress.host, bind.localAddress.port);
  } catch (e) {
    await stopNode();
    throw e;
  }
  // The healthcheck pings the service as a client would: over UDP, at an address it can reach.
  const { host: udpHost, port: udpPort } = parseHostPort(udpAddress);
  const target =
    udpHost === '0.0.0.0' ? `127.0.0.1:${udpPort}` : udpHost === '::' ? `[::1]:${udpPort}` : udpAddress;

  let healthcheckAddress: string | undefined;
  let server: ReturnType<typeof createServer> | undefined;
  if (options.healthcheck !== undefined) {
    const { host, port } = parseHostPort(options.healthcheck);
    let running = 0;
    const check = async (socket: Socket): Promise<void> => {
      const probe = await udp.bind('127.0.0.1:0');
      try {
        await pingRendezvous(probe, rendezvousRoute(target));
        socket.end(ALIVE);
      } catch (e) {
        options.logger?.warn('rendezvous healthcheck failed', { error: (e as Error).message });
        socket.destroy();
      } finally {
        await probe.close();
      }
    };
    server = createServer((socket) => {
      socket.on('error', () => {});
      if (running >= MAX_CONCURRENT_HEALTHCHECKS) {
        socket.destroy();
        return;
      }
      running++;
      socket.once('close', () => running--);
      socket.setTimeout(HEALTHCHECK_READ_TIMEOUT_MS, () => socket.destroy());
      // Read (and ignore) the request first, so an HTTP client sees a normal exchange.
      socket.once('data', () => {
        socket.pause();
        check(socket).catch(() => socket.destroy());
      });
    });
    const s = server;
    try {
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen({ host, port }, () => {
          s.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      await stopNode();
      throw new OckamError(
        'transport',
        'io',
        `Cannot listen for healthchecks on ${options.healthcheck}: ${(e as Error).message}`,
        { cause: e },
      );
    }
    const a = s.address() as AddressInfo;
    healthcheckAddress = joinHostPort(a.address, a.port);
  }
  return {
    udpAddress,
    healthcheckAddress,
    stop: async () => {
      if (server) {
        const s = server;
        await new Promise<void>((r) => s.close(() => r()));
      }
      await stopNode();
    },
  };
}

/** Asks the rendezvous server at `server` (UDP HOST:PORT) which public address it sees for us. */
export async function rendezvousGetMyAddress(
  server: string,
  options: { timeoutMs?: number } = {},
): Promise<string> {
  const node = new Node();
  const udp = new UdpTransport(node);
  node.registerTransport(udp);
  try {
    const bind = await udp.bind('0.0.0.0:0');
    return await getMyAddress(bind, rendezvousRoute(server), options);
  } finally {
    await udp.stop().catch(() => {});
    await node.stop();
  }
}

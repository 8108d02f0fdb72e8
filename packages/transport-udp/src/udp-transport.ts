/**
 * The UDP transport of a node (PROTOCOL.md §2.2): binds, and resolution of `2#ip:port` route hops.
 *
 * @example
 * ```ts
 * import { Node, startEcho } from '@ockam/core';
 * import { UdpTransport } from '@ockam/transport-udp';
 *
 * const server = new Node({ name: 'server' });
 * const serverUdp = new UdpTransport(server);
 * server.registerTransport(serverUdp);
 * const bind = await serverUdp.bind('127.0.0.1:0');
 * startEcho(server);
 * server.flowControls.addConsumer('echo', bind.flowControlId); // expose echo to the bind's peers
 *
 * const client = new Node({ name: 'client' });
 * client.registerTransport(new UdpTransport(client));
 * const reply = await client.client().request([`2#127.0.0.1:${bind.localAddress.port}`, 'echo'], new Uint8Array([1]));
 * await client.stop();
 * await server.stop();
 * ```
 */
import { createSocket, type Socket } from 'node:dgram';
import {
  type Address,
  type AddressLike,
  CancelledError,
  type FlowControlId,
  type Logger,
  type Node,
  type Transport,
  toAddress,
  UDP,
} from '@ockam/core';
import { UdpTransportError } from './errors.js';
import { Bind, errorMessage } from './internal/bind.js';
import { parseUdpAddress, resolveUdpPeer } from './internal/peer-address.js';
import type { ReassemblerOptions } from './reassembler.js';
import type { UdpBind, UdpBindStats } from './udp-bind.js';

export const DEFAULT_RECV_BUFFER_SIZE = 4 * 1024 * 1024;
export const DEFAULT_SEND_BUFFER_SIZE = 1024 * 1024;
export const DEFAULT_SEND_BURST = 32;
export const DEFAULT_MAX_QUEUED_MESSAGES = 1024;
export const DEFAULT_MAX_QUEUED_BYTES = 32 * 1024 * 1024;

export interface UdpTransportOptions {
  /** Default: the node's logger. */
  logger?: Logger;
  /** SO_RCVBUF requested for each socket (the kernel caps it at net.core.rmem_max); 4 MiB. */
  recvBufferSize?: number;
  /** SO_SNDBUF requested for each socket; 1 MiB. */
  sendBufferSize?: number;
  /** Datagrams sent before the sender yields to the event loop (pacing); 32. */
  sendBurst?: number;
  /** Bounds of each bind's reassembler. */
  reassembly?: ReassemblerOptions;
  /** Assembled messages waiting for the node, per bind, before new ones are dropped; 1024. */
  maxQueuedMessages?: number;
  /** Payload bytes waiting for the node, per bind; 32 MiB. */
  maxQueuedBytes?: number;
  /** Where `resolve` binds its one-peer sockets; '0.0.0.0:0'. */
  resolveBindAddress?: string;
}

export interface UdpBindOptions {
  /** Talk to this `host:port` only: routes then name no UDP address, other senders are dropped. */
  peer?: string;
  /** Flow-control ids whose producers may send through this bind (its sender becomes their consumer). */
  exposeTo?: readonly FlowControlId[];
  /** Make the reply address of whatever is sent a consumer of the bind's id (default true). */
  autoAdmitReplies?: boolean;
  signal?: AbortSignal;
}

/** `'host:port'`, `'port'`, or `{ host, port }`; IPv4 only. */
export type UdpBindAddressLike = string | { host?: string; port: number };

export class UdpTransport implements Transport {
  readonly type = UDP;
  readonly node: Node;
  readonly #logger: Logger;
  readonly #options: UdpTransportOptions;
  readonly #binds = new Set<Bind>();
  /** One-peer binds made by `resolve`, by the text of the address resolved. */
  readonly #resolved = new Map<string, Bind>();
  readonly #pending = new Map<string, Promise<Bind>>();
  #stopping: Promise<void> | undefined;

  constructor(node: Node, options: UdpTransportOptions = {}) {
    this.node = node;
    this.#logger = options.logger ?? node.logger;
    this.#options = options;
    const burst = options.sendBurst ?? DEFAULT_SEND_BURST;
    if (!(Number.isInteger(burst) && burst > 0)) throw new RangeError(`sendBurst must be ≥ 1, got ${burst}`);
    for (const k of ['recvBufferSize', 'sendBufferSize', 'maxQueuedMessages', 'maxQueuedBytes'] as const) {
      const v = options[k];
      if (v !== undefined && !(Number.isInteger(v) && v > 0))
        throw new RangeError(`${k} must be a positive integer, got ${v}`);
    }
  }

  /**
   * Binds a socket (`'0.0.0.0:0'` picks a free port on every interface; `bind.localAddress` tells
   * which) with its sender worker and receiver processor.
   */
  async bind(address: UdpBindAddressLike = '0.0.0.0:0', options: UdpBindOptions = {}): Promise<UdpBind> {
    this.#checkRunning();
    const { host, port } =
      typeof address === 'string'
        ? /^\d+$/.test(address)
          ? { host: '0.0.0.0', port: Number(address) }
          : parseUdpAddress(address)
        : { host: address.host ?? '0.0.0.0', port: address.port };
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new UdpTransportError('invalid', `Invalid UDP port ${port}: expected 0-65535`);
    const peer = options.peer === undefined ? undefined : await resolveUdpPeer(options.peer);
    const socket = await this.#open(host, port, options.signal);
    if (this.#stopping !== undefined) {
      socket.close();
      throw new UdpTransportError('shutdown', 'UDP transport is stopped');
    }
    const local = socket.address();
    const bind = new Bind({
      node: this.node,
      logger: this.#logger,
      socket,
      localAddress: { host: local.address, port: local.port },
      peer,
      flowControlId: this.node.flowControls.generateId(),
      exposeTo: options.exposeTo ?? [],
      autoAdmitReplies: options.autoAdmitReplies ?? true,
      reassembly: this.#options.reassembly ?? {},
      sendBurst: this.#options.sendBurst ?? DEFAULT_SEND_BURST,
      maxQueuedMessages: this.#options.maxQueuedMessages ?? DEFAULT_MAX_QUEUED_MESSAGES,
      maxQueuedBytes: this.#options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES,
      onClosed: (b) => {
        this.#binds.delete(b);
        for (const [k, v] of this.#resolved) if (v === b) this.#resolved.delete(k);
      },
    });
    this.#binds.add(bind);
    this.#logger.info('udp bind started', {
      address: `${local.address}:${local.port}`,
      sender: bind.senderAddress.value,
      peer: peer?.key,
      flowControlId: bind.flowControlId,
    });
    return bind;
  }

  /**
   * `Transport.resolve`: the sender of a one-peer bind to `address` (`2#host:port`), reusing the
   * open one for the same address. Ockam makes a new bind on every resolution; we keep one per peer.
   */
  async resolve(address: Address, options: { signal?: AbortSignal } = {}): Promise<Address> {
    this.#checkRunning();
    if (address.type !== UDP)
      throw new UdpTransportError('invalid', `Cannot resolve ${address}: not a UDP address`);
    const key = address.value;
    const existing = this.#resolved.get(key);
    if (existing?.isOpen) return existing.senderAddress;
    let pending = this.#pending.get(key);
    if (pending === undefined) {
      pending = this.bind(this.#options.resolveBindAddress ?? '0.0.0.0:0', { peer: key }).then(
        (b) => {
          this.#pending.delete(key);
          this.#resolved.set(key, b as Bind);
          return b as Bind;
        },
        (e: unknown) => {
          this.#pending.delete(key);
          throw e;
        },
      );
      this.#pending.set(key, pending);
    }
    const { signal } = options;
    if (signal === undefined) return (await pending).senderAddress;
    if (signal.aborted)
      throw new CancelledError('UDP resolve cancelled', 'transport', { cause: signal.reason });
    return new Promise<Address>((resolve, reject) => {
      const onAbort = (): void =>
        reject(new CancelledError('UDP resolve cancelled', 'transport', { cause: signal.reason }));
      signal.addEventListener('abort', onAbort, { once: true });
      pending.then(
        (b) => {
          signal.removeEventListener('abort', onAbort);
          resolve(b.senderAddress);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  /** Every open bind. */
  binds(): UdpBind[] {
    return [...this.#binds];
  }

  /** The open bind whose sender or receiver has this address. */
  bindOf(address: AddressLike): UdpBind | undefined {
    const a = toAddress(address);
    for (const b of this.#binds) if (b.senderAddress.equals(a) || b.receiverAddress.equals(a)) return b;
    return undefined;
  }

  /** Closes the bind that owns `address` (Ockam's `unbind`); false if there is none. */
  async unbind(address: AddressLike | UdpBind): Promise<boolean> {
    const bind = typeof address === 'object' && 'close' in address ? address : this.bindOf(address);
    if (bind === undefined) return false;
    await bind.close();
    return true;
  }

  /** Counters summed over the open binds. */
  stats(): UdpBindStats {
    const total: Record<string, number> = {};
    for (const b of this.#binds) {
      for (const [k, v] of Object.entries(b.stats())) total[k] = (total[k] ?? 0) + v;
    }
    return total as unknown as UdpBindStats;
  }

  /** Closes every bind. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= Promise.all([...this.#binds].map((b) => b.close())).then(() => undefined);
    return this.#stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #checkRunning(): void {
    if (this.#stopping !== undefined) throw new UdpTransportError('shutdown', 'UDP transport is stopped');
  }

  #open(host: string, port: number, signal: AbortSignal | undefined): Promise<Socket> {
    const where = `${host}:${port}`;
    if (signal?.aborted)
      return Promise.reject(
        new CancelledError(`UDP bind to ${where} cancelled`, 'transport', { cause: signal.reason }),
      );
    const socket = createSocket({
      type: 'udp4',
      recvBufferSize: this.#options.recvBufferSize ?? DEFAULT_RECV_BUFFER_SIZE,
      sendBufferSize: this.#options.sendBufferSize ?? DEFAULT_SEND_BUFFER_SIZE,
    });
    return new Promise<Socket>((resolve, reject) => {
      const settle = (error: Error | undefined): void => {
        socket.off('listening', onListening);
        socket.off('error', onError);
        signal?.removeEventListener('abort', onAbort);
        if (error === undefined) resolve(socket);
        else {
          try {
            socket.close();
          } catch {
            // never bound
          }
          reject(error);
        }
      };
      const onListening = (): void => settle(undefined);
      const onError = (e: Error): void =>
        settle(new UdpTransportError('io', `Cannot bind UDP ${where}: ${errorMessage(e)}`, { cause: e }));
      const onAbort = (): void =>
        settle(new CancelledError(`UDP bind to ${where} cancelled`, 'transport', { cause: signal?.reason }));
      socket.once('listening', onListening);
      socket.once('error', onError);
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.bind({ address: host, port });
    });
  }
}

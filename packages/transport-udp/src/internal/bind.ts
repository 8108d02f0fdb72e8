/**
 * One UDP bind: a socket, its sender worker and its receiver processor (PROTOCOL.md §1.3, §2.2).
 *
 * UDP has no back-pressure. Outbound, the sender yields to the event loop after every
 * `sendBurst` datagrams, so that a big message does not flood the socket buffers of a receiver
 * in the same process (and the sender's own event loop keeps reading). Inbound, assembled
 * messages wait in a bounded queue while the node routes them one at a time; when the queue is
 * full, new messages are dropped and counted, never buffered without limit.
 */

import type { RemoteInfo, Socket } from 'node:dgram';
import {
  Address,
  decodeTransportMessage,
  encodeTransportMessage,
  type FlowControlId,
  type LocalInfo,
  LocalMessage,
  type Logger,
  MAX_MESSAGE_SIZE,
  type Node,
  OckamError,
  Route,
  type RoutedMessage,
  UDP,
} from '@ockam/core';
import { fragmentRoutingMessage } from '../fragmentation.js';
import { Reassembler, type ReassemblerOptions } from '../reassembler.js';
import { nextRoutingNumber, randomRoutingNumber } from '../routing-number.js';
import type { UdpBind, UdpBindStats } from '../udp-bind.js';
import { literalUdpPeer, type PeerAddress, resolveUdpPeer } from './peer-address.js';

export interface BindInit {
  readonly node: Node;
  readonly logger: Logger;
  readonly socket: Socket;
  readonly localAddress: { host: string; port: number };
  readonly peer: PeerAddress | undefined;
  readonly flowControlId: FlowControlId;
  readonly exposeTo: readonly FlowControlId[];
  readonly autoAdmitReplies: boolean;
  readonly reassembly: ReassemblerOptions;
  readonly sendBurst: number;
  readonly maxQueuedMessages: number;
  readonly maxQueuedBytes: number;
  readonly onClosed: (bind: Bind) => void;
}

type Counters = Omit<UdpBindStats, 'peers' | 'pendingPeers' | 'pendingBytes' | keyof Reassembler['counters']>;

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class Bind implements UdpBind {
  readonly node: Node;
  readonly senderAddress: Address;
  readonly receiverAddress: Address;
  readonly flowControlId: FlowControlId;
  readonly localAddress: { readonly host: string; readonly port: number };
  readonly peer: string | undefined;
  readonly closed: Promise<void>;

  readonly #init: BindInit;
  readonly #node: Node;
  readonly #logger: Logger;
  readonly #socket: Socket;
  readonly #peer: PeerAddress | undefined;
  readonly #reassembler: Reassembler;
  readonly #localInfo: LocalInfo;
  readonly #counters: Counters = {
    datagramsIn: 0,
    bytesIn: 0,
    datagramsOut: 0,
    bytesOut: 0,
    messagesOut: 0,
    messagesIn: 0,
    wrongPeer: 0,
    undecodable: 0,
    empty: 0,
    queueFull: 0,
    routingFailed: 0,
    sendDropped: 0,
    sendErrors: 0,
  };
  #routingNumber = randomRoutingNumber();
  #sentSinceYield = 0;
  #queue: LocalMessage[] = [];
  #queueHead = 0;
  #queuedBytes = 0;
  #routing = false;
  #closing = false;
  #done: Promise<void> | undefined;
  #resolveClosed!: () => void;

  constructor(init: BindInit) {
    this.#init = init;
    this.#node = init.node;
    this.node = init.node;
    this.#logger = init.logger;
    this.#socket = init.socket;
    this.#peer = init.peer;
    this.peer = init.peer?.key;
    this.localAddress = init.localAddress;
    this.flowControlId = init.flowControlId;
    this.#reassembler = new Reassembler(init.reassembly);
    this.#localInfo = Object.freeze({ flowControlId: init.flowControlId });
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.senderAddress = Address.random('udp_sender_');
    this.receiverAddress = Address.random('udp_receiver_');
    const node = init.node;
    try {
      node.startWorker(this.senderAddress, {
        handleMessage: (_ctx, routed) => this.#send(routed),
        shutdown: () => {
          // Stopping the sender (Ockam's `unbind`) closes the bind.
          if (!this.#closing) void this.close();
        },
      });
      node.startProcessor(this.receiverAddress);
    } catch (e) {
      this.#closing = true;
      this.#done = Promise.resolve();
      init.socket.close();
      void node.stopWorker(this.senderAddress).catch(() => {});
      throw e;
    }
    node.flowControls.addProducer(this.receiverAddress, init.flowControlId);
    for (const id of init.exposeTo) node.flowControls.addConsumer(this.senderAddress, id);
    init.socket.on('message', this.#onMessage);
    init.socket.on('error', this.#onError);
  }

  get isOpen(): boolean {
    return !this.#closing;
  }

  stats(): UdpBindStats {
    const r = this.#reassembler;
    return {
      ...this.#counters,
      ...r.counters,
      peers: r.peers,
      pendingPeers: r.pendingPeers,
      pendingBytes: r.pendingBytes,
    };
  }

  close(): Promise<void> {
    this.#done ??= this.#close();
    return this.#done;
  }

  // ---- outbound ----

  #drop(reason: string, fields: Record<string, unknown> = {}): void {
    this.#counters.sendDropped++;
    this.#logger.warn('udp message dropped', { bind: this.senderAddress.value, reason, ...fields });
  }

  async #send(routed: RoutedMessage): Promise<void> {
    if (this.#closing) return;
    const message = routed.message;
    // §1.3: pop our own address; without a fixed peer the next hop is the peer's `2#ip:port`.
    let onward = message.onwardRoute.popFront();
    let peer = this.#peer;
    if (peer === undefined) {
      const next = onward.addresses[0];
      if (next === undefined || next.type !== UDP) {
        this.#drop('the route has no UDP address after the sender', {
          route: message.onwardRoute.toString(),
        });
        return;
      }
      onward = onward.popFront();
      peer = literalUdpPeer(next.value);
      if (peer === undefined) {
        try {
          peer = await resolveUdpPeer(next.value);
        } catch (e) {
          this.#drop(errorMessage(e), { peer: next.value });
          return;
        }
      }
    }
    if (peer.port === 0) {
      this.#drop('will not send to port 0', { peer: peer.key });
      return;
    }
    if (this.#init.autoAdmitReplies) this.#node.allowReplies(this.flowControlId, message.returnRoute);
    let bytes: Uint8Array;
    try {
      bytes = encodeTransportMessage(
        new LocalMessage(onward, message.returnRoute, message.payload, undefined, message.tracingContext),
      );
    } catch (e) {
      this.#drop(errorMessage(e), { peer: peer.key });
      return;
    }
    if (bytes.length > MAX_MESSAGE_SIZE) {
      this.#drop(`message of ${bytes.length} bytes exceeds ${MAX_MESSAGE_SIZE}`, { peer: peer.key });
      return;
    }
    const routingNumber = this.#routingNumber;
    this.#routingNumber = nextRoutingNumber(routingNumber);
    const datagrams = fragmentRoutingMessage(bytes, routingNumber);
    const c = this.#counters;
    c.messagesOut++;
    for (const d of datagrams) {
      if (this.#closing) return;
      try {
        this.#socket.send(d, peer.port, peer.host, this.#onSent);
      } catch (e) {
        c.sendErrors++;
        this.#logger.debug('udp send failed', { peer: peer.key, error: errorMessage(e) });
        return;
      }
      c.datagramsOut++;
      c.bytesOut += d.length;
      if (++this.#sentSinceYield >= this.#init.sendBurst) {
        this.#sentSinceYield = 0;
        await yieldToLoop();
      }
    }
  }

  readonly #onSent = (error: Error | null): void => {
    if (error) {
      this.#counters.sendErrors++;
      this.#logger.debug('udp send failed', { bind: this.senderAddress.value, error: error.message });
    }
  };

  // ---- inbound ----

  readonly #onMessage = (datagram: Buffer, rinfo: RemoteInfo): void => {
    if (this.#closing) return;
    const c = this.#counters;
    c.datagramsIn++;
    c.bytesIn += datagram.length;
    const from = `${rinfo.address}:${rinfo.port}`;
    if (this.#peer !== undefined && from !== this.#peer.key) {
      c.wrongPeer++;
      return;
    }
    const whole = this.#reassembler.push(from, datagram);
    if (whole === undefined) return;
    let m: LocalMessage;
    try {
      m = decodeTransportMessage(whole, 'UDP routing message');
    } catch (e) {
      c.undecodable++;
      this.#logger.debug('udp routing message dropped', { peer: from, reason: errorMessage(e) });
      return;
    }
    if (m.onwardRoute.isEmpty) {
      c.empty++;
      return;
    }
    if (
      this.#queue.length - this.#queueHead >= this.#init.maxQueuedMessages ||
      this.#queuedBytes + m.payload.length > this.#init.maxQueuedBytes
    ) {
      c.queueFull++;
      return;
    }
    // §2.2: replies go back through our sender, to the peer's address unless the bind has one peer.
    const prefix =
      this.#peer !== undefined ? [this.senderAddress] : [this.senderAddress, new Address(UDP, from)];
    const routed = new LocalMessage(
      m.onwardRoute,
      new Route([...prefix, ...m.returnRoute.addresses]),
      m.payload,
      this.#localInfo,
      m.tracingContext,
    );
    this.#queue.push(routed);
    this.#queuedBytes += m.payload.length;
    if (!this.#routing)
      this.#pump().catch((e: unknown) =>
        this.#logger.warn('udp receiver failed', { error: errorMessage(e) }),
      );
  };

  /** Routes queued messages one at a time, in order. */
  async #pump(): Promise<void> {
    this.#routing = true;
    const c = this.#counters;
    try {
      while (!this.#closing && this.#queueHead < this.#queue.length) {
        const m = this.#queue[this.#queueHead]!;
        this.#queue[this.#queueHead++] = undefined as unknown as LocalMessage;
        if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
          this.#queue = this.#queue.slice(this.#queueHead);
          this.#queueHead = 0;
        }
        this.#queuedBytes -= m.payload.length;
        try {
          await this.#node.route(this.receiverAddress, m);
          c.messagesIn++;
        } catch (e) {
          c.routingFailed++;
          this.#logger.debug('udp message not routed', {
            bind: this.senderAddress.value,
            to: m.onwardRoute.next().toString(),
            reason: errorMessage(e),
          });
        }
      }
    } finally {
      this.#routing = false;
    }
  }

  readonly #onError = (e: Error): void => {
    this.#logger.warn('udp socket error', { bind: this.senderAddress.value, error: e.message });
  };

  // ---- closing ----

  async #close(): Promise<void> {
    this.#closing = true;
    this.#queue = [];
    this.#queueHead = 0;
    this.#queuedBytes = 0;
    for (const a of [this.receiverAddress, this.senderAddress]) {
      try {
        await this.#node.stopWorker(a);
      } catch (e) {
        this.#logger.warn('udp worker failed to stop', { address: a.value, error: errorMessage(e) });
      }
    }
    this.#socket.off('message', this.#onMessage);
    await new Promise<void>((resolve) => {
      try {
        this.#socket.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    });
    this.#socket.off('error', this.#onError);
    this.#reassembler.clear();
    try {
      this.#init.onClosed(this);
    } catch (e) {
      this.#logger.warn('udp close listener failed', { error: errorMessage(e) });
    }
    this.#logger.debug('udp bind closed', { bind: this.senderAddress.value });
    this.#resolveClosed();
  }
}

export function errorMessage(e: unknown): string {
  if (OckamError.is(e) || e instanceof Error) return e.message;
  return String(e);
}

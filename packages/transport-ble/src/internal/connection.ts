/**
 * One BLE connection: a link, its sender worker and its receiver processor (PROTOCOL.md §1.3,
 * §2.3).
 *
 * - Sending: the worker encodes a message, then writes its length and its fragments one after
 *   another, waiting for each write; it takes its next message only when the last write of this
 *   one was taken, so a slow radio pushes back through the node's bounded mailboxes.
 * - Receiving: writes are reassembled in order; whole messages are routed one at a time. A radio
 *   cannot be paused, so at most `RECEIVE_QUEUE_MESSAGES` wait; more are dropped and counted.
 * - Bad input (a rejected length, a stray fragment, undecodable or undeliverable messages) is
 *   dropped and logged (once a minute per reason: a lossy radio or a hostile peer drops many), and
 *   the link stays up: on a lossy radio broken messages are expected, and the reassembler
 *   resynchronises on the next length.
 * - A central that connected must deliver a message within the transport's
 *   `limits.firstMessageTimeoutMs`, or its link is closed (core's `InboundGuard`).
 */
import {
  Address,
  type FlowControlId,
  type InboundGuard,
  type InboundWatch,
  type LocalInfo,
  LocalMessage,
  type Logger,
  type Node,
  OckamError,
  type Route,
  type RoutedMessage,
} from '@ockam/core';
import type { BleLink } from '../ble-adapter.js';
import type { BleCloseInfo, BleConnection, BleConnectionStats } from '../ble-connection.js';
import { decodeBleMessage, encodeBleMessage, fragmentPacket, PacketReassembler } from '../framing.js';

/** Reassembled messages waiting to be routed before more are dropped. */
export const RECEIVE_QUEUE_MESSAGES = 64;

export interface ConnectionInit {
  readonly node: Node;
  readonly logger: Logger;
  readonly link: BleLink;
  readonly flowControlId: FlowControlId;
  readonly spawnerFlowControlId?: FlowControlId | undefined;
  readonly exposeTo?: readonly FlowControlId[] | undefined;
  /** The transport's limits; the connection gets a watch of its own. */
  readonly guard: InboundGuard;
  readonly onClosing: (connection: Connection) => void;
  readonly onClosed: (connection: Connection, info: BleCloseInfo) => void;
}

export class Connection implements BleConnection {
  readonly role: BleLink['role'];
  readonly peer: string;
  readonly mtu: number;
  readonly senderAddress: Address;
  readonly receiverAddress: Address;
  readonly flowControlId: FlowControlId;
  readonly spawnerFlowControlId: FlowControlId | undefined;
  readonly closed: Promise<BleCloseInfo>;

  readonly #init: ConnectionInit;
  readonly #node: Node;
  readonly #logger: Logger;
  readonly #link: BleLink;
  readonly #localInfo: LocalInfo;
  readonly #reassembler: PacketReassembler;
  readonly #guard: InboundGuard;
  readonly #watch: InboundWatch;
  readonly #unsubscribe: Array<() => void> = [];
  #queue: LocalMessage[] = [];
  #routing = false;
  #closing = false;
  #done: Promise<BleCloseInfo> | undefined;
  #resolveClosed!: (info: BleCloseInfo) => void;
  #messagesIn = 0;
  #messagesOut = 0;
  #writesIn = 0;
  #writesOut = 0;
  #messagesDropped = 0;

  constructor(init: ConnectionInit) {
    this.#init = init;
    this.#node = init.node;
    this.#logger = init.logger;
    this.#link = init.link;
    this.role = init.link.role;
    this.peer = init.link.peer;
    this.mtu = init.link.mtu;
    this.flowControlId = init.flowControlId;
    this.spawnerFlowControlId = init.spawnerFlowControlId;
    this.#localInfo = Object.freeze({ flowControlId: init.flowControlId });
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#guard = init.guard;
    this.#reassembler = new PacketReassembler({
      onDrop: (reason, detail) =>
        this.#guard.log.warn(`fragment:${reason}`, 'ble fragment dropped', {
          peer: this.peer,
          reason,
          detail,
        }),
    });
    this.#watch = init.guard.watch({
      peer: this.peer,
      inbound: init.link.role === 'peripheral',
      handshake: false,
      onLimit: (info) => void this.#shutdown({ cause: 'timeout', reason: info.reason }),
    });
    // Fragments are cut for the link's MTU now, so a bad MTU fails here rather than on first send.
    fragmentPacket(Uint8Array.of(0), this.mtu);

    this.senderAddress = Address.random('ble_sender_');
    this.receiverAddress = Address.random('ble_receiver_');
    const node = init.node;
    try {
      node.startWorker(this.senderAddress, {
        handleMessage: (_ctx, routed) => this.#send(routed),
        shutdown: () => {
          if (!this.#closing) void this.#shutdown({ cause: 'local', reason: 'sender worker stopped' });
        },
      });
      node.startProcessor(this.receiverAddress);
    } catch (e) {
      this.#closing = true;
      this.#watch.release();
      this.#done = Promise.resolve({ cause: 'local', reason: 'could not start workers', error: e });
      void init.link.disconnect().catch(() => {});
      void node.stopWorker(this.senderAddress).catch(() => {});
      throw e;
    }
    node.flowControls.addProducer(this.receiverAddress, init.flowControlId, init.spawnerFlowControlId);
    for (const id of init.exposeTo ?? []) node.flowControls.addConsumer(this.senderAddress, id);
    this.#unsubscribe.push(init.link.onValue(this.#onValue));
    this.#unsubscribe.push(
      init.link.onDisconnect((reason) => {
        if (this.#closing) return;
        this.#logger.info('ble connection closed', { peer: this.peer, cause: 'peer', reason });
        void this.#shutdown({ cause: 'peer', reason });
      }),
    );
    if (!init.link.connected) void this.#shutdown({ cause: 'peer', reason: 'link down before use' });
  }

  get isOpen(): boolean {
    return !this.#closing;
  }

  stats(): BleConnectionStats {
    return {
      messagesIn: this.#messagesIn,
      messagesOut: this.#messagesOut,
      writesIn: this.#writesIn,
      writesOut: this.#writesOut,
      dropped: this.#reassembler.drops,
      messagesDropped: this.#messagesDropped,
    };
  }

  close(): Promise<BleCloseInfo> {
    return this.#shutdown({ cause: 'local', reason: 'closed locally' });
  }

  // ---- outbound ----

  async #send(routed: RoutedMessage): Promise<void> {
    if (this.#closing) {
      this.#logger.debug('ble connection is closing; message dropped', { peer: this.peer });
      return;
    }
    const message = routed.message;
    if (this.role === 'central') this.#node.allowReplies(this.flowControlId, message.returnRoute);
    let writes: Uint8Array[];
    try {
      // §1.3: the sender drops its own address; §2.3: the rest as one legacy message ≤ 1024 bytes.
      writes = fragmentPacket(encodeBleMessage(message.withOnward(message.onwardRoute.popFront())), this.mtu);
    } catch (e) {
      this.#logger.warn('ble message dropped: it cannot be sent', {
        peer: this.peer,
        reason: errorMessage(e),
      });
      return;
    }
    try {
      for (const w of writes) {
        if (this.#closing) return;
        await this.#link.write(w);
        this.#writesOut++;
      }
      this.#messagesOut++;
    } catch (e) {
      if (this.#closing) return;
      this.#logger.warn('ble connection closed', { peer: this.peer, cause: 'io', reason: errorMessage(e) });
      void this.#shutdown({ cause: 'io', reason: `write failed: ${errorMessage(e)}`, error: e });
    }
  }

  // ---- inbound ----

  readonly #onValue = (value: Uint8Array): void => {
    if (this.#closing) return;
    this.#writesIn++;
    const packet = this.#reassembler.push(value);
    if (packet === undefined) return;
    let message: LocalMessage;
    try {
      message = decodeBleMessage(packet);
    } catch (e) {
      this.#dropMessage('undecodable', errorMessage(e));
      return;
    }
    this.#messagesIn++;
    // An empty onward route is a heartbeat, as on the other transports; it is no first message.
    if (message.onwardRoute.isEmpty) return;
    this.#watch.delivered();
    if (this.#queue.length >= RECEIVE_QUEUE_MESSAGES) {
      this.#dropMessage('receive queue full', `${RECEIVE_QUEUE_MESSAGES} messages wait to be routed`);
      return;
    }
    this.#queue.push(
      new LocalMessage(
        message.onwardRoute,
        // §1.3: push the paired sender so that replies go back over this link.
        message.returnRoute.prepend(this.senderAddress),
        message.payload,
        this.#localInfo,
        message.tracingContext,
      ),
    );
    if (!this.#routing)
      this.#route().catch((e: unknown) => this.#dropMessage('internal error', errorMessage(e)));
  };

  async #route(): Promise<void> {
    this.#routing = true;
    try {
      for (;;) {
        if (this.#closing) return;
        const next = this.#queue.shift();
        if (next === undefined) return;
        try {
          await this.#node.route(this.receiverAddress, next);
        } catch (e) {
          this.#dropMessage('undeliverable', errorMessage(e));
        }
      }
    } finally {
      this.#routing = false;
    }
  }

  #dropMessage(reason: string, detail: string): void {
    this.#messagesDropped++;
    this.#guard.log.warn(`message:${reason}`, 'ble message dropped', { peer: this.peer, reason, detail });
  }

  // ---- closing ----

  #shutdown(info: BleCloseInfo): Promise<BleCloseInfo> {
    if (this.#done !== undefined) return this.#done;
    this.#closing = true;
    this.#watch.release();
    try {
      this.#init.onClosing(this);
    } catch (e) {
      this.#logger.warn('ble transport failed to forget a connection', {
        peer: this.peer,
        error: errorMessage(e),
      });
    }
    this.#done = this.#finish(info);
    return this.#done;
  }

  async #finish(info: BleCloseInfo): Promise<BleCloseInfo> {
    for (const off of this.#unsubscribe) off();
    this.#queue = [];
    this.#reassembler.reset();
    await this.#stopWorker(this.receiverAddress);
    await this.#stopWorker(this.senderAddress);
    try {
      if (this.#link.connected) await this.#link.disconnect();
    } catch (e) {
      this.#logger.warn('ble link failed to disconnect', { peer: this.peer, error: errorMessage(e) });
    }
    this.#resolveClosed(info);
    try {
      this.#init.onClosed(this, info);
    } catch (e) {
      this.#logger.warn('ble close listener failed', { peer: this.peer, error: errorMessage(e) });
    }
    return info;
  }

  async #stopWorker(address: Address): Promise<void> {
    try {
      await this.#node.stopWorker(address);
    } catch (e) {
      this.#logger.warn('ble worker failed to stop', { address: address.value, error: errorMessage(e) });
    }
  }
}

export function errorMessage(e: unknown): string {
  if (OckamError.is(e) || e instanceof Error) return e.message;
  return String(e);
}

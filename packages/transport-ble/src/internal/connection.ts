/**
 * One BLE connection (PROTOCOL.md §1.3, §2.3): core's `StreamConnection` (workers, flow control,
 * limits, idle timer, closing) over a GATT link.
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
import { errorMessage, type LocalMessage, StreamConnection, type StreamConnectionInit } from '@ockam/core';
import type { BleLink } from '../ble-adapter.js';
import type { BleCloseInfo, BleConnection, BleConnectionStats } from '../ble-connection.js';
import { decodeBleMessage, encodeBleMessage, fragmentPacket, PacketReassembler } from '../framing.js';

/** Reassembled messages waiting to be routed before more are dropped. */
export const RECEIVE_QUEUE_MESSAGES = 64;

export interface ConnectionInit extends Omit<StreamConnectionInit<BleCloseInfo>, 'peer'> {
  readonly link: BleLink;
}

export class Connection extends StreamConnection<BleCloseInfo> implements BleConnection {
  readonly role: BleLink['role'];
  readonly peer: string;
  readonly mtu: number;

  readonly #link: BleLink;
  readonly #reassembler: PacketReassembler;
  readonly #unsubscribe: Array<() => void> = [];
  #queue: LocalMessage[] = [];
  #writesIn = 0;
  #writesOut = 0;
  #messagesDropped = 0;

  constructor(init: ConnectionInit) {
    const link = init.link;
    // A central that connected to us (we are the peripheral, `incoming`) must deliver a message in time.
    super({ ...init, peer: link.peer });
    this.#link = link;
    this.role = link.role;
    this.peer = link.peer;
    this.mtu = link.mtu;
    this.#reassembler = new PacketReassembler({
      onDrop: (reason, detail) =>
        this.guard.log.warn(`fragment:${reason}`, 'ble fragment dropped', {
          peer: this.peer,
          reason,
          detail,
        }),
    });
    // Fragments are cut for the link's MTU now, so a bad MTU fails here rather than on first send.
    fragmentPacket(Uint8Array.of(0), this.mtu);
    this.start();
    this.#unsubscribe.push(link.onValue(this.#onValue));
    this.#unsubscribe.push(link.onDisconnect((reason) => this.peerClosed({ cause: 'peer', reason })));
    if (!link.connected) this.peerClosed({ cause: 'peer', reason: 'link down before use' });
  }

  stats(): BleConnectionStats {
    return {
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
      writesIn: this.#writesIn,
      writesOut: this.#writesOut,
      dropped: this.#reassembler.drops,
      messagesDropped: this.#messagesDropped,
    };
  }

  // ---- outbound ----

  protected async write(message: LocalMessage): Promise<void> {
    let writes: Uint8Array[];
    try {
      // §1.3: the sender drops its own address; §2.3: the rest as one legacy message ≤ 1024 bytes.
      writes = fragmentPacket(encodeBleMessage(message.withOnward(message.onwardRoute.popFront())), this.mtu);
    } catch (e) {
      this.logger.warn('ble message dropped: it cannot be sent', {
        peer: this.peer,
        reason: errorMessage(e),
      });
      return;
    }
    // One write at a time, each awaited: a slow radio holds the sender back.
    try {
      for (const w of writes) {
        if (!this.isOpen) return;
        await this.#link.write(w);
        this.#writesOut++;
      }
      this.messagesOut++;
    } catch (e) {
      this.fail({ cause: 'io', reason: `write failed: ${errorMessage(e)}`, error: e });
    }
  }

  // ---- inbound ----

  readonly #onValue = (value: Uint8Array): void => {
    if (!this.isOpen) return;
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
    // A radio cannot be paused: past the queue's bound, messages are dropped.
    if (this.#queue.length >= RECEIVE_QUEUE_MESSAGES) {
      this.#dropMessage('receive queue full', `${RECEIVE_QUEUE_MESSAGES} messages wait to be routed`);
      return;
    }
    this.#queue.push(message);
    this.received(this.#queue.length);
  };

  protected nextMessage(): LocalMessage | undefined {
    return this.#queue.shift();
  }

  /** On a lossy radio broken or stray messages are expected: drop them, keep the link. */
  protected override refused(_stage: 'decode' | 'route', error: unknown): boolean {
    this.#dropMessage('undeliverable', errorMessage(error));
    return true;
  }

  #dropMessage(reason: string, detail: string): void {
    this.#messagesDropped++;
    this.guard.log.warn(`message:${reason}`, 'ble message dropped', { peer: this.peer, reason, detail });
  }

  // ---- closing ----

  protected abort(): void {
    void this.#link.disconnect().catch(() => {});
  }

  protected async release(): Promise<undefined> {
    for (const off of this.#unsubscribe) off();
    this.#queue = [];
    this.#reassembler.reset();
    if (this.#link.connected) await this.#link.disconnect();
    return undefined;
  }
}

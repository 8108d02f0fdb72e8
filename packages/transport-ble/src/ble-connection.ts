/**
 * A BLE connection as the transport exposes it (PROTOCOL.md §2.3, §1.3, §1.5): one GATT link with
 * a sender worker (the BLE hop in routes) and a receiver processor (a flow-control producer), as
 * for TCP.
 *
 * @example
 * ```ts
 * const connection = await ble.connect('ockam_ble_1');
 * const reply = await node.client().request([connection.senderAddress, 'echo'], payload);
 * console.log(connection.stats().dropped); // what a lossy radio cost
 * ```
 */
import type { Address, FlowControlId, StreamCloseInfo, StreamConnectionView } from '@ockam/core';
import type { BleRole } from './ble-adapter.js';
import type { BleDropReason } from './framing.js';

/**
 * Why a connection closed: `local` (`close()`, `stop()`, its sender stopped), `peer` or `io` (the
 * link went down), `protocol` (the link refused a write), `timeout` (a central that connected
 * and sent no message within the transport's `limits.firstMessageTimeoutMs`).
 */
export type BleCloseCause = 'local' | 'peer' | 'io' | 'protocol' | 'timeout';

export interface BleCloseInfo extends StreamCloseInfo {
  readonly cause: BleCloseCause;
}

export interface BleConnectionStats {
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly writesOut: number;
  readonly writesIn: number;
  /** Writes or partial messages the reassembler threw away, by reason. */
  readonly dropped: Readonly<Record<BleDropReason, number>>;
  /** Whole messages dropped after reassembly: undecodable, undeliverable, or over the queue. */
  readonly messagesDropped: number;
}

export interface BleConnection extends StreamConnectionView<BleCloseInfo> {
  /** `central` for connections we opened, `peripheral` for centrals that connected to us. */
  readonly role: BleRole;
  /** The peer's name (as advertised) or address. */
  readonly peer: string;
  readonly mtu: number;
  stats(): BleConnectionStats;
  close(): Promise<BleCloseInfo>;
}

export interface BleListener {
  /** The advertised name: centrals reach us at `4#<name>`. */
  readonly name: string;
  /** The spawner id: make a service a consumer of it to expose the service to centrals. */
  readonly flowControlId: FlowControlId;
  readonly processorAddress: Address;
  readonly isOpen: boolean;
  connections(): BleConnection[];
  /** Stops advertising; links already up stay unless `closeConnections`. */
  close(options?: { closeConnections?: boolean }): Promise<void>;
}

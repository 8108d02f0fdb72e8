/**
 * A TCP listener (PROTOCOL.md §2.1, §1.5). It is a flow-control spawner: each connection it accepts
 * gets a receiver that is a producer with a fresh id and, as spawner id, `flowControlId`. Services
 * that clients of this listener may reach are made consumers of `flowControlId` by the caller.
 *
 * @example
 * ```ts
 * const listener = await tcp.listen('127.0.0.1:0');
 * startEcho(node);
 * node.flowControls.addConsumer('echo', listener.flowControlId);
 * console.log(`listening on ${listener.address.host}:${listener.address.port}`);
 * ```
 */
import type { Address, FlowControlId } from '@ockam/core';
import type { TcpConnection, TcpPeer } from './tcp-connection.js';

export interface TcpListener {
  /** The bound host and the actual port (useful after listening on port 0). */
  readonly address: TcpPeer;
  /** The spawner id: make a service a consumer of it to expose the service to clients. */
  readonly flowControlId: FlowControlId;
  /** The LOCAL address registered for this listener (the spawner in flow control). */
  readonly processorAddress: Address;
  readonly isOpen: boolean;
  /** The open connections this listener accepted. */
  connections(): TcpConnection[];
  /**
   * Stops accepting. Connections already accepted stay open unless `closeConnections` is true,
   * as in Ockam, where deleting a listener leaves its connections alone.
   */
  close(options?: { closeConnections?: boolean; signal?: AbortSignal }): Promise<void>;
}

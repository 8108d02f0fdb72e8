/**
 * A UDP bind (PROTOCOL.md §2.2, `transport/bind.rs`): one socket with a sender worker and a
 * receiver processor on the node.
 *
 * - Routes go through the sender: `[bind.senderAddress, '2#1.2.3.4:5000', 'echo']`. It pops its own
 *   address and the peer's, cuts the rest into datagrams and sends them. A bind made for one peer
 *   (`peer` option, or `UdpTransport.resolve`) pops only its own address.
 * - The receiver reassembles what arrives and routes it with `[senderAddress, (UDP, "ip:port")]`
 *   prepended to the return route (only `[senderAddress]` for a one-peer bind), so replies go back
 *   through the same socket.
 * - Flow control (§1.5): the receiver is a producer with `flowControlId`. Expose a service to
 *   everything that arrives on the bind with `node.flowControls.addConsumer(service, bind.flowControlId)`.
 *   A local worker that sends through the bind becomes a consumer, so its replies reach it.
 */
import type { Address, FlowControlId, Node } from '@ockam/core';
import type { ReassemblyCounters } from './reassembler.js';

export interface UdpBindStats extends ReassemblyCounters {
  /** Datagrams received and bytes in them. */
  datagramsIn: number;
  bytesIn: number;
  /** Datagrams and bytes handed to the socket, and routing messages sent. */
  datagramsOut: number;
  bytesOut: number;
  messagesOut: number;
  /** Routing messages delivered to the node. */
  messagesIn: number;
  /** Datagrams from another address than a one-peer bind's peer. */
  wrongPeer: number;
  /** Assembled messages that are not a valid `UdpRoutingMessage`. */
  undecodable: number;
  /** Messages with an empty onward route (keep-alives, early puncture pings). */
  empty: number;
  /** Messages dropped because the node was not taking them fast enough. */
  queueFull: number;
  /** Messages the node refused (no such worker). */
  routingFailed: number;
  /** Outgoing messages dropped: no UDP peer in the route, unresolvable host, or over 16 MiB. */
  sendDropped: number;
  /** Datagrams the socket failed to send. */
  sendErrors: number;
  /** Peers remembered and partial messages held by the reassembler. */
  peers: number;
  pendingPeers: number;
  pendingBytes: number;
}

export interface UdpBind {
  /** The node the bind's workers run on. */
  readonly node: Node;
  /** The route hop: `[senderAddress, '2#ip:port', …]`. */
  readonly senderAddress: Address;
  /** The flow-control producer of everything that arrives. */
  readonly receiverAddress: Address;
  readonly flowControlId: FlowControlId;
  /** The local address actually bound. */
  readonly localAddress: { readonly host: string; readonly port: number };
  /** `ip:port` of the only peer of this bind, if it has one. */
  readonly peer: string | undefined;
  readonly isOpen: boolean;
  stats(): UdpBindStats;
  /** Stops the workers and closes the socket. Idempotent. */
  close(): Promise<void>;
  /** Resolves once the bind is closed (never rejects). */
  readonly closed: Promise<void>;
}

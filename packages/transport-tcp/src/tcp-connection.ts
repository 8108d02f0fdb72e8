/**
 * A TCP connection as the transport exposes it (PROTOCOL.md §2.1, §1.5). Each connection has two
 * local addresses:
 *
 * - `senderAddress`, a worker: a message routed to it loses this first address and the rest goes
 *   to the peer. Routes use it as the TCP hop (`node.resolveRoute` substitutes it for `1#host:port`).
 * - `receiverAddress`, a processor: it routes every message that arrives from the peer, after
 *   pushing `senderAddress` onto the front of the return route so that replies go back the same
 *   way. It is a flow-control producer with `flowControlId`: what the peer sends reaches only
 *   consumers of that id (or, for an accepted connection, of its listener's id).
 *
 * @example
 * ```ts
 * const connection = await tcp.connect('127.0.0.1:4000');
 * const reply = await node.client().request([connection.senderAddress, 'echo'], payload);
 * connection.closed.then(({ reason }) => console.log('closed:', reason));
 * await connection.close();
 * ```
 */
import type {
  HostPort,
  StreamCloseCause,
  StreamCloseInfo,
  StreamConnectionMode,
  StreamConnectionStats,
  StreamConnectionView,
} from '@ockam/core';

/** Who opened the connection: we did (`outgoing`), or a listener accepted it (`incoming`). */
export type TcpConnectionMode = StreamConnectionMode;

/** What we connected to, or the remote end of an accepted socket. */
export type TcpPeer = HostPort;

/**
 * Why a connection closed (core's `StreamCloseCause`): `local`, `peer`, `io` (reset,
 * unreachable), `protocol` (the peer broke the framing: version byte, length, CBOR), `routing`,
 * `timeout` (idle, or too slow for one of the transport's `limits`) or `limit` (the budget).
 */
export type TcpCloseCause = StreamCloseCause;

/** Why and how a connection closed: `reason` is a sentence for logs (`Unsupported TCP protocol version 2, expected 1`). */
export type TcpCloseInfo = StreamCloseInfo;

/** Counters for diagnostics and memory checks (`inboundBufferedBytes` is bounded by `receiveBufferBytes` + one frame). */
export type TcpConnectionStats = StreamConnectionStats;

export interface TcpConnection extends StreamConnectionView<TcpCloseInfo> {
  /** The address we connected to (outgoing) or the remote address of the socket (incoming). */
  readonly peer: TcpPeer;
  stats(): TcpConnectionStats;
  /**
   * Ends the socket gracefully (bytes already written are flushed; a peer that does not read gets
   * its socket destroyed after a grace period) and stops both workers. Aborting `signal` destroys
   * the socket at once.
   */
  close(options?: { signal?: AbortSignal }): Promise<TcpCloseInfo>;
}

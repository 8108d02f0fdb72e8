/**
 * A WebSocket connection as the transport exposes it (PROTOCOL.md §2.4, §1.3, §1.5). Like a TCP
 * connection it has two local addresses:
 *
 * - `senderAddress`, a worker: a message routed to it loses this first address and the rest goes
 *   to the peer as one binary WebSocket message. Routes use it as the WebSocket hop
 *   (`node.resolveRoute` substitutes it for `3#host:port`).
 * - `receiverAddress`, a processor: it routes every message that arrives from the peer, after
 *   pushing `senderAddress` onto the front of the return route. It is a flow-control producer with
 *   `flowControlId`: what the peer sends reaches only consumers of that id (or, for an accepted
 *   connection, of its listener's id).
 *
 * @example
 * ```ts
 * const connection = await ws.connect('ws://127.0.0.1:4000');
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
export type WebSocketConnectionMode = StreamConnectionMode;

/** The remote end: the host and port we connected to, or those of an accepted socket. */
export type WebSocketPeer = HostPort;

/**
 * Why a connection closed (core's `StreamCloseCause`): `local`, `peer`, `io`, `protocol` (text
 * message, oversized message, bad version or bytes), `routing`, `timeout` (idle, or too slow for
 * one of the transport's `limits`) or `limit` (the budget for what peers send).
 */
export type WebSocketCloseCause = StreamCloseCause;

export interface WebSocketCloseInfo extends StreamCloseInfo {
  /** The WebSocket close code we sent or received, if any. */
  readonly code?: number;
}

/** Counters for diagnostics (`outboundBufferedBytes` is the socket's `bufferedAmount`). */
export type WebSocketConnectionStats = StreamConnectionStats;

export interface WebSocketConnection extends StreamConnectionView<WebSocketCloseInfo> {
  /** The URL we connected to (outgoing) or `ws://remote-host:port/` of the peer (incoming). */
  readonly url: string;
  readonly peer: WebSocketPeer;
  stats(): WebSocketConnectionStats;
  /**
   * Starts the closing handshake (code 1000) and stops both workers; a peer that does not answer
   * within a grace period has its socket terminated (on Node). Aborting `signal` terminates at once.
   */
  close(options?: { signal?: AbortSignal }): Promise<WebSocketCloseInfo>;
}

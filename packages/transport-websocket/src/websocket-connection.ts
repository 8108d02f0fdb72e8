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
import type { Address, FlowControlId } from '@ockam/core';

/** Who opened the connection: we did (`outgoing`), or a listener accepted it (`incoming`). */
export type WebSocketConnectionMode = 'outgoing' | 'incoming';

/** The remote end: what we connected to, or the remote address of an accepted socket. */
export interface WebSocketPeer {
  readonly host: string;
  readonly port: number;
}

/**
 * Why a connection closed:
 * - `local`: `close()`, `transport.stop()`, or its sender worker was stopped;
 * - `peer`: the peer closed the connection;
 * - `io`: the socket failed;
 * - `protocol`: the peer broke the framing (text message, oversized message, bad version or bytes);
 * - `routing`: the peer sent a message that cannot be delivered (unknown address);
 * - `timeout`: the peer was too slow for one of the transport's `limits` (a frame, a first message);
 * - `limit`: what the peer sent did not fit in the transport's budget (`limits.maxBufferedBytes`).
 */
export type WebSocketCloseCause = 'local' | 'peer' | 'io' | 'protocol' | 'routing' | 'timeout' | 'limit';

export interface WebSocketCloseInfo {
  readonly cause: WebSocketCloseCause;
  /** A sentence for logs: `text WebSocket messages are not Ockam messages`. */
  readonly reason: string;
  /** The WebSocket close code we sent or received, if any. */
  readonly code?: number;
  readonly error?: unknown;
}

export interface WebSocketConnectionStats {
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
  /** Bytes received and not yet routed. */
  readonly inboundBufferedBytes: number;
  /** The socket's `bufferedAmount`: bytes sent and not yet handed to the network. */
  readonly outboundBufferedBytes: number;
  /** Whether reading is paused because the node cannot take messages as fast as they arrive. */
  readonly readPaused: boolean;
}

export interface WebSocketConnection {
  readonly mode: WebSocketConnectionMode;
  /** The URL we connected to (outgoing) or `ws://remote-host:port/` of the peer (incoming). */
  readonly url: string;
  readonly peer: WebSocketPeer;
  /** `host:port` of `peer`. */
  readonly peerAddress: string;
  /** The LOCAL address of the sender worker: the WebSocket hop in routes. */
  readonly senderAddress: Address;
  /** The LOCAL address of the receiver processor, a flow-control producer. */
  readonly receiverAddress: Address;
  /** The producer id of this connection's receiver. */
  readonly flowControlId: FlowControlId;
  /** For an accepted connection, the id of the listener that spawned it. */
  readonly spawnerFlowControlId: FlowControlId | undefined;
  /** False once closing has begun. */
  readonly isOpen: boolean;
  /** Resolves (never rejects) when the connection is closed and its workers are stopped. */
  readonly closed: Promise<WebSocketCloseInfo>;
  stats(): WebSocketConnectionStats;
  /**
   * Starts the closing handshake (code 1000) and stops both workers; a peer that does not answer
   * within a grace period has its socket terminated (on Node). Aborting `signal` terminates at once.
   */
  close(options?: { signal?: AbortSignal }): Promise<WebSocketCloseInfo>;
}

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
import type { Address, FlowControlId } from '@ockam/core';

/** Who opened the connection: we did (`outgoing`), or a listener accepted it (`incoming`). */
export type TcpConnectionMode = 'outgoing' | 'incoming';

/** A host and port: what we connected to, or the remote end of an accepted socket. */
export interface TcpPeer {
  readonly host: string;
  readonly port: number;
}

/**
 * Why a connection closed:
 * - `local`: `close()`, `tcp.stop()`, or its sender worker was stopped;
 * - `peer`: the peer closed the connection;
 * - `io`: a socket error (reset, unreachable);
 * - `protocol`: the peer broke the framing (version byte, length, CBOR);
 * - `routing`: the peer sent a message that cannot be delivered (unknown address);
 * - `timeout`: no traffic for the configured idle time, or the peer was too slow for one of the
 *   transport's `limits` (version byte, a frame, a first message);
 * - `limit`: what the peer sent did not fit in the transport's budget (`limits.maxBufferedBytes`).
 */
export type TcpCloseCause = 'local' | 'peer' | 'io' | 'protocol' | 'routing' | 'timeout' | 'limit';

export interface TcpCloseInfo {
  readonly cause: TcpCloseCause;
  /** A sentence for logs: `Unsupported TCP protocol version 2, expected 1`. */
  readonly reason: string;
  readonly error?: unknown;
}

/** Counters for diagnostics and memory checks. */
export interface TcpConnectionStats {
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
  /** Bytes read from the socket and not yet routed (bounded by `receiveBufferBytes` + one frame). */
  readonly inboundBufferedBytes: number;
  /** Bytes handed to the socket and not yet flushed to the kernel. */
  readonly outboundBufferedBytes: number;
  /** Whether reading is paused because the node cannot take messages as fast as they arrive. */
  readonly readPaused: boolean;
}

export interface TcpConnection {
  readonly mode: TcpConnectionMode;
  /** The address we connected to (outgoing) or the remote address of the socket (incoming). */
  readonly peer: TcpPeer;
  /** `host:port` of `peer`. */
  readonly peerAddress: string;
  /** The LOCAL address of the sender worker: the TCP hop in routes. */
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
  readonly closed: Promise<TcpCloseInfo>;
  stats(): TcpConnectionStats;
  /**
   * Ends the socket gracefully (bytes already written are flushed; a peer that does not read gets
   * its socket destroyed after a grace period) and stops both workers. Aborting `signal` destroys
   * the socket at once.
   */
  close(options?: { signal?: AbortSignal }): Promise<TcpCloseInfo>;
}

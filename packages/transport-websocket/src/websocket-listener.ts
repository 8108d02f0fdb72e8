/**
 * A WebSocket listener (PROTOCOL.md §2.4, §1.5) and the server interface behind it. The listener
 * is a flow-control spawner: each connection it accepts gets a receiver that is a producer with a
 * fresh id and, as spawner id, `flowControlId`. Services that its clients may reach are made
 * consumers of `flowControlId` by the caller.
 *
 * Listening needs a WebSocket server, which browsers do not have: the Node.js entry of this package
 * provides one built on `ws`; elsewhere pass a `WebSocketServerFactory` to the transport.
 *
 * @example
 * ```ts
 * const listener = await ws.listen('127.0.0.1:0');
 * startEcho(node);
 * node.flowControls.addConsumer('echo', listener.flowControlId);
 * console.log(listener.url); // ws://127.0.0.1:54321/
 * ```
 */
import type { Address, FlowControlId } from '@ockam/core';
import type { WebSocketConnection, WebSocketPeer } from './websocket-connection.js';
import type { WebSocketLike } from './websocket-like.js';

export interface WebSocketListener {
  /** The bound host and the actual port (useful after listening on port 0). */
  readonly address: WebSocketPeer;
  /** `ws://host:port/path` clients connect to. */
  readonly url: string;
  /** The spawner id: make a service a consumer of it to expose the service to clients. */
  readonly flowControlId: FlowControlId;
  /** The LOCAL address registered for this listener (the spawner in flow control). */
  readonly processorAddress: Address;
  readonly isOpen: boolean;
  /** The open connections this listener accepted. */
  connections(): WebSocketConnection[];
  /**
   * Lets pages from `origin` (`scheme://host[:port]`) connect too, as `allowedOrigins` does at
   * `listen` (e.g. once the server that serves them is bound). Throws a `RangeError` for a value
   * that is not an origin.
   */
  allowOrigin(origin: string): void;
  /**
   * Stops accepting. Connections already accepted stay open unless `closeConnections` is true,
   * as with TCP listeners.
   */
  close(options?: { closeConnections?: boolean; signal?: AbortSignal }): Promise<void>;
}

/** What a server must do for `listen`: bind, hand over accepted sockets, and close. */
export interface WebSocketServerOptions {
  readonly host: string;
  readonly port: number;
  /** Only upgrade requests for this path are accepted (default: any path). */
  readonly path?: string | undefined;
  /** An existing HTTP server (Node's `http.Server`) to attach to instead of binding a port. */
  readonly server?: unknown;
  /** Largest message accepted; bigger ones close the socket before they are buffered. */
  readonly maxPayload: number;
  /**
   * Whether an upgrade request may proceed, asked before the handshake completes. A server must
   * answer a refused request with HTTP 403 and close the socket, without upgrading it.
   */
  readonly verifyUpgrade?: ((request: WebSocketUpgradeRequest) => boolean) | undefined;
  /**
   * Connections (upgraded or still in their handshake) a bound server holds before it closes one
   * more at once. A server given an existing HTTP server leaves this to the transport.
   */
  readonly maxConnections?: number | undefined;
  /** Time from accept to the end of the upgrade, after which a bound server destroys the socket. */
  readonly handshakeTimeoutMs?: number | undefined;
  /** Told of each connection the server refused or closed for one of the two limits above. */
  readonly onLimit?:
    | ((peer: WebSocketPeer, limit: 'max-connections' | 'handshake-timeout') => void)
    | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** What `verifyUpgrade` is told about an upgrade request. */
export interface WebSocketUpgradeRequest {
  /** The `Origin` header: present on every request a browser makes, absent from other clients'. */
  readonly origin: string | undefined;
  /** The `Host` header: the authority the client connected to. */
  readonly host: string | undefined;
  readonly peer: WebSocketPeer;
}

export interface WebSocketServerHandle {
  /** The bound host and port. */
  readonly address: WebSocketPeer;
  /** Stops accepting; does not close accepted sockets. */
  close(): Promise<void>;
}

/** Starts a server and calls `onConnection` with every accepted (already open) socket. */
export type WebSocketServerFactory = (
  options: WebSocketServerOptions,
  onConnection: (socket: WebSocketLike, peer: WebSocketPeer) => void,
) => Promise<WebSocketServerHandle>;

/** A bound WebSocket server registered as a flow-control spawner (PROTOCOL.md §1.5, §2.4). */
import type { Address, FlowControlId, Logger, Node } from '@ockam/core';
import type { WebSocketPeer } from '../websocket-connection.js';
import type { WebSocketListener, WebSocketServerHandle } from '../websocket-listener.js';
import { type Connection, errorMessage } from './connection.js';
import type { OriginPolicy } from './origin-policy.js';

export interface ListenerInit {
  readonly node: Node;
  readonly logger: Logger;
  readonly server: WebSocketServerHandle;
  readonly url: string;
  readonly flowControlId: FlowControlId;
  readonly processorAddress: Address;
  readonly origins: OriginPolicy;
  readonly onClosed: (listener: Listener) => void;
}

export class Listener implements WebSocketListener {
  readonly address: WebSocketPeer;
  readonly url: string;
  readonly flowControlId: FlowControlId;
  readonly processorAddress: Address;
  readonly #init: ListenerInit;
  readonly #connections = new Set<Connection>();
  #closing: Promise<void> | undefined;

  constructor(init: ListenerInit) {
    this.#init = init;
    this.address = init.server.address;
    this.url = init.url;
    this.flowControlId = init.flowControlId;
    this.processorAddress = init.processorAddress;
  }

  get isOpen(): boolean {
    return this.#closing === undefined;
  }

  connections(): Connection[] {
    return [...this.#connections];
  }

  allowOrigin(origin: string): void {
    this.#init.origins.allow(origin);
  }

  /** @internal How many connections are open, for `maxConnections`. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** @internal */
  add(connection: Connection): void {
    this.#connections.add(connection);
  }

  /** @internal */
  remove(connection: Connection): void {
    this.#connections.delete(connection);
  }

  async close(options: { closeConnections?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    this.#closing ??= this.#close();
    await this.#closing;
    if (options.closeConnections) {
      await Promise.all(this.connections().map((c) => c.close({ signal: options.signal })));
    }
  }

  async #close(): Promise<void> {
    const { node, server, logger } = this.#init;
    try {
      await server.close();
    } catch (e) {
      logger.warn('websocket server failed to close', { url: this.url, error: errorMessage(e) });
    }
    try {
      await node.stopWorker(this.processorAddress);
    } catch (e) {
      logger.warn('websocket listener failed to stop its processor', {
        address: this.processorAddress.value,
        error: errorMessage(e),
      });
    }
    // Exposures to this listener die with it, so that a stopped listener leaves nothing behind.
    for (const a of node.addresses()) {
      if (node.flowControls.isConsumer(a, this.flowControlId))
        node.flowControls.removeConsumer(a, this.flowControlId);
    }
    this.#init.onClosed(this);
  }
}

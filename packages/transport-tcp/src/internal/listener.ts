/** A bound `net.Server` registered as a flow-control spawner (PROTOCOL.md §1.5, §2.1). */
import type { Server } from 'node:net';
import type { Address, FlowControlId, Logger, Node } from '@ockam/core';
import type { TcpPeer } from '../tcp-connection.js';
import type { TcpListener } from '../tcp-listener.js';
import { type Connection, errorMessage } from './connection.js';

export interface ListenerInit {
  readonly node: Node;
  readonly logger: Logger;
  readonly server: Server;
  readonly address: TcpPeer;
  readonly flowControlId: FlowControlId;
  readonly processorAddress: Address;
  readonly onClosed: (listener: Listener) => void;
}

export class Listener implements TcpListener {
  readonly address: TcpPeer;
  readonly flowControlId: FlowControlId;
  readonly processorAddress: Address;
  readonly #init: ListenerInit;
  readonly #connections = new Set<Connection>();
  #closing: Promise<void> | undefined;

  constructor(init: ListenerInit) {
    this.#init = init;
    this.address = init.address;
    this.flowControlId = init.flowControlId;
    this.processorAddress = init.processorAddress;
  }

  get isOpen(): boolean {
    return this.#closing === undefined;
  }

  connections(): Connection[] {
    return [...this.#connections];
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
    // The listening handle is released at once; the callback would wait for accepted sockets.
    server.close();
    try {
      await node.stopWorker(this.processorAddress);
    } catch (e) {
      logger.warn('tcp listener failed to stop its processor', {
        address: this.processorAddress.value,
        error: errorMessage(e),
      });
    }
    // Exposures to this listener are the caller's, but they die with it: forget them, so that a
    // stopped listener leaves nothing behind in flow control.
    for (const a of node.addresses()) {
      if (node.flowControls.isConsumer(a, this.flowControlId))
        node.flowControls.removeConsumer(a, this.flowControlId);
    }
    this.#init.onClosed(this);
  }
}

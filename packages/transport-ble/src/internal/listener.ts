/** A BLE advertisement registered as a flow-control spawner (PROTOCOL.md §1.5, §2.3). */
import type { Address, FlowControlId, Logger, Node } from '@ockam/core';
import type { BleAdvertisement } from '../ble-adapter.js';
import type { BleListener } from '../ble-connection.js';
import { type Connection, errorMessage } from './connection.js';

export class Listener implements BleListener {
  readonly name: string;
  readonly flowControlId: FlowControlId;
  readonly processorAddress: Address;
  readonly #node: Node;
  readonly #logger: Logger;
  readonly #onClosed: (l: Listener) => void;
  readonly #connections = new Set<Connection>();
  #advertisement: BleAdvertisement | undefined;
  #closing: Promise<void> | undefined;

  constructor(
    node: Node,
    name: string,
    flowControlId: FlowControlId,
    processorAddress: Address,
    logger: Logger,
    onClosed: (l: Listener) => void,
  ) {
    this.#node = node;
    this.name = name;
    this.flowControlId = flowControlId;
    this.processorAddress = processorAddress;
    this.#logger = logger;
    this.#onClosed = onClosed;
  }

  get isOpen(): boolean {
    return this.#closing === undefined;
  }

  started(advertisement: BleAdvertisement): void {
    this.#advertisement = advertisement;
  }

  connections(): Connection[] {
    return [...this.#connections];
  }

  /** How many links are up, for `maxConnections`. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  add(c: Connection): void {
    this.#connections.add(c);
  }

  remove(c: Connection): void {
    this.#connections.delete(c);
  }

  async close(options: { closeConnections?: boolean } = {}): Promise<void> {
    this.#closing ??= this.#close();
    await this.#closing;
    if (options.closeConnections) await Promise.all(this.connections().map((c) => c.close()));
  }

  async #close(): Promise<void> {
    try {
      await this.#advertisement?.stop();
    } catch (e) {
      this.#logger.warn('ble advertisement failed to stop', { name: this.name, error: errorMessage(e) });
    }
    await this.#node
      .stopWorker(this.processorAddress)
      .catch((e: unknown) =>
        this.#logger.warn('ble listener failed to stop its processor', { error: errorMessage(e) }),
      );
    for (const a of this.#node.addresses()) {
      if (this.#node.flowControls.isConsumer(a, this.flowControlId))
        this.#node.flowControls.removeConsumer(a, this.flowControlId);
    }
    this.#onClosed(this);
  }
}

/**
 * What every stream transport's listener does the same way (PROTOCOL.md §1.5): a processor
 * registered as a flow-control spawner, the connections it accepted (counted for
 * `limits.maxConnections`), and one way to close that stops accepting, stops the processor and
 * forgets every exposure to it, so that a closed listener leaves nothing behind in flow control.
 *
 * A transport makes one with `StreamTransport.openListener` and says how accepting stops.
 *
 * @example
 * ```ts
 * class PipeListener extends StreamListener<PipeConnection> {
 *   constructor(init: StreamListenerInit, readonly server: PipeServer) { super(init); }
 *   protected stopAccepting(): Promise<void> { return this.server.close(); }
 * }
 * ```
 */
import type { Address } from '../address.js';
import type { FlowControlId } from '../flow-control.js';
import type { Logger } from '../logger.js';
import type { Node } from '../node.js';
import { errorMessage } from './stream-connection.js';

/** What a listener is told when the transport makes it. */
export interface StreamListenerInit {
  readonly node: Node;
  readonly logger: Logger;
  /** Names the transport in log lines. */
  readonly transport: string;
  /** The spawner id: services are made consumers of it to be exposed to the listener's clients. */
  readonly flowControlId: FlowControlId;
  /** The processor registered as the spawner. */
  readonly processorAddress: Address;
  /** Called once the listener is closed (the transport forgets it). */
  readonly onClosed: () => void;
}

export abstract class StreamListener<
  C extends { close(options?: { signal?: AbortSignal }): Promise<unknown> },
> {
  /** The spawner id: make a service a consumer of it to expose the service to clients. */
  readonly flowControlId: FlowControlId;
  /** The LOCAL address registered for this listener (the spawner in flow control). */
  readonly processorAddress: Address;
  protected readonly logger: Logger;
  readonly #init: StreamListenerInit;
  readonly #connections = new Set<C>();
  #closing: Promise<void> | undefined;

  constructor(init: StreamListenerInit) {
    this.#init = init;
    this.logger = init.logger;
    this.flowControlId = init.flowControlId;
    this.processorAddress = init.processorAddress;
  }

  get isOpen(): boolean {
    return this.#closing === undefined;
  }

  /** The open connections this listener accepted. */
  connections(): C[] {
    return [...this.#connections];
  }

  /** @internal How many connections are open, for `maxConnections`. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** @internal */
  add(connection: C): void {
    this.#connections.add(connection);
  }

  /** @internal */
  remove(connection: C): void {
    this.#connections.delete(connection);
  }

  /**
   * Stops accepting. Connections already accepted stay open unless `closeConnections` is true,
   * as in Ockam, where deleting a listener leaves its connections alone.
   */
  async close(options: { closeConnections?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    this.#closing ??= this.#close();
    await this.#closing;
    if (options.closeConnections) {
      const { signal } = options;
      await Promise.all(this.connections().map((c) => c.close(signal ? { signal } : {})));
    }
  }

  /** Releases the server (or stops advertising): no more connections are accepted. */
  protected abstract stopAccepting(): Promise<void>;

  async #close(): Promise<void> {
    const { node, transport } = this.#init;
    const logger = this.logger;
    try {
      await this.stopAccepting();
    } catch (e) {
      logger.warn(`${transport} listener failed to stop accepting`, { error: errorMessage(e) });
    }
    try {
      await node.stopWorker(this.processorAddress);
    } catch (e) {
      logger.warn(`${transport} listener failed to stop its processor`, {
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
    this.#init.onClosed();
  }
}

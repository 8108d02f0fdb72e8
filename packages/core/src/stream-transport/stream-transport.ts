/**
 * What every stream transport (TCP, WebSocket, BLE) does the same way: the connections and
 * listeners it holds, `connection` and `close` events, the outgoing connection `resolve` reuses
 * per peer (concurrent resolves share one attempt), its `InboundGuard`, and one `stop()` that
 * cancels dials, closes listeners and then connections, after which nothing is accepted or opened.
 *
 * A transport subclasses it and says how to dial, how to listen and how to wrap a socket in a
 * `StreamConnection`; `adopt` and `openListener` do the bookkeeping.
 *
 * @example
 * ```ts
 * class PipeTransport extends StreamTransport<PipeConnection, PipeListener, StreamCloseInfo> {
 *   readonly type = 9;
 *   constructor(node: Node) { super(node, { transport: 'pipe' }); }
 *   async resolve(address: Address): Promise<Address> {
 *     this.checkRunning();
 *     return this.resolveShared(address.value, () => this.#open(address.value));
 *   }
 *   // #open dials, then: this.adopt(name, (init) => new PipeConnection({ ...init, mode: 'outgoing', peer: name, … }, pipe))
 *   protected stoppedError(): Error { return new Error('pipe transport is stopped'); }
 * }
 * ```
 */
import { Address, type AddressLike, toAddress } from '../address.js';
import {
  InboundGuard,
  type InboundLimits,
  type InboundLimitsOptions,
  type InboundStats,
} from '../inbound-limits.js';
import { Listeners } from '../listeners.js';
import type { Logger } from '../logger.js';
import type { Node } from '../node.js';
import { SharedDials } from '../shared-dials.js';
import type { StreamCloseInfo, StreamConnection, StreamConnectionInit } from './stream-connection.js';
import type { StreamListener, StreamListenerInit } from './stream-listener.js';

/** A transport's events: a connection opened or accepted, and a connection closed (and why). */
export interface StreamTransportEvents<C, I extends StreamCloseInfo> {
  /** A connection was opened (outgoing) or accepted (incoming). */
  connection: (connection: C) => void;
  /** A connection closed; `info.reason` says why. */
  close: (connection: C, info: I) => void;
}

export interface StreamTransportInit {
  /** Names the transport in addresses and log lines (`tcp`). */
  readonly transport: string;
  /** Where connection events and refused peers are logged (default: the node's logger). */
  readonly logger?: Logger | undefined;
  /** What peers may hold (core's `InboundLimits`). */
  readonly limits?: InboundLimitsOptions | undefined;
}

/** What `adopt` hands to the connection it makes: spread it into the connection's init. */
export type AdoptedInit<I extends StreamCloseInfo> = Pick<
  StreamConnectionInit<I>,
  'node' | 'logger' | 'guard' | 'transport' | 'onClosing' | 'onClosed'
>;

/**
 * `C` and `L` are the connection and listener types the transport's users see; `K` and `LK` the
 * classes that implement them.
 */
export abstract class StreamTransport<
  C,
  L,
  I extends StreamCloseInfo,
  K extends StreamConnection<I> & C = StreamConnection<I> & C,
  LK extends StreamListener<K> & L = StreamListener<K> & L,
> {
  readonly node: Node;
  protected readonly logger: Logger;
  protected readonly guard: InboundGuard;
  readonly #transport: string;
  readonly #events: Listeners<StreamTransportEvents<C, I>>;
  readonly #connections = new Set<K>();
  /** The outgoing connection `resolve` reuses for each peer. */
  readonly #outgoing = new SharedDials<K>();
  readonly #listeners = new Set<LK>();
  #stopping: Promise<void> | undefined;

  constructor(node: Node, init: StreamTransportInit) {
    this.node = node;
    this.#transport = init.transport;
    this.logger = init.logger ?? node.logger;
    this.#events = new Listeners(this.logger, init.transport);
    this.guard = new InboundGuard({ limits: init.limits, logger: this.logger, transport: init.transport });
  }

  /** Subscribes to connection events; returns a function that unsubscribes. */
  on<E extends keyof StreamTransportEvents<C, I>>(
    event: E,
    listener: StreamTransportEvents<C, I>[E],
  ): () => void {
    return this.#events.on(event, listener);
  }

  /** Every open connection, outgoing and accepted. */
  connections(): C[] {
    return [...this.#connections];
  }

  /** Every open listener. */
  listeners(): L[] {
    return [...this.#listeners];
  }

  /** The open connection whose sender or receiver has this address. */
  connection(address: AddressLike): C | undefined {
    const a = toAddress(address);
    for (const c of this.#connections) if (c.senderAddress.equals(a) || c.receiverAddress.equals(a)) return c;
    return undefined;
  }

  /** The limits on what peers may hold, defaults filled in. */
  get limits(): InboundLimits {
    return this.guard.limits;
  }

  /** Connections refused and closed by the limits, and bytes charged to the shared budget now. */
  inboundStats(): InboundStats {
    return this.guard.stats();
  }

  /** Closes every listener and connection and cancels connection attempts. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** The error for a call made once `stop()` began. */
  protected abstract stoppedError(): Error;

  /** Cancels connection attempts under way (`stop()` calls it first). */
  protected cancelDials(): void {}

  /** Whether `stop()` has begun. */
  protected get stopping(): boolean {
    return this.#stopping !== undefined;
  }

  /** Throws `stoppedError()` once `stop()` has begun. */
  protected checkRunning(): void {
    if (this.#stopping !== undefined) throw this.stoppedError();
  }

  /** The sum of `f` over the open connections. */
  protected sumConnections(f: (connection: K) => number): number {
    let n = 0;
    for (const c of this.#connections) n += f(c);
    return n;
  }

  /** Opens a connection to `key` with `open` and remembers it as the one `resolve` reuses. */
  protected async connectShared(key: string, open: () => Promise<K>): Promise<K> {
    const connection = await open();
    this.#outgoing.remember(key, connection);
    return connection;
  }

  /**
   * The sender address of the open connection to `key`, opening one with `open` if there is none.
   * Concurrent calls share one attempt, which no single caller's signal may cancel.
   */
  protected async resolveShared(
    key: string,
    open: () => Promise<K>,
    options: { signal?: AbortSignal | undefined; what: string },
  ): Promise<Address> {
    const connection = await this.#outgoing.dial(key, open, {
      ...(options.signal ? { signal: options.signal } : {}),
      what: options.what,
    });
    return connection.senderAddress;
  }

  /**
   * Registers a listener's processor as a flow-control spawner with a fresh id and makes the
   * listener with `make`. Throws (having registered nothing) if the processor cannot start.
   */
  protected openListener(make: (init: StreamListenerInit) => LK): LK {
    const node = this.node;
    const flowControlId = node.flowControls.generateId();
    const processorAddress = Address.random(`${this.#transport}_listener_`);
    node.startProcessor(processorAddress);
    node.flowControls.addSpawner(processorAddress, flowControlId);
    const listener: LK = make({
      node,
      logger: this.logger,
      transport: this.#transport,
      flowControlId,
      processorAddress,
      onClosed: () => this.#listeners.delete(listener),
    });
    this.#listeners.add(listener);
    return listener;
  }

  /**
   * Makes a connection with `make` and holds it until it closes: it is forgotten (by the listener
   * that accepted it, and as the one `resolve` reuses for `key`) when closing begins, and `close`
   * is emitted when it is closed. Emits `connection`. Throws what `make` throws.
   */
  protected adopt(key: string, make: (init: AdoptedInit<I>) => K, listener?: LK): K {
    const connection = make({
      node: this.node,
      logger: this.logger,
      guard: this.guard,
      transport: this.#transport,
      onClosing: (c) => {
        const k = c as K;
        this.#connections.delete(k);
        listener?.remove(k);
        this.#outgoing.forget(key, k);
      },
      onClosed: (c, info) => this.#events.emit('close', c as K, info),
    });
    // A connection whose socket was already gone has closed (and been forgotten) in `make`.
    if (connection.isOpen) {
      this.#connections.add(connection);
      listener?.add(connection);
    }
    this.#events.emit('connection', connection);
    return connection;
  }

  async #stop(): Promise<void> {
    this.cancelDials();
    await Promise.all([...this.#listeners].map((l) => l.close()));
    await Promise.all([...this.#connections].map((c) => c.close()));
  }
}

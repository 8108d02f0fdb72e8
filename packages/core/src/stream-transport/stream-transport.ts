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
 *   constructor(node: Node) { super(node, { transport: 'pipe', label: 'pipe' }); }
 *   protected dialTarget(address: Address) {
 *     return { key: address.value, open: () => this.#open(address.value) };
 *   }
 *   // #open dials, then: this.adopt(name, (init) => new PipeConnection({ ...init, mode: 'outgoing', peer: name }, pipe))
 *   protected transportError(kind: ErrorKind, message: string): Error {
 *     return new OckamError('transport', kind, message);
 *   }
 * }
 * ```
 */
import { Address, type AddressLike, toAddress } from '../address.js';
import type { ErrorKind } from '../errors.js';
import type { FlowControlId } from '../flow-control.js';
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
import type { Transport } from '../transport.js';
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
  /** Names the transport in log lines (`tcp`). */
  readonly transport: string;
  /** Starts the addresses of its workers and listeners (`ws` gives `ws_sender_…`; default: `transport`). */
  readonly addressPrefix?: string | undefined;
  /** Names the transport in error messages (`TCP transport is stopped`). */
  readonly label: string;
  /** Where connection events and refused peers are logged (default: the node's logger). */
  readonly logger?: Logger | undefined;
  /** What peers may hold (core's `InboundLimits`). */
  readonly limits?: InboundLimitsOptions | undefined;
}

/** What `adopt` hands to the connection it makes: spread it into the connection's init. */
export type AdoptedInit<I extends StreamCloseInfo> = Pick<
  StreamConnectionInit<I>,
  | 'node'
  | 'logger'
  | 'guard'
  | 'transport'
  | 'addressPrefix'
  | 'mode'
  | 'flowControlId'
  | 'spawnerFlowControlId'
  | 'exposeTo'
  | 'onClosing'
  | 'onClosed'
>;

/** Where a connection comes from: a listener that accepted it, or a dial (exposed to `exposeTo`). */
export interface AdoptSource<L> {
  readonly listener?: L | undefined;
  readonly exposeTo?: readonly FlowControlId[] | undefined;
}

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
> implements Transport
{
  abstract readonly type: number;
  readonly node: Node;
  protected readonly logger: Logger;
  protected readonly guard: InboundGuard;
  readonly #transport: string;
  readonly #addressPrefix: string;
  readonly #label: string;
  readonly #events: Listeners<StreamTransportEvents<C, I>>;
  readonly #connections = new Set<K>();
  /** The outgoing connection `resolve` reuses for each peer. */
  readonly #outgoing = new SharedDials<K>();
  readonly #listeners = new Set<LK>();
  #stopping: Promise<void> | undefined;

  constructor(node: Node, init: StreamTransportInit) {
    this.node = node;
    this.#transport = init.transport;
    this.#addressPrefix = init.addressPrefix ?? init.transport;
    this.#label = init.label;
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

  /** Bytes held by this transport's connections (inbound not yet routed plus outbound not yet sent). */
  bufferedBytes(): number {
    let n = 0;
    for (const c of this.#connections) n += c.bufferedBytes();
    return n;
  }

  /** The limits on what peers may hold, defaults filled in. */
  get limits(): InboundLimits {
    return this.guard.limits;
  }

  /** Connections refused and closed by the limits, and bytes charged to the shared budget now. */
  inboundStats(): InboundStats {
    return this.guard.stats();
  }

  /**
   * `Transport.resolve`: the sender address of the open connection to `address`, connecting first
   * if there is none. Concurrent calls for one peer share one attempt, which no single caller's
   * signal may cancel (each caller's signal stops only its own wait).
   */
  async resolve(address: Address, options: { signal?: AbortSignal } = {}): Promise<Address> {
    this.checkRunning();
    if (address.type !== this.type)
      throw this.transportError('invalid', `Cannot resolve ${address}: not a ${this.#label} address`);
    const { key, open } = this.dialTarget(address);
    const connection = await this.#outgoing.dial(key, open, {
      ...(options.signal ? { signal: options.signal } : {}),
      what: `Connecting to ${key} cancelled`,
    });
    return connection.senderAddress;
  }

  /** Closes every listener and connection and cancels connection attempts. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** An error of this transport's class (`TransportError` for TCP). */
  protected abstract transportError(kind: ErrorKind, message: string, options?: { cause?: unknown }): Error;

  /** What `resolve` dials for `address` (of this transport's type): the peer's key and how to open. */
  protected abstract dialTarget(address: Address): { key: string; open: () => Promise<K> };

  /** The error for a call made once `stop()` began. */
  protected stoppedError(): Error {
    return this.transportError('shutdown', `${this.#label} transport is stopped`);
  }

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

  /** Opens a connection to `key` with `open` and remembers it as the one `resolve` reuses. */
  protected async connectShared(key: string, open: () => Promise<K>): Promise<K> {
    const connection = await open();
    this.#outgoing.remember(key, connection);
    return connection;
  }

  /**
   * Registers a listener's processor as a flow-control spawner with a fresh id and makes the
   * listener with `make`. Throws (having registered nothing) if the processor cannot start.
   */
  protected openListener(make: (init: StreamListenerInit) => LK): LK {
    const node = this.node;
    const flowControlId = node.flowControls.generateId();
    const processorAddress = Address.random(`${this.#addressPrefix}_listener_`);
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
   *
   * `make` is given a fresh flow-control id and, with `listener`, the `incoming` mode and the
   * listener's id as spawner id; without, the `outgoing` mode and `exposeTo`.
   */
  protected adopt(key: string, make: (init: AdoptedInit<I>) => K, from: AdoptSource<LK> = {}): K {
    const { listener } = from;
    const connection = make({
      node: this.node,
      logger: this.logger,
      guard: this.guard,
      transport: this.#transport,
      addressPrefix: this.#addressPrefix,
      mode: listener === undefined ? 'outgoing' : 'incoming',
      flowControlId: this.node.flowControls.generateId(),
      spawnerFlowControlId: listener?.flowControlId,
      exposeTo: from.exposeTo ?? [],
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

/**
 * The router of one node (PROTOCOL.md §1.3). Workers own addresses and bounded mailboxes; a send
 * to a full mailbox waits (back-pressure) instead of growing memory. Every send runs, in order:
 * flow control (a message that came out of a network producer, directly or through forwarding
 * workers, reaches only that producer's consumers), the sender address's outgoing access control,
 * then the destination address's incoming access control. A worker cannot send to itself, and the
 * router lets the event loop run every `timeSliceMs` however busy its workers are, so that no
 * message loop can starve sockets and timers.
 *
 * @example
 * ```ts
 * import { Node, encodeBareString, startUppercase } from '@ockam/core';
 * const node = new Node({ name: 'n1' });
 * startUppercase(node);
 * const client = node.client();
 * const reply = await client.request(['uppercase'], encodeBareString('hello'));
 * // decodeBareString(reply.payload) === 'HELLO'
 * await node.stop();
 * ```
 */
import {
  allowAll,
  type IncomingAccessControl,
  type OutgoingAccessControl,
  type RelayMessage,
} from './access-control.js';
import { Address, type AddressLike, BLE, TCP, toAddress, UDP, UDS, WS } from './address.js';
import { CancelledError, OckamError, RouteError, TimeoutError } from './errors.js';
import { type FlowControlId, FlowControls } from './flow-control.js';
import { Mailbox } from './internal/mailbox.js';
import { LogLimiter } from './log-limiter.js';
import { defaultLogger, type LogFields, type Logger } from './logger.js';
import { type LocalInfo, LocalMessage, stampOrigin } from './message.js';
import { Route, type RouteLike, toRoute } from './route.js';
import type { Transport } from './transport.js';

/** What `route` returns when it finished without waiting. */
const RESOLVED: Promise<void> = Promise.resolve();

/** Ockam's worker mailboxes hold 8; we default to 64, still bounded, for throughput. */
export const DEFAULT_MAILBOX_CAPACITY = 64;
/** How many return-route addresses `Node.allowReplies` admits at most: a sender's address and forwarders before it. */
export const MAX_REPLY_HOPS = 8;
/** Default timeout of `Client.request` (Ockam's `DEFAULT_TIMEOUT` for send_and_receive). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/**
 * Longest time the router runs workers back to back (messages handled without waiting, as when
 * workers feed each other) before it lets the event loop serve sockets, timers and the control API.
 * 10 ms costs nothing measurable in throughput and keeps a node answering while it is flooded.
 */
export const DEFAULT_TIME_SLICE_MS = 10;
/**
 * A refusal a peer can trigger at will (flow control or access control dropping a message, a worker
 * failing on one, a worker sending to itself) is logged at most once per this interval for each
 * address, the next line counting what was held back.
 */
export const DEFAULT_REFUSAL_LOG_INTERVAL_MS = 10_000;
/**
 * Reason and address pairs the router's refusal log remembers at once (keys are few: a reason and a
 * local address); further ones share one catch-all line until some expire.
 */
const MAX_REFUSAL_LOG_KINDS = 1024;

/** Names of the transport types, for errors that say which transport is missing. */
const TRANSPORT_NAMES: Readonly<Record<number, string>> = {
  [TCP]: 'TCP',
  [UDP]: 'UDP',
  [WS]: 'WebSocket',
  [BLE]: 'BLE',
  [UDS]: 'Unix socket',
};

/** The router reads the clock once per this many messages handled, to decide whether to yield. */
const CLOCK_EVERY = 16;

/** Runs `fn` on a later turn of the event loop, after pending I/O and timers. */
const later: (fn: () => void) => void =
  typeof globalThis.setImmediate === 'function'
    ? (fn) => {
        globalThis.setImmediate(fn);
      }
    : (fn) => {
        setTimeout(fn, 0);
      };

/** A message as a worker receives it. */
export interface RoutedMessage extends RelayMessage {}

export interface Worker {
  /** Handles one message; messages to one worker are handled one at a time, in order. */
  handleMessage(ctx: WorkerContext, message: RoutedMessage): void | Promise<void>;
  /** Called once when the worker stops. */
  shutdown?(ctx: WorkerContext): void | Promise<void>;
}

/** Facts about an address used by policies: a terminal address ends a route segment (a channel's encryptor). */
export interface AddressMetadata {
  readonly terminal?: boolean;
  readonly attributes?: Readonly<Record<string, string>>;
}

export interface MailboxOptions {
  incoming?: IncomingAccessControl;
  outgoing?: OutgoingAccessControl;
  metadata?: AddressMetadata;
}

export interface MailboxSpec extends MailboxOptions {
  address: AddressLike;
}

export interface WorkerOptions extends MailboxOptions {
  /** Mailbox capacity (messages). */
  capacity?: number;
}

interface MailboxEntry {
  readonly address: Address;
  readonly entry: WorkerEntry;
  incoming: IncomingAccessControl;
  outgoing: OutgoingAccessControl;
  metadata: AddressMetadata | undefined;
  /** Messages delivered to this address (for metrics). */
  delivered: number;
}

interface WorkerEntry {
  readonly addresses: Address[];
  readonly worker: Worker | undefined;
  readonly mailbox: Mailbox<RoutedMessage>;
  readonly ctx: WorkerContext;
  stopping: boolean;
  done: Promise<void> | undefined;
  /** Whether this is a client (`Node.client`), whose refusals are recorded. */
  client?: boolean;
  /** A client (`Node.client`): the last message to it the router refused, for its timeout error. */
  refused?: string;
}

export interface NodeOptions {
  name?: string;
  /**
   * Where the node and everything on it log (default `defaultLogger()`: warnings and errors to
   * stderr, secrets redacted). Pass `noopLogger` to silence it.
   */
  logger?: Logger;
  mailboxCapacity?: number;
  /** See `DEFAULT_TIME_SLICE_MS`. */
  timeSliceMs?: number;
  /** See `DEFAULT_REFUSAL_LOG_INTERVAL_MS`. */
  refusalLogIntervalMs?: number;
}

export interface SendOptions {
  /** Which of the worker's addresses to send from (default: its main address). */
  from?: AddressLike;
  /** The return route (default: the sending address). */
  returnRoute?: RouteLike;
  localInfo?: LocalInfo;
  signal?: AbortSignal;
}

export class Node {
  readonly name: string;
  readonly logger: Logger;
  readonly flowControls = new FlowControls();
  readonly #mailboxes = new Map<string, MailboxEntry>();
  /** Addresses of workers that are shutting down: they may still send (a Close), never receive. */
  readonly #draining = new Map<string, MailboxEntry>();
  readonly #transports = new Map<number, Transport>();
  readonly #capacity: number;
  readonly #timeSliceMs: number;
  readonly #refusals: LogLimiter;
  /** Callbacks waiting for the worker at an address to stop (`whenStopped`). */
  readonly #stopWatchers = new Map<string, Set<() => void>>();
  /** When the current run of back-to-back messages must give way (0: no run open). */
  #sliceEnd = 0;
  #sinceClock = 0;
  #stopped = false;

  constructor(options: NodeOptions = {}) {
    this.name = options.name ?? 'node';
    this.logger = options.logger ?? defaultLogger();
    this.#capacity = options.mailboxCapacity ?? DEFAULT_MAILBOX_CAPACITY;
    this.#timeSliceMs = options.timeSliceMs ?? DEFAULT_TIME_SLICE_MS;
    if (!(this.#timeSliceMs > 0)) throw new RangeError(`timeSliceMs must be > 0, got ${this.#timeSliceMs}`);
    this.#refusals = new LogLimiter(this.logger, {
      intervalMs: options.refusalLogIntervalMs ?? DEFAULT_REFUSAL_LOG_INTERVAL_MS,
      maxKinds: MAX_REFUSAL_LOG_KINDS,
    });
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /**
   * Starts a worker at one or more addresses. Throws `already-exists` if an address is taken.
   * Returns the worker's context.
   */
  startWorker(
    addresses: AddressLike | MailboxSpec | Array<AddressLike | MailboxSpec>,
    worker: Worker,
    options: WorkerOptions = {},
  ): WorkerContext {
    return this.#register(addresses, worker, options);
  }

  /**
   * Registers addresses that only send (a connection's receiver, a client's reply address): messages
   * sent to them are refused unless `incoming` says otherwise; nothing handles them.
   */
  startProcessor(
    addresses: AddressLike | MailboxSpec | Array<AddressLike | MailboxSpec>,
    options: WorkerOptions = {},
  ): WorkerContext {
    return this.#register(addresses, undefined, { incoming: { isAuthorized: () => false }, ...options });
  }

  #register(
    addresses: AddressLike | MailboxSpec | Array<AddressLike | MailboxSpec>,
    worker: Worker | undefined,
    options: WorkerOptions,
    manual = false,
  ): WorkerContext {
    if (this.#stopped) throw new OckamError('node', 'shutdown', `Node ${this.name} is stopped`);
    const specs = (Array.isArray(addresses) ? addresses : [addresses]).map(
      (a): MailboxSpec => (typeof a === 'string' || a instanceof Address ? { address: a } : a),
    );
    if (specs.length === 0) throw new RangeError('A worker needs at least one address');
    const addrs = specs.map((s) => toAddress(s.address));
    for (const a of addrs) {
      if (!a.isLocal) throw new RouteError('invalid', `Worker addresses must be LOCAL, got ${a}`);
      if (this.#mailboxes.has(a.key))
        throw new RouteError('already-exists', `Address ${a.value} is already in use`);
    }
    const mailbox = new Mailbox<RoutedMessage>(options.capacity ?? this.#capacity);
    const ctx = new WorkerContext(this, addrs);
    const entry: WorkerEntry = { addresses: addrs, worker, mailbox, ctx, stopping: false, done: undefined };
    specs.forEach((s, i) => {
      this.#mailboxes.set(addrs[i]!.key, {
        address: addrs[i]!,
        entry,
        incoming: s.incoming ?? options.incoming ?? allowAll,
        outgoing: s.outgoing ?? options.outgoing ?? allowAll,
        metadata: s.metadata ?? options.metadata,
        delivered: 0,
      });
    });
    if (worker !== undefined && !manual) entry.done = this.#run(entry);
    return ctx;
  }

  async #run(entry: WorkerEntry): Promise<void> {
    const worker = entry.worker!;
    for (;;) {
      let item = entry.mailbox.take();
      if (item instanceof Promise) item = await item;
      if (item === undefined) break;
      // Workers that handle messages synchronously and feed each other never wait on anything but
      // settled promises: without this, they would keep the event loop to themselves.
      if (this.#mustYield()) await new Promise<void>(later);
      try {
        const r = worker.handleMessage(entry.ctx, item);
        if (r !== undefined) await r;
      } catch (e) {
        this.#refused('fail', item.destination, 'worker failed to handle a message', {
          address: item.destination.value,
          error: e instanceof Error ? e.message : String(e),
        });
      }
    }
  }

  /** Whether the worker about to handle a message must first let the event loop run. */
  #mustYield(): boolean {
    if (++this.#sinceClock < CLOCK_EVERY) return false;
    this.#sinceClock = 0;
    const now = performance.now();
    if (this.#sliceEnd === 0) {
      // A run starts; it ends at the next turn of the event loop, or when its time is up.
      this.#sliceEnd = now + this.#timeSliceMs;
      later(this.#endSlice);
      return false;
    }
    return now >= this.#sliceEnd;
  }

  readonly #endSlice = (): void => {
    this.#sliceEnd = 0;
  };

  /** Logs a refusal a peer may repeat at will: once per address and interval (see `refusalLogIntervalMs`). */
  #refused(reason: string, address: Address, message: string, fields: LogFields): void {
    this.#refusals.warn(`${reason}|${address.key}`, message, fields);
  }

  /** Whether a worker owns this address. */
  has(address: AddressLike): boolean {
    return this.#mailboxes.has(toAddress(address).key);
  }

  /** Metadata registered for an address. */
  metadata(address: AddressLike): AddressMetadata | undefined {
    return this.#mailboxes.get(toAddress(address).key)?.metadata;
  }

  /** Changes an address's incoming access control (policies changing at run time). */
  setIncomingAccessControl(address: AddressLike, ac: IncomingAccessControl): void {
    const m = this.#mailboxes.get(toAddress(address).key);
    if (!m) throw new RouteError('not-found', `No worker at address ${toAddress(address).value}`);
    m.incoming = ac;
  }

  /** Messages delivered so far to each registered address. */
  deliveryCounts(): Array<{ address: string; messages: number }> {
    return [...this.#mailboxes.values()].map((m) => ({ address: m.address.value, messages: m.delivered }));
  }

  /** Every registered address (main and extra), for `worker list`. */
  addresses(): Address[] {
    return [...this.#mailboxes.values()].map((m) => m.address);
  }

  /**
   * PROTOCOL.md §1.5: replies that come back through an outgoing link (a connection this node
   * opened, a bind) may reach whoever sent through it, as Ockam does for `send_and_receive`.
   * Called by a transport for what it sends: the first address of `returnRoute`, if it is a worker
   * here, becomes a consumer of the link's `flowControlId`; while that address is a forwarder
   * (`FlowControls.addForwarder`, e.g. `hop`), so does the next one, up to `MAX_REPLY_HOPS`
   * addresses. The walk stops at the first worker that is not a forwarder (a connection's sender,
   * a client), so what the remote end put on the return route never gains anything here.
   */
  allowReplies(flowControlId: FlowControlId, returnRoute: Route): void {
    const addresses = returnRoute.addresses;
    const fc = this.flowControls;
    for (let i = 0; i < addresses.length && i < MAX_REPLY_HOPS; i++) {
      const a = addresses[i]!;
      if (!a.isLocal || !this.#mailboxes.has(a.key)) return;
      if (!fc.isConsumer(a, flowControlId)) fc.addConsumer(a, flowControlId);
      if (!fc.isForwarder(a)) return;
    }
  }

  /** Stops the worker that owns `address` (all its addresses); resolves when it has shut down. */
  async stopWorker(address: AddressLike): Promise<boolean> {
    const m = this.#mailboxes.get(toAddress(address).key);
    if (!m) return false;
    const entry = m.entry;
    if (entry.stopping) return true;
    entry.stopping = true;
    for (const a of entry.addresses) {
      this.#draining.set(a.key, this.#mailboxes.get(a.key)!);
      this.#mailboxes.delete(a.key);
    }
    entry.mailbox.close();
    await entry.done;
    try {
      await entry.worker?.shutdown?.(entry.ctx);
    } catch (e) {
      this.logger.warn('worker failed to shut down cleanly', {
        address: entry.addresses[0]!.value,
        error: String(e),
      });
    } finally {
      // Flow-control entries go last, so that what shutdown sends is still fenced.
      for (const a of entry.addresses) {
        this.#draining.delete(a.key);
        this.flowControls.cleanup(a);
      }
      for (const a of entry.addresses) this.#notifyStopped(a);
    }
    return true;
  }

  /**
   * Calls `onStop` once the worker that owns `address` has stopped (at once, on a later turn, if
   * no worker owns it now): what waits on a connection or a channel learns that it closed instead
   * of waiting out a timeout. Returns a function that cancels the call.
   *
   * @example
   * ```ts
   * const cancel = node.whenStopped(resolvedRoute.next(), () => abort(new Error('connection closed')));
   * ```
   */
  whenStopped(address: AddressLike, onStop: () => void): () => void {
    const key = toAddress(address).key;
    if (!this.#mailboxes.has(key)) {
      let cancelled = false;
      queueMicrotask(() => {
        if (!cancelled) onStop();
      });
      return () => {
        cancelled = true;
      };
    }
    let set = this.#stopWatchers.get(key);
    if (set === undefined) this.#stopWatchers.set(key, (set = new Set()));
    const once = (): void => onStop();
    set.add(once);
    return () => {
      const s = this.#stopWatchers.get(key);
      s?.delete(once);
      if (s?.size === 0) this.#stopWatchers.delete(key);
    };
  }

  #notifyStopped(address: Address): void {
    const set = this.#stopWatchers.get(address.key);
    if (set === undefined) return;
    this.#stopWatchers.delete(address.key);
    for (const fn of set) {
      try {
        fn();
      } catch (e) {
        this.logger.warn('a callback waiting for a worker to stop failed', {
          address: address.value,
          error: String(e),
        });
      }
    }
  }

  /**
   * Routes a message sent from `source`. Throws `RouteError` if the onward route is empty, starts
   * with an unresolved transport address, or names no worker. A message refused by flow control or
   * access control is dropped (and logged); the promise still resolves, as in Ockam, unless
   * `strict` (what application code sends through a `Client`): then it rejects with a `permission`
   * `RouteError` that says which check refused it and how to allow it, since a refusal on this
   * node is a mistake to report at once, not a loss to wait out.
   */
  route(source: Address, message: LocalMessage, strict = false): Promise<void> {
    // Synchronous fast path: when no access control answers with a promise and the mailbox has
    // room, nothing here awaits, and one already-settled promise is returned.
    try {
      return this.#route(source, message, strict) ?? RESOLVED;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #route(source: Address, message: LocalMessage, strict: boolean): Promise<void> | undefined {
    const dest = message.onwardRoute.addresses[0];
    if (dest === undefined)
      throw new RouteError('invalid', 'Cannot send a message with an empty onward route');
    if (!dest.isLocal) {
      throw new RouteError(
        'invalid',
        `Transport address ${dest} must be resolved before sending (use node.resolveRoute)`,
      );
    }
    const src = this.#mailboxes.get(source.key) ?? this.#draining.get(source.key);
    // Only registered addresses send: a connection's receiver that has stopped (and so is no
    // longer a flow-control producer) must not be able to route unfenced.
    if (src === undefined)
      throw new RouteError(
        'invalid',
        `Address ${source.value} is not registered on this node; it cannot send`,
      );
    const target = this.#mailboxes.get(dest.key);
    // The message the command prints as it is (`Error: No worker at address …`): keep it short.
    if (target === undefined) throw new RouteError('not-found', `No worker at address ${dest.value}`);
    if (target.entry === src.entry) {
      // A worker forwarding to itself would loop in its own mailbox (a route of `hop, hop, …`).
      this.#refused('self', dest, 'router dropped a message a worker sent to itself', {
        address: dest.value,
        onward: message.onwardRoute.length,
      });
      return undefined;
    }
    // Flow control follows the message's origin: a producer sending stamps it (re-stamps it, if it
    // vouches for what it forwards, as a channel's decryptor does); a worker forwarding a stamped
    // message may deliver it only where the producer itself could have.
    const producer = this.flowControls.producer(source);
    const stamped = producer === undefined ? message : stampOrigin(message, producer);
    const origin = stamped.origin;
    if (origin !== undefined && !this.flowControls.accepts(dest, origin)) {
      this.#refused('flow', dest, 'flow control dropped a message', {
        from: source.value,
        to: dest.value,
        flowControlId: origin.flowControlId,
        onward: message.onwardRoute.toString(),
      });
      this.#refusal(
        target,
        strict,
        () =>
          `flow control refused a message from ${source.value} to ${dest.value}: ${dest.value} is not a consumer of flow ${origin.flowControlId}, where the message came from (node.flowControls.addConsumer('${dest.value}', '${origin.flowControlId}') allows it)`,
      );
      return undefined;
    }
    const relay: RoutedMessage = { source, destination: dest, message: stamped };
    if (src.outgoing !== allowAll) {
      const ok = src.outgoing.isAuthorized(relay);
      if (typeof ok !== 'boolean') return this.#routeAfterOutgoing(ok, relay, target, strict);
      if (!ok) {
        this.#outgoingDenied(relay, target, strict);
        return undefined;
      }
    }
    return this.#routeIncoming(relay, target, strict);
  }

  /**
   * A refusal: recorded on a client it was meant for (its timeout error quotes it), and thrown
   * when the sender asked for `strict` routing.
   */
  #refusal(target: MailboxEntry, strict: boolean, reason: () => string): void {
    // Built only when someone reads it: a flood of refused frames must not pay for the text.
    if (!target.entry.client && !strict) return;
    const text = reason();
    if (target.entry.client) target.entry.refused = text;
    if (strict) throw new RouteError('permission', `Message refused on node ${this.name}: ${text}`);
  }

  async #routeAfterOutgoing(
    pending: Promise<boolean>,
    relay: RoutedMessage,
    target: MailboxEntry,
    strict: boolean,
  ): Promise<void> {
    if (!(await pending)) {
      this.#outgoingDenied(relay, target, strict);
      return;
    }
    const wait = this.#routeIncoming(relay, target, strict);
    if (wait !== undefined) await wait;
  }

  #outgoingDenied(relay: RoutedMessage, target: MailboxEntry, strict: boolean): void {
    this.logger.debug('outgoing access control dropped a message', {
      from: relay.source.value,
      to: relay.destination.value,
    });
    this.#refusal(
      target,
      strict,
      () =>
        `the outgoing access control of ${relay.source.value} refused a message to ${relay.destination.value}`,
    );
  }

  /** Incoming access control, then delivery; undefined when done without waiting. */
  #routeIncoming(relay: RoutedMessage, target: MailboxEntry, strict: boolean): Promise<void> | undefined {
    if (target.incoming !== allowAll) {
      let ok: boolean | Promise<boolean>;
      try {
        ok = target.incoming.isAuthorized(relay);
      } catch (e) {
        this.#incomingFailed(relay, e);
        ok = false;
      }
      if (typeof ok !== 'boolean') return this.#deliverAfterIncoming(ok, relay, target, strict);
      if (!ok) {
        this.#incomingDenied(relay, target, strict);
        return undefined;
      }
    }
    return this.#deliver(relay, target);
  }

  async #deliverAfterIncoming(
    pending: Promise<boolean>,
    relay: RoutedMessage,
    target: MailboxEntry,
    strict: boolean,
  ): Promise<void> {
    let ok: boolean;
    try {
      ok = await pending;
    } catch (e) {
      this.#incomingFailed(relay, e);
      ok = false;
    }
    if (!ok) {
      this.#incomingDenied(relay, target, strict);
      return;
    }
    const wait = this.#deliver(relay, target);
    if (wait !== undefined) await wait;
  }

  #incomingFailed(relay: RoutedMessage, e: unknown): void {
    this.#refused('incoming-failed', relay.destination, 'incoming access control failed; denying', {
      to: relay.destination.value,
      error: String(e),
    });
  }

  #incomingDenied(relay: RoutedMessage, target: MailboxEntry, strict: boolean): void {
    this.#refused('incoming', relay.destination, 'incoming access control denied a message', {
      from: relay.source.value,
      to: relay.destination.value,
    });
    this.#refusal(
      target,
      strict,
      () =>
        `the incoming access control of ${relay.destination.value} refused a message from ${relay.source.value}`,
    );
  }

  #deliver(relay: RoutedMessage, target: MailboxEntry): Promise<void> | undefined {
    target.delivered++;
    return target.entry.mailbox.push(relay);
  }

  /** Registers a transport for its type (TCP, UDP, …). */
  registerTransport(transport: Transport): void {
    this.#transports.set(transport.type, transport);
  }

  transport(type: number): Transport | undefined {
    return this.#transports.get(type);
  }

  /**
   * Replaces the transport address in a route with the local address of a connection's sender,
   * connecting if needed. Like Ockam, at most one transport hop per route.
   */
  async resolveRoute(route: RouteLike, options: { signal?: AbortSignal } = {}): Promise<Route> {
    const r = toRoute(route);
    const remote = r.addresses.filter((a) => !a.isLocal);
    if (remote.length === 0) return r;
    if (remote.length > 1)
      throw new RouteError('unsupported', `Only one transport hop per route is allowed: ${r}`);
    const hop = remote[0]!;
    const t = this.#transports.get(hop.type);
    if (!t) {
      const name = TRANSPORT_NAMES[hop.type];
      throw new RouteError(
        'unsupported',
        `No transport registered for type ${hop.type}${name ? ` (${name})` : ''} on node ${this.name}, for address ${hop} in ${r}: register one first (node.registerTransport)`,
      );
    }
    const local = await t.resolve(hop, options);
    return new Route(r.addresses.map((a) => (a === hop ? local : a)));
  }

  /** A detached context for application code: its own reply address, `request` and `receive`. */
  client(options: { address?: AddressLike; capacity?: number } = {}): Client {
    const address = options.address ?? Address.random('client_');
    const ctx = this.#register(address, { handleMessage() {} }, { capacity: options.capacity ?? 16 }, true);
    this.#mailboxes.get(ctx.address.key)!.entry.client = true;
    return new Client(this, ctx);
  }

  /** @internal: what the router last refused to deliver to a client, and forgets it. */
  takeRefusal(address: Address): string | undefined {
    const entry = this.#mailboxes.get(address.key)?.entry;
    const refused = entry?.refused;
    if (entry !== undefined) entry.refused = undefined;
    return refused;
  }

  /** @internal: the mailbox behind a manual (client) context. */
  mailboxOf(address: Address): Mailbox<RoutedMessage> | undefined {
    return this.#mailboxes.get(address.key)?.entry.mailbox;
  }

  /** Stops every transport and worker. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const t of this.#transports.values()) {
      try {
        await t.stop();
      } catch (e) {
        this.logger.warn('transport failed to stop', { error: String(e) });
      }
    }
    const entries = new Set([...this.#mailboxes.values()].map((m) => m.entry));
    await Promise.all([...entries].map((e) => this.stopWorker(e.addresses[0]!)));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** What a worker uses to send and to stop itself. */
export class WorkerContext {
  readonly node: Node;
  readonly addresses: readonly Address[];

  constructor(node: Node, addresses: Address[]) {
    this.node = node;
    this.addresses = addresses;
  }

  /** The worker's main address. */
  get address(): Address {
    return this.addresses[0]!;
  }

  get logger(): Logger {
    return this.node.logger;
  }

  #from(from: AddressLike | undefined): Address {
    if (from === undefined) return this.address;
    const a = toAddress(from);
    if (!this.addresses.some((x) => x.equals(a)))
      throw new RouteError('invalid', `Address ${a.value} does not belong to this worker`);
    return a;
  }

  /** Sends `payload` along `route`, with return route `[from]` unless given. */
  send(route: RouteLike, payload: Uint8Array, options: SendOptions = {}): Promise<void> {
    const from = this.#from(options.from);
    const msg = new LocalMessage(route, options.returnRoute ?? [from], payload, options.localInfo);
    return this.node.route(from, msg);
  }

  /** Sends an existing message unchanged (routes are the caller's business). */
  forward(message: LocalMessage, options: { from?: AddressLike } = {}): Promise<void> {
    return this.node.route(this.#from(options.from), message);
  }

  /** Stops this worker. */
  stop(): Promise<boolean> {
    return this.node.stopWorker(this.address);
  }
}

/** A detached context: application code sending requests and waiting for replies. */
export class Client {
  readonly node: Node;
  readonly #ctx: WorkerContext;

  constructor(node: Node, ctx: WorkerContext) {
    this.node = node;
    this.#ctx = ctx;
  }

  get address(): Address {
    return this.#ctx.address;
  }

  /**
   * Sends from this client's address (the route must already be resolved). As in Ockam, a message
   * this node's flow control or access control refuses is dropped and logged; `request` fails
   * instead.
   */
  send(route: RouteLike, payload: Uint8Array, options: SendOptions = {}): Promise<void> {
    return this.#ctx.send(route, payload, options);
  }

  /** Waits for the next message sent to this client. */
  async receive(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<LocalMessage> {
    return this.#receive(options, undefined);
  }

  async #receive(
    options: { timeoutMs?: number; signal?: AbortSignal },
    sent: Route | undefined,
  ): Promise<LocalMessage> {
    const mailbox = this.node.mailboxOf(this.address);
    if (!mailbox) throw new OckamError('node', 'shutdown', 'Client is stopped');
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const first = mailbox.take();
    if (!(first instanceof Promise)) {
      if (first === undefined) throw new OckamError('node', 'shutdown', 'Client is stopped');
      return first.message;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    try {
      const item = await Promise.race([
        first,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new TimeoutError(this.#timeoutMessage(timeoutMs, sent))),
            timeoutMs,
          );
          if (options.signal) {
            onAbort = () =>
              reject(new CancelledError('Receive cancelled', 'node', { cause: options.signal?.reason }));
            if (options.signal.aborted) onAbort();
            else options.signal.addEventListener('abort', onAbort, { once: true });
          }
        }),
      ]);
      if (item === undefined) throw new OckamError('node', 'shutdown', 'Client is stopped');
      return item.message;
    } catch (e) {
      // The pending take must not swallow a later message: stop the client.
      await this.stop();
      throw e;
    } finally {
      clearTimeout(timer);
      if (onAbort) options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Resolves the route, sends, and waits for one reply. As Ockam's `send_and_receive`, the client
   * becomes a consumer of the flow replies come out of when the route's first hop is a producer
   * (a secure channel's encryptor). Rejects at once for what this node refuses or cannot route (no
   * worker at the first address, flow control, access control: a `permission` `RouteError` that
   * says which check and how to allow it); a timeout's error names the route, its first hop and
   * what to check.
   */
  async request(
    route: RouteLike,
    payload: Uint8Array,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<LocalMessage> {
    const resolved = await this.node.resolveRoute(route, options);
    const first = resolved.addresses[0];
    const producer = first === undefined ? undefined : this.node.flowControls.producerFor(first);
    if (producer !== undefined && !this.node.flowControls.isConsumer(this.address, producer.flowControlId))
      this.node.flowControls.addConsumer(this.address, producer.flowControlId);
    this.node.takeRefusal(this.address);
    // Strict: what this node refuses is an error now, not a reply that never comes.
    await this.node.route(this.address, new LocalMessage(resolved, [this.address], payload), true);
    return this.#receive(options, resolved);
  }

  /** What a timed-out wait says: the route, where it left this node, what was refused here, what to check. */
  #timeoutMessage(timeoutMs: number, sent: Route | undefined): string {
    const refused = this.node.takeRefusal(this.address);
    const here =
      refused === undefined ? '' : ` Meanwhile this node refused a message to the client: ${refused}.`;
    if (sent === undefined) return `No reply within ${timeoutMs} ms for client ${this.address.value}.${here}`;
    return (
      `No reply within ${timeoutMs} ms to a request along ${sent} (first hop ${sent.addresses[0]?.value}, ` +
      `which accepted it).${here} A hop after it dropped the request or the reply: check that ` +
      'every worker, listener and relay name on the route exists on its node, that the service at the ' +
      "end is a flow-control consumer of the listener it is reached through (its secure channel or TCP listener's " +
      'flowControlId), and that its policy allows this identity.'
    );
  }

  stop(): Promise<boolean> {
    return this.node.stopWorker(this.address);
  }
}

/**
 * What every stream transport's connection (TCP, WebSocket, BLE) does the same way (PROTOCOL.md
 * §1.3, §1.5): a sender worker and a receiver processor registered with the node, the receiver a
 * flow-control producer, the sender exposed to the ids it was given; an `InboundWatch` of the
 * transport's limits; an idle timer; inbound messages routed one at a time, in order, with the
 * socket paused while too much waits; a sender held back until the socket drains; and one way to
 * close, whatever the cause, that stops both workers, releases the socket and reports once.
 *
 * A transport subclasses it and says only how bytes are written (`write`), which whole message
 * came in next (`nextMessage`), how reading pauses, and how its socket is released or destroyed.
 *
 * @example
 * ```ts
 * class PipeConnection extends StreamConnection {
 *   constructor(init: StreamConnectionInit, readonly pipe: Pipe) {
 *     super(init);
 *     pipe.onFrame((bytes) => { this.#queue.push(decode(bytes)); this.received(this.#queue.length); });
 *     this.start();
 *   }
 *   protected write(message: LocalMessage): void { this.pipe.send(encode(message.withOnward(message.onwardRoute.popFront()))); }
 *   protected nextMessage(): LocalMessage | undefined { return this.#queue.shift(); }
 *   protected async release(): Promise<void> { await this.pipe.close(); }
 *   protected abort(): void { this.pipe.destroy(); }
 * }
 * ```
 */
import { Address } from '../address.js';
import { OckamError } from '../errors.js';
import type { FlowControlId } from '../flow-control.js';
import type { InboundGuard, InboundLimitInfo, InboundWatch } from '../inbound-limits.js';
import type { Logger } from '../logger.js';
import { type LocalInfo, LocalMessage } from '../message.js';
import type { Node, RoutedMessage } from '../node.js';

/** Who opened the connection: we did (`outgoing`), or a listener accepted it (`incoming`). */
export type StreamConnectionMode = 'outgoing' | 'incoming';

/**
 * Why a connection closed:
 * - `local`: `close()`, the transport's `stop()`, or its sender worker was stopped;
 * - `peer`: the peer closed the connection;
 * - `io`: the socket failed;
 * - `protocol`: the peer broke the framing;
 * - `routing`: the peer sent a message that cannot be delivered;
 * - `timeout`: no traffic for the idle time, or the peer was too slow for one of the `limits`;
 * - `limit`: what the peer sent did not fit in the transport's budget (`limits.maxBufferedBytes`).
 */
export type StreamCloseCause = 'local' | 'peer' | 'io' | 'protocol' | 'routing' | 'timeout' | 'limit';

export interface StreamCloseInfo {
  readonly cause: StreamCloseCause;
  /** A sentence for logs. */
  readonly reason: string;
  readonly error?: unknown;
}

/** What a stream transport's connection shows its users (each transport adds its peer and stats). */
export type StreamConnectionView<I extends StreamCloseInfo = StreamCloseInfo> = Pick<
  StreamConnection<I>,
  | 'mode'
  | 'peerAddress'
  | 'senderAddress'
  | 'receiverAddress'
  | 'flowControlId'
  | 'spawnerFlowControlId'
  | 'isOpen'
  | 'closed'
>;

/** A host and a port: what we connected to, or the remote end of an accepted socket. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Counters of a byte-stream connection, for diagnostics and memory checks. */
export interface StreamConnectionStats {
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
  /** Bytes read from the peer and not yet routed (bounded by `receiveBufferBytes` and a frame). */
  readonly inboundBufferedBytes: number;
  /** Bytes handed to the socket and not yet handed to the network. */
  readonly outboundBufferedBytes: number;
  /** Whether reading is paused because the node cannot take messages as fast as they arrive. */
  readonly readPaused: boolean;
}

/** Options of a transport's `connect`. */
export interface StreamConnectOptions {
  /**
   * Flow-control ids whose producers may send through this connection: its sender becomes a
   * consumer of each. A node uses it for multi-hop routes, passing its listener's id so that its
   * clients can reach the peer of this connection.
   */
  exposeTo?: readonly FlowControlId[];
  /** Overrides the transport's `connectTimeoutMs`. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** What a connection is told when the transport makes it. */
export interface StreamConnectionInit<I extends StreamCloseInfo = StreamCloseInfo> {
  readonly node: Node;
  readonly logger: Logger;
  /** The transport's limits on what peers may hold; the connection gets a watch of its own. */
  readonly guard: InboundGuard;
  /** Names the transport in log lines (`tcp connection closed`). */
  readonly transport: string;
  /** Starts the workers' addresses (`tcp` gives `tcp_sender_…`; default: `transport`). */
  readonly addressPrefix?: string | undefined;
  readonly mode: StreamConnectionMode;
  /** The peer as log lines name it (`host:port`, a device name). */
  readonly peer: string;
  readonly flowControlId: FlowControlId;
  /** For an accepted connection, the id of the listener that spawned it. */
  readonly spawnerFlowControlId?: FlowControlId | undefined;
  /** Ids whose producers may send through this connection: its sender becomes a consumer of each. */
  readonly exposeTo?: readonly FlowControlId[] | undefined;
  /** An opening handshake is still to come (the watch times it until `watch.handshakeDone()`). */
  readonly handshake?: boolean;
  /** An accepted connection must deliver a message in time (default: when `mode` is `incoming`). */
  readonly inbound?: boolean;
  /** Close the connection after this long without traffic either way (default: never). */
  readonly idleTimeoutMs?: number | undefined;
  /** Bytes waiting to be routed above which reading pauses, where it can (default: never). */
  readonly receiveBufferBytes?: number | undefined;
  /** Called once, synchronously, when closing begins (the transport forgets the connection). */
  readonly onClosing: (connection: StreamConnection<I>) => void;
  /** Called once when the connection is fully closed. */
  readonly onClosed: (connection: StreamConnection<I>, info: I) => void;
}

export abstract class StreamConnection<I extends StreamCloseInfo = StreamCloseInfo> {
  readonly mode: StreamConnectionMode;
  /** The peer as log lines name it. */
  readonly peerAddress: string;
  /** The LOCAL address of the sender worker: the transport's hop in routes. */
  readonly senderAddress: Address;
  /** The LOCAL address of the receiver processor, a flow-control producer. */
  readonly receiverAddress: Address;
  /** The producer id of this connection's receiver. */
  readonly flowControlId: FlowControlId;
  /** For an accepted connection, the id of the listener that spawned it. */
  readonly spawnerFlowControlId: FlowControlId | undefined;
  /** Resolves (never rejects) when the connection is closed and its workers are stopped. */
  readonly closed: Promise<I>;

  protected readonly node: Node;
  protected readonly logger: Logger;
  protected readonly guard: InboundGuard;
  protected readonly watch: InboundWatch;
  /** Messages taken from the peer (heartbeats too) and messages handed to the socket. */
  protected messagesIn = 0;
  protected messagesOut = 0;

  readonly #init: StreamConnectionInit<I>;
  readonly #localInfo: LocalInfo;
  readonly #receiveBufferBytes: number;
  #closing = false;
  #done: Promise<I> | undefined;
  #resolveClosed!: (info: I) => void;
  #routing = false;
  #paused = false;
  #drainWaiter: (() => void) | undefined;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** Traffic since the idle timer last fired: set per read and write, a store and nothing more. */
  #active = false;

  constructor(init: StreamConnectionInit<I>) {
    this.#init = init;
    this.node = init.node;
    this.logger = init.logger;
    this.guard = init.guard;
    this.mode = init.mode;
    this.peerAddress = init.peer;
    this.flowControlId = init.flowControlId;
    this.spawnerFlowControlId = init.spawnerFlowControlId;
    this.#receiveBufferBytes = init.receiveBufferBytes ?? Number.POSITIVE_INFINITY;
    this.#localInfo = Object.freeze({ flowControlId: init.flowControlId });
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    const prefix = init.addressPrefix ?? init.transport;
    this.senderAddress = Address.random(`${prefix}_sender_`);
    this.receiverAddress = Address.random(`${prefix}_receiver_`);
    this.watch = init.guard.watch({
      peer: init.peer,
      inbound: init.inbound ?? init.mode === 'incoming',
      handshake: init.handshake ?? false,
      onLimit: (info) => {
        if (!this.#closing) void this.#shutdown(this.limitInfo(info), false);
      },
    });
  }

  /** False once closing has begun. */
  get isOpen(): boolean {
    return !this.#closing;
  }

  /** Bytes held for this connection: read and not yet routed, plus written and not yet sent. */
  bufferedBytes(): number {
    return 0;
  }

  /** Whether reading is paused because the node cannot take messages as fast as they arrive. */
  protected get readPaused(): boolean {
    return this.#paused;
  }

  /** Whether a message is being routed (what arrives meanwhile waits). */
  protected get routing(): boolean {
    return this.#routing;
  }

  /**
   * Closes the connection (gracefully: what was written is flushed first) and stops both workers.
   * Aborting `signal` destroys the socket at once.
   */
  close(options: { signal?: AbortSignal } = {}): Promise<I> {
    return this.closeWith(this.localCloseInfo(), options.signal);
  }

  /**
   * Registers the sender and receiver, flow control and the idle timer. The subclass calls it last
   * in its constructor, once its socket is wired; if it throws, the socket has been destroyed.
   */
  protected start(): void {
    const { node, exposeTo, idleTimeoutMs } = this.#init;
    try {
      node.startWorker(this.senderAddress, {
        handleMessage: (_ctx, routed) => this.#send(routed),
        shutdown: () => {
          // Someone stopped the sender directly (`node.stopWorker`): the connection goes with it.
          if (!this.#closing)
            void this.#shutdown({ cause: 'local', reason: 'sender worker stopped' } as I, true);
        },
      });
      node.startProcessor(this.receiverAddress);
    } catch (e) {
      // Half-built: nothing to report as a closed connection, just release what we took.
      this.#closing = true;
      this.watch.release();
      this.#done = Promise.resolve({ cause: 'local', reason: 'could not start workers', error: e } as I);
      this.abort();
      void node.stopWorker(this.senderAddress).catch(() => {});
      throw e;
    }
    node.flowControls.addProducer(this.receiverAddress, this.flowControlId, this.spawnerFlowControlId);
    for (const id of exposeTo ?? []) node.flowControls.addConsumer(this.senderAddress, id);
    if (idleTimeoutMs !== undefined && idleTimeoutMs > 0) {
      this.#idleTimer = setTimeout(this.#onIdle, idleTimeoutMs);
      this.#idleTimer.unref?.();
    }
  }

  // ---- outbound ----

  /**
   * Sends one message, whose first onward address is our sender's (§1.3: drop it). Return a
   * promise to hold the sender back (`waitDrain()`); the node's bounded mailboxes then push back
   * on whoever sends. A message that was not sent must have `releasePayload()` called.
   */
  protected abstract write(message: LocalMessage): void | Promise<void>;

  #send(routed: RoutedMessage): void | Promise<void> {
    const message = routed.message;
    if (this.#closing) {
      this.logger.debug(`${this.#init.transport} connection is closing; message dropped`, {
        peer: this.peerAddress,
      });
      message.releasePayload();
      return;
    }
    // §1.5: what comes back on a connection we opened may reach whoever sent through it.
    if (this.mode === 'outgoing') this.node.allowReplies(this.flowControlId, message.returnRoute);
    this.#active = true;
    return this.write(message);
  }

  /** A promise for `write` to return until the socket can take more (`drained()`, or closing). */
  protected waitDrain(): Promise<void> {
    return new Promise((resolve) => {
      this.#drainWaiter = resolve;
    });
  }

  /** The socket can take more: the sender takes its next message. */
  protected drained(): void {
    const w = this.#drainWaiter;
    this.#drainWaiter = undefined;
    w?.();
  }

  // ---- inbound ----

  /** The next whole message from the peer, or undefined; throws if the peer broke the framing. */
  protected abstract nextMessage(): LocalMessage | undefined;

  /**
   * Something arrived and `buffered` bytes now wait: routing starts if it was idle; if it is busy
   * and too much waits, reading pauses (where `pauseReading` can) until every message is routed.
   */
  protected received(buffered: number): void {
    this.#active = true;
    if (this.#routing) {
      if (!this.#paused && buffered >= this.#receiveBufferBytes && this.pauseReading()) this.#paused = true;
      return;
    }
    this.#pump().catch((e: unknown) =>
      this.fail({ cause: 'routing', reason: `internal error: ${errorMessage(e)}`, error: e } as I),
    );
  }

  /** Pauses reading from the socket; false if it cannot be paused (the default). */
  protected pauseReading(): boolean {
    return false;
  }

  /** Resumes reading after `pauseReading`. */
  protected resumeReading(): void {}

  /** Routing begins (time spent routing is ours, not the peer's: TCP stops a frame's clock). */
  protected routingStarted(): void {}

  /**
   * A message could not be taken (`stage` `decode`: `nextMessage` threw) or delivered (`route`).
   * Returns whether to go on with the next one. By default a broken frame closes the connection,
   * and so does an undeliverable message, except one for a worker that has just stopped (a portal
   * that closed), which is normal on a connection many workers share: it is dropped, as Ockam does.
   */
  protected refused(stage: 'decode' | 'route', error: unknown): boolean {
    if (stage === 'route' && OckamError.isKind(error, 'not-found')) {
      this.guard.log.info(
        'routing:not-found',
        `${this.#init.transport} message dropped: no worker at its address`,
        { peer: this.peerAddress, reason: errorMessage(error) },
      );
      return true;
    }
    const cause = stage === 'decode' ? 'protocol' : 'routing';
    this.fail({ cause, reason: errorMessage(error), error } as I);
    return false;
  }

  /** Routes every whole message that waits, one at a time, in order. */
  async #pump(): Promise<void> {
    this.#routing = true;
    this.routingStarted();
    try {
      for (;;) {
        if (this.#closing) return;
        let message: LocalMessage | undefined;
        try {
          message = this.nextMessage();
        } catch (e) {
          if (this.refused('decode', e)) continue;
          return;
        }
        if (message === undefined) return;
        this.messagesIn++;
        // §2.1: an empty onward route is a heartbeat; it does not count as a message delivered.
        if (message.onwardRoute.isEmpty) continue;
        this.watch.delivered();
        // §1.3: push the paired sender so that replies go back through this connection.
        const routed = LocalMessage.fromParts(
          message.onwardRoute,
          message.returnRoute.prepend(this.senderAddress),
          message.payloadParts,
          this.#localInfo,
          message.tracingContext,
        );
        try {
          await this.node.route(this.receiverAddress, routed);
        } catch (e) {
          if (!this.refused('route', e)) return;
        }
      }
    } finally {
      this.#routing = false;
      if (this.#paused && !this.#closing) {
        this.#paused = false;
        this.resumeReading();
      }
    }
  }

  // ---- closing ----

  /** What `close()` reports. */
  protected localCloseInfo(): I {
    return { cause: 'local', reason: 'closed locally' } as I;
  }

  /** What a limit of the transport (the guard has logged it) reports. */
  protected limitInfo(info: InboundLimitInfo): I {
    return { cause: info.limit === 'buffer-budget' ? 'limit' : 'timeout', reason: info.reason } as I;
  }

  /** Closes gracefully with `info`; aborting `signal` destroys the socket at once. */
  protected closeWith(info: I, signal: AbortSignal | undefined): Promise<I> {
    const onAbort = (): void => this.abort();
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    return this.#shutdown(info, true).finally(() => signal?.removeEventListener('abort', onAbort));
  }

  /**
   * A peer broke the protocol or the socket failed: log why and drop only this connection. The
   * line is rate-limited by reason: a flood of bad connections costs one line, not one each.
   */
  protected fail(info: I): void {
    if (this.#closing) return;
    const { error: _error, ...fields } = info;
    this.guard.log.warn(`${info.cause}:${info.reason}`, `${this.#init.transport} connection closed`, {
      peer: this.peerAddress,
      mode: this.mode,
      ...fields,
    });
    void this.#shutdown(info, false);
  }

  /** The peer closed the connection (logged once per `logKey` per interval). */
  protected peerClosed(info: I, logKey = 'peer'): void {
    if (this.#closing) return;
    const { error: _error, ...fields } = info;
    this.guard.log.info(logKey, `${this.#init.transport} connection closed`, {
      peer: this.peerAddress,
      mode: this.mode,
      ...fields,
    });
    void this.#shutdown(info, false);
  }

  /**
   * Releases the socket once both workers have stopped: `graceful` lets written bytes leave first.
   * May return the info to report instead (with what the socket said on closing).
   */
  protected abstract release(info: I, graceful: boolean): Promise<I | undefined>;

  /** Destroys the socket at once (an aborted close, a failed start, a failed release). */
  protected abstract abort(): void;

  /** Closing began: stop timers and watchers that belong to the socket. */
  protected closing(): void {}

  readonly #onIdle = (): void => {
    if (this.#closing) return;
    if (this.#active) {
      // Traffic since the last look: look again a full period later (idle for [T, 2T) closes).
      this.#active = false;
      this.#idleTimer?.refresh();
      return;
    }
    this.fail({ cause: 'timeout', reason: `no traffic for ${this.#init.idleTimeoutMs} ms` } as I);
  };

  #shutdown(info: I, graceful: boolean): Promise<I> {
    if (this.#done !== undefined) return this.#done;
    this.#closing = true;
    clearTimeout(this.#idleTimer);
    this.watch.release();
    this.closing();
    // Release a sender waiting for a drain that may never come; later messages are dropped.
    this.drained();
    try {
      this.#init.onClosing(this);
    } catch (e) {
      this.logger.warn(`${this.#init.transport} transport failed to forget a connection`, {
        peer: this.peerAddress,
        error: errorMessage(e),
      });
    }
    this.#done = this.#finish(info, graceful);
    return this.#done;
  }

  async #finish(info: I, graceful: boolean): Promise<I> {
    const t = this.#init.transport;
    // Stop routing first: once the receiver is gone the router no longer fences its address.
    await this.#stopWorker(this.receiverAddress);
    await this.#stopWorker(this.senderAddress);
    let final = info;
    try {
      final = (await this.release(info, graceful)) ?? info;
    } catch (e) {
      this.logger.warn(`${t} connection failed to close cleanly`, {
        peer: this.peerAddress,
        error: errorMessage(e),
      });
      this.abort();
    }
    this.#paused = false;
    this.#resolveClosed(final);
    try {
      this.#init.onClosed(this, final);
    } catch (e) {
      this.logger.warn(`${t} close listener failed`, { peer: this.peerAddress, error: errorMessage(e) });
    }
    return final;
  }

  async #stopWorker(address: Address): Promise<void> {
    try {
      await this.node.stopWorker(address);
    } catch (e) {
      this.logger.warn(`${this.#init.transport} worker failed to stop`, {
        address: address.value,
        error: errorMessage(e),
      });
    }
  }
}

/**
 * Waits for `closed` at most `graceMs`; then calls `expire` (destroy the socket) and returns.
 *
 * @example
 * ```ts
 * socket.end();
 * await closeWithin(socketClosed, 2_000, () => socket.destroy());
 * ```
 */
export async function closeWithin(closed: Promise<void>, graceMs: number, expire: () => void): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      closed,
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          expire();
          resolve();
        }, graceMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The message of an error, or the value as text. */
export function errorMessage(e: unknown): string {
  if (OckamError.is(e) || e instanceof Error) return e.message;
  return String(e);
}

/**
 * `host:port`, with an IPv6 host in brackets.
 *
 * @example
 * ```ts
 * formatHostPort({ host: '::1', port: 4000 }); // '[::1]:4000'
 * ```
 */
export function formatHostPort(peer: HostPort): string {
  return peer.host.includes(':') ? `[${peer.host}]:${peer.port}` : `${peer.host}:${peer.port}`;
}

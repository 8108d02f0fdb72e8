/**
 * A UDP puncture (PROTOCOL.md §2.2 step 4, `puncture/puncture/*`): a path straight to a peer
 * behind a NAT, kept open by pings, usable as a route hop.
 *
 * Both peers know each other's public `ip:port` (from the rendezvous service, exchanged during
 * negotiation) and the LOCAL address of each other's puncture worker (`remoteAddress`). Each side
 * sends `Ping` to `[bind sender, 2#peer, their remote address]` every second; the peer answers
 * `Pong`. The first datagrams open each NAT's mapping for the other side; the first `Pong` proves
 * the path works both ways and opens the puncture. After `closeAfterMs` (10 s) without a `Pong`
 * the puncture closes.
 *
 * Messages sent to `[puncture.senderAddress, …rest]` travel as `Payload { onward: rest, return,
 * payload }`; the peer's puncture routes them on from its receiver (a flow-control producer) with
 * its own sender pushed on the return route, so replies come back the same way.
 *
 * Unlike Ockam, a puncture only accepts datagrams from the peer's negotiated address: its remote
 * address is not a secret worth relying on.
 *
 * @example
 * ```ts
 * const puncture = startPuncture(bind, { peerUdpAddress: '198.51.100.9:40001', theirRemoteAddress: theirs });
 * await puncture.waitForOpen({ timeoutMs: 10_000 });
 * await node.client().request([puncture.senderAddress, 'echo'], payload);
 * ```
 */
import {
  Address,
  type AddressLike,
  CancelledError,
  type FlowControlId,
  type LocalInfo,
  LocalMessage,
  type Logger,
  type Node,
  Route,
  type RoutedMessage,
  TimeoutError,
  toAddress,
  UDP,
  type WorkerContext,
} from '@ockam/core';
import { errorMessage } from './internal/bind.js';
import { decodePunctureMessage, encodePunctureMessage, type PunctureMessage } from './puncture-message.js';
import type { UdpBind } from './udp-bind.js';

/** Ockam's `HEARTBEAT_INTERVAL`. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1_000;
/** Ockam's `PUNCTURE_OPEN_TIMEOUT`: no pong for this long closes the puncture. */
export const DEFAULT_PUNCTURE_CLOSE_AFTER_MS = 10_000;

export interface UdpPunctureOptions {
  /** The peer's public `ip:port`, as the rendezvous service saw it. */
  peerUdpAddress: string;
  /** The LOCAL address of the peer's puncture worker. */
  theirRemoteAddress: AddressLike;
  /** Our puncture worker's address, which we told the peer (default: random). */
  myRemoteAddress?: AddressLike;
  /** The producer id of what comes out of the puncture (default: fresh). */
  flowControlId?: FlowControlId;
  /** A spawner id for that producer: consumers of it receive from every puncture that has it. */
  spawnerFlowControlId?: FlowControlId;
  heartbeatIntervalMs?: number;
  /** Close after this long without a pong, or without a first pong (default 10 000 ms). */
  closeAfterMs?: number;
  /**
   * Ping the peer's bind, not its puncture worker, until the peer's first ping arrives (the
   * responder's side: the initiator starts its worker only after our acknowledgement). Those
   * pings open our NAT mapping and are dropped by the peer as empty messages.
   */
  redirectFirstPingToTransport?: boolean;
  /**
   * The address pushed onto the return route of what the puncture delivers (default: its sender).
   * A fallback helper passes its own, so that replies pick their path when they are sent.
   */
  returnAddress?: AddressLike;
  /** Close the bind when the puncture closes (default true: each puncture owns its bind). */
  closeBind?: boolean;
  logger?: Logger;
}

export type UdpPunctureCloseReason = 'timeout' | 'stopped' | 'bind-closed';

export interface UdpPunctureStats {
  pingsSent: number;
  pingsReceived: number;
  pongsReceived: number;
  payloadsIn: number;
  payloadsOut: number;
  /** Puncture messages that could not be decoded or routed. */
  dropped: number;
  /** Messages to our remote address from another UDP address than the peer's. */
  wrongPeer: number;
}

export interface UdpPunctureEvents {
  open: () => void;
  close: (reason: UdpPunctureCloseReason) => void;
}

export class UdpPuncture {
  /** The route hop to the peer's node: `[puncture.senderAddress, 'service']`. */
  readonly senderAddress: Address;
  /** Where the peer's pings and payloads arrive. */
  readonly remoteAddress: Address;
  /** The flow-control producer of what the peer sends. */
  readonly receiverAddress: Address;
  readonly flowControlId: FlowControlId;
  readonly spawnerFlowControlId: FlowControlId | undefined;
  readonly bind: UdpBind;
  readonly peerUdpAddress: string;
  readonly theirRemoteAddress: Address;
  /** Resolves with the reason once closed; never rejects. */
  readonly closed: Promise<UdpPunctureCloseReason>;

  readonly #node: Node;
  readonly #logger: Logger;
  readonly #ctx: WorkerContext;
  readonly #options: UdpPunctureOptions;
  readonly #heartbeatMs: number;
  readonly #closeAfterMs: number;
  readonly #localInfo: LocalInfo;
  readonly #peerRoute: Route;
  readonly #returnAddress: Address;
  readonly #stats: UdpPunctureStats = {
    pingsSent: 0,
    pingsReceived: 0,
    pongsReceived: 0,
    payloadsIn: 0,
    payloadsOut: 0,
    dropped: 0,
    wrongPeer: 0,
  };
  readonly #handlers = {
    open: new Set<UdpPunctureEvents['open']>(),
    close: new Set<UdpPunctureEvents['close']>(),
  };
  #open = false;
  #closing: Promise<void> | undefined;
  #closeReason: UdpPunctureCloseReason | undefined;
  #firstPingReceived = false;
  #lastHeardAt = Date.now();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #waiters = new Set<(open: boolean) => void>();
  #resolveClosed!: (reason: UdpPunctureCloseReason) => void;

  constructor(bind: UdpBind, options: UdpPunctureOptions) {
    const node = bind.node;
    this.#node = node;
    this.#logger = options.logger ?? node.logger;
    this.#options = options;
    this.bind = bind;
    this.peerUdpAddress = options.peerUdpAddress;
    this.theirRemoteAddress = toAddress(options.theirRemoteAddress);
    if (!this.theirRemoteAddress.isLocal)
      throw new RangeError(`theirRemoteAddress must be LOCAL, got ${this.theirRemoteAddress}`);
    this.#heartbeatMs = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.#closeAfterMs = options.closeAfterMs ?? DEFAULT_PUNCTURE_CLOSE_AFTER_MS;
    if (!(this.#heartbeatMs > 0))
      throw new RangeError(`heartbeatIntervalMs must be > 0, got ${this.#heartbeatMs}`);
    if (!(this.#closeAfterMs > 0))
      throw new RangeError(`closeAfterMs must be > 0, got ${this.#closeAfterMs}`);
    this.flowControlId = options.flowControlId ?? node.flowControls.generateId();
    this.spawnerFlowControlId = options.spawnerFlowControlId;
    this.#localInfo = Object.freeze({ flowControlId: this.flowControlId, udpPeer: this.peerUdpAddress });
    this.remoteAddress =
      options.myRemoteAddress === undefined
        ? Address.random('udp_puncture_remote_')
        : toAddress(options.myRemoteAddress);
    this.receiverAddress = Address.random('udp_puncture_receiver_');
    this.senderAddress = Address.random('udp_puncture_sender_');
    this.#returnAddress =
      options.returnAddress === undefined ? this.senderAddress : toAddress(options.returnAddress);
    this.#peerRoute = new Route([
      bind.senderAddress,
      new Address(UDP, this.peerUdpAddress),
      this.theirRemoteAddress,
    ]);
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));

    this.#ctx = node.startWorker(
      [
        { address: this.remoteAddress },
        { address: this.receiverAddress, incoming: { isAuthorized: () => false } },
      ],
      {
        handleMessage: (_ctx, routed) => this.#fromPeer(routed),
        shutdown: () => {
          if (this.#closing === undefined) void this.#close('stopped');
        },
      },
    );
    try {
      node.startWorker(this.senderAddress, {
        handleMessage: (ctx, routed) => this.#toPeer(ctx, routed),
        shutdown: () => {
          if (this.#closing === undefined) void this.#close('stopped');
        },
      });
    } catch (e) {
      void node.stopWorker(this.remoteAddress).catch(() => {});
      throw e;
    }
    // §1.5: the peer's datagrams come out of the bind's receiver; what we route on comes out of ours.
    node.flowControls.addConsumer(this.remoteAddress, bind.flowControlId);
    node.flowControls.addProducer(this.receiverAddress, this.flowControlId, this.spawnerFlowControlId);
    bind.closed.then(
      () => {
        if (this.#closing === undefined) void this.#close('bind-closed');
      },
      () => {},
    );
    this.#timer = setTimeout(this.#heartbeat, 0);
    this.#logger.info('udp puncture started', {
      peer: this.peerUdpAddress,
      bind: `${bind.localAddress.host}:${bind.localAddress.port}`,
      sender: this.senderAddress.value,
    });
  }

  get isOpen(): boolean {
    return this.#open && this.#closing === undefined;
  }

  get isClosed(): boolean {
    return this.#closing !== undefined;
  }

  stats(): UdpPunctureStats {
    return { ...this.#stats };
  }

  on<E extends keyof UdpPunctureEvents>(event: E, listener: UdpPunctureEvents[E]): () => void {
    const set = this.#handlers[event] as Set<UdpPunctureEvents[E]>;
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Resolves once a pong has come back; rejects on timeout, abort, or if the puncture closes first. */
  waitForOpen(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    if (this.isOpen) return Promise.resolve();
    if (this.isClosed) return Promise.reject(this.#closedError());
    const { timeoutMs = this.#closeAfterMs, signal } = options;
    if (signal?.aborted)
      return Promise.reject(
        new CancelledError('Waiting for the UDP puncture cancelled', 'transport', { cause: signal.reason }),
      );
    return new Promise<void>((resolve, reject) => {
      const done = (error: Error | undefined): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#waiters.delete(waiter);
        if (error === undefined) resolve();
        else reject(error);
      };
      const waiter = (open: boolean): void => done(open ? undefined : this.#closedError());
      const onAbort = (): void =>
        done(
          new CancelledError('Waiting for the UDP puncture cancelled', 'transport', {
            cause: signal?.reason,
          }),
        );
      const timer = setTimeout(
        () =>
          done(
            new TimeoutError(
              `UDP puncture to ${this.peerUdpAddress} not open within ${timeoutMs} ms`,
              'transport',
            ),
          ),
        timeoutMs,
      );
      this.#waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Stops the workers and the heartbeat, and closes the bind unless `closeBind: false`. */
  async stop(): Promise<void> {
    await this.#close('stopped');
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #closedError(): Error {
    return new CancelledError(
      `UDP puncture to ${this.peerUdpAddress} closed (${this.#closeReason ?? 'stopped'})`,
      'transport',
    );
  }

  #emit<E extends keyof UdpPunctureEvents>(event: E, ...args: Parameters<UdpPunctureEvents[E]>): void {
    for (const h of this.#handlers[event]) {
      try {
        (h as (...a: Parameters<UdpPunctureEvents[E]>) => void)(...args);
      } catch (e) {
        this.#logger.warn(`udp puncture '${event}' listener threw`, { error: errorMessage(e) });
      }
    }
  }

  // ---- heartbeat ----

  readonly #heartbeat = (): void => {
    this.#timer = undefined;
    if (this.#closing !== undefined) return;
    if (Date.now() - this.#lastHeardAt >= this.#closeAfterMs) {
      this.#logger.warn('udp puncture closed: no pong from the peer', {
        peer: this.peerUdpAddress,
        afterMs: this.#closeAfterMs,
        wasOpen: this.#open,
      });
      void this.#close('timeout');
      return;
    }
    // Until the peer's first ping proves its puncture worker exists, the responder pings its bind.
    const route =
      this.#options.redirectFirstPingToTransport === true && !this.#firstPingReceived
        ? this.#peerRoute.popBack()
        : this.#peerRoute;
    this.#stats.pingsSent++;
    this.#ctx
      .send(route, encodePunctureMessage({ type: 'ping' }), { from: this.remoteAddress })
      .catch((e: unknown) =>
        this.#logger.debug('udp puncture ping not sent', {
          peer: this.peerUdpAddress,
          error: errorMessage(e),
        }),
      );
    this.#timer = setTimeout(this.#heartbeat, this.#heartbeatMs);
  };

  // ---- from the peer ----

  async #fromPeer(routed: RoutedMessage): Promise<void> {
    const { message } = routed;
    const s = this.#stats;
    // The bind's receiver put [bind sender, 2#ip:port] in front of the return route.
    const hop = message.returnRoute.addresses[1];
    if (
      !message.returnRoute.addresses[0]?.equals(this.bind.senderAddress) ||
      hop === undefined ||
      hop.type !== UDP ||
      hop.value !== this.peerUdpAddress
    ) {
      s.wrongPeer++;
      return;
    }
    let m: PunctureMessage;
    try {
      m = decodePunctureMessage(message.payload);
    } catch (e) {
      s.dropped++;
      this.#logger.debug('udp puncture message dropped', {
        peer: this.peerUdpAddress,
        reason: errorMessage(e),
      });
      return;
    }
    switch (m.type) {
      case 'ping':
        s.pingsReceived++;
        this.#firstPingReceived = true;
        await this.#ctx.send(message.returnRoute, encodePunctureMessage({ type: 'pong' }), {
          from: this.remoteAddress,
        });
        return;
      case 'pong':
        s.pongsReceived++;
        this.#lastHeardAt = Date.now();
        if (!this.#open && this.#closing === undefined) {
          this.#open = true;
          this.#logger.info('udp puncture open', {
            peer: this.peerUdpAddress,
            sender: this.senderAddress.value,
          });
          const waiters = [...this.#waiters];
          this.#waiters.clear();
          for (const w of waiters) w(true);
          this.#emit('open');
        }
        return;
      case 'payload': {
        if (m.onwardRoute.isEmpty) {
          s.dropped++;
          return;
        }
        s.payloadsIn++;
        const local = new LocalMessage(
          m.onwardRoute,
          m.returnRoute.prepend(this.#returnAddress),
          m.payload,
          this.#localInfo,
        );
        try {
          await this.#ctx.forward(local, { from: this.receiverAddress });
        } catch (e) {
          s.dropped++;
          this.#logger.debug('udp puncture payload not routed', {
            peer: this.peerUdpAddress,
            reason: errorMessage(e),
          });
        }
        return;
      }
    }
  }

  // ---- to the peer ----

  async #toPeer(ctx: WorkerContext, routed: RoutedMessage): Promise<void> {
    // As in Ockam, messages wait for the puncture to open.
    if (!this.isOpen) {
      if (this.isClosed) return;
      const open = await new Promise<boolean>((resolve) => this.#waiters.add(resolve));
      if (!open) return;
    }
    const { message } = routed;
    const wrapped = encodePunctureMessage({
      type: 'payload',
      onwardRoute: message.onwardRoute.popFront(),
      returnRoute: message.returnRoute,
      payload: message.payload,
    });
    this.#stats.payloadsOut++;
    await ctx.forward(new LocalMessage(this.#peerRoute, Route.empty(), wrapped));
  }

  // ---- closing ----

  #close(reason: UdpPunctureCloseReason): Promise<void> {
    this.#closing ??= (async () => {
      this.#closeReason = reason;
      clearTimeout(this.#timer);
      this.#timer = undefined;
      for (const w of [...this.#waiters]) w(false);
      this.#waiters.clear();
      const node = this.#node;
      for (const a of [this.senderAddress, this.remoteAddress]) {
        try {
          await node.stopWorker(a);
        } catch (e) {
          this.#logger.warn('udp puncture worker failed to stop', {
            address: a.value,
            error: errorMessage(e),
          });
        }
      }
      if (this.#options.closeBind !== false) await this.bind.close();
      this.#logger.info('udp puncture closed', { peer: this.peerUdpAddress, reason });
      this.#resolveClosed(reason);
      this.#emit('close', reason);
    })();
    return this.#closing;
  }
}

/** Starts a puncture through `bind` (see `UdpPuncture`). */
export function startPuncture(bind: UdpBind, options: UdpPunctureOptions): UdpPuncture {
  return new UdpPuncture(bind, options);
}

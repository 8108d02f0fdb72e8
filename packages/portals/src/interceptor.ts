/**
 * Portal interceptors: a hop that sits inside a portal route and rewrites the bytes of each portal
 * connection (KAFKA.md §1.1, §1.2), wire-compatible with Ockam's `PortalInletInterceptor` and
 * `PortalOutletInterceptor` (`ockam_transport_tcp/src/portal/interceptor.rs`).
 *
 * - `startInletInterceptor(node, { address })`: beside a TCP inlet whose route starts with
 *   `address`. The inlet's Ping reaches the listener at `address`, which starts one connection (two
 *   workers: one per direction) and sends the Ping on along the rest of the route.
 * - `startOutletInterceptor(node, { address })`: beside outlets, reached as `… address, outlet`.
 *   Same, on the far side: the Ping goes on to `outlet`, whose Pong comes back through it.
 *
 * Each connection gets its own `ConnectionInterceptor` (`create()`): `request(chunk)` sees what
 * goes from the inlet towards the outlet (a client's requests), in order, and returns what to send
 * on (`forward`) and what to answer the client with at once (`reply`); `response(chunk)` sees what
 * comes back. Calls are serialized per direction (each direction is one worker). What they return
 * is sent in `Payload`s of at most `MAX_PAYLOAD_SIZE` (48 KiB); an empty result sends nothing.
 * `Ping`, `Pong` and `Disconnect` are carried as Ockam's interceptor carries them.
 *
 * An interceptor that throws is fatal for its connection, on both sides: each side gets two
 * `Disconnect`s (a reset; Ockam's own portals close on one) and the connection's workers stop.
 * Ockam only logs the error and leaves the client waiting (KAFKA.md §1.7); a client here sees its
 * connection closed.
 *
 * Flow control and access control hold through the hop: a message the hop passes inwards (towards
 * the outlet's portal worker, or the inlet's) is derived from the one it received, so it keeps its
 * origin (the channel it came out of) and its local info (the peer's identity), and lands only
 * where that channel could have sent it, under the same policies. What the hop sends outwards
 * (back along the route it came by) is built afresh, as a portal worker's own sends are. `incoming`
 * (a policy) guards the listener and the worker that receives from the far side; `outgoing` the
 * worker that sends to it. The outlet-side listener is reachable only from `consumerOf` flows.
 *
 * @example
 * ```ts
 * const upper = () => ({
 *   request: async (b: Uint8Array) => ({ forward: b, reply: new Uint8Array(0) }),
 *   response: async (b: Uint8Array) => new TextEncoder().encode(new TextDecoder().decode(b).toUpperCase()),
 * });
 * startOutletInterceptor(node, { address: 'interceptor', create: upper, consumerOf: [listener.flowControlId] });
 * // an inlet with route [channel, 'interceptor', 'outlet'] now reads its service's answers in capitals
 * ```
 */
import {
  Address,
  type AddressLike,
  type FlowControlId,
  type IncomingAccessControl,
  LocalMessage,
  type Logger,
  LogLimiter,
  type Node,
  type OutgoingAccessControl,
  Route,
  type RoutedMessage,
  toAddress,
  type WorkerContext,
} from '@ockam/core';
import { incomingCheck } from './internal/incoming.js';
import { errorMessage, sleep } from './internal/timers.js';
import {
  decodePortalMessage,
  encodePayload,
  encodePortalMessage,
  MAX_PAYLOAD_SIZE,
  type PortalMessage,
} from './portal-message.js';

/** What one portal connection's bytes go through; see the module comment. */
export interface ConnectionInterceptor {
  /** Inlet → outlet bytes: what to send on, and what to answer the client with. */
  request(chunk: Uint8Array): Promise<{ forward: Uint8Array; reply: Uint8Array }>;
  /** Outlet → inlet bytes: what to deliver to the client. */
  response(chunk: Uint8Array): Promise<Uint8Array>;
  /** Called once when the connection is over (optional). */
  close?(): void;
}

export interface InterceptorOptions {
  /** The listener's address (`kafka_interceptor`, an inlet's `kafka_inlet`). */
  address: AddressLike;
  /** Makes the interceptor of one new portal connection. */
  create: () => ConnectionInterceptor;
  /** Checked on messages from the far side (an inlet's or outlet's policy), and on the outlet side's listener. */
  incoming?: IncomingAccessControl;
  /** Checked on what the hop sends to the far side. */
  outgoing?: OutgoingAccessControl;
  /** Outlet side: flow-control ids whose producers may reach the listener (a channel listener's). */
  consumerOf?: readonly FlowControlId[];
  /** Open connections at most; a Ping beyond it is answered with `Disconnect` (default 1 024). */
  maxConnections?: number;
  /** How long a finished connection's workers stay to carry messages still in flight (default 1 000 ms). */
  lingerMs?: number;
  logger?: Logger;
}

export interface PortalInterceptor {
  readonly address: Address;
  /** Open connections. */
  connections(): number;
  /** Stops the listener and resets every open connection on both sides. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export const DEFAULT_MAX_INTERCEPTED_CONNECTIONS = 1_024;
const DEFAULT_INTERCEPTOR_LINGER_MS = 1_000;
const LOG_INTERVAL_MS = 10_000;
const EMPTY = new Uint8Array(0);
const DISCONNECT = encodePortalMessage({ kind: 'disconnect' });

/** Inlet side: starts the listener at `address`, which TCP inlets put first on their route. */
export function startInletInterceptor(node: Node, options: InterceptorOptions): PortalInterceptor {
  return startListener(node, options, 'inlet');
}

/** Outlet side: starts the listener at `address`, reached as `… address, <outlet>`. */
export function startOutletInterceptor(node: Node, options: InterceptorOptions): PortalInterceptor {
  return startListener(node, options, 'outlet');
}

function startListener(node: Node, options: InterceptorOptions, side: 'inlet' | 'outlet'): PortalInterceptor {
  const address = toAddress(options.address);
  const logger = (options.logger ?? node.logger).child({ interceptor: address.value });
  const limiter = new LogLimiter(logger, LOG_INTERVAL_MS);
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_INTERCEPTED_CONNECTIONS;
  const lingerMs = options.lingerMs ?? DEFAULT_INTERCEPTOR_LINGER_MS;
  const open = new Set<InterceptedConnection>();
  let stopped = false;

  /**
   * `incoming` for the outlet-side listener: checked here, not by the router, so that a refusal is
   * answered. The inlet-side listener takes Pings from local inlets only; `incoming` guards what
   * comes back from the far side (as in Ockam, where only that worker has it).
   */
  const check = incomingCheck(options.incoming, limiter, 'portal interceptor');
  const authorized = (routed: RoutedMessage): Promise<boolean> | boolean =>
    side === 'inlet' ? true : check(routed);

  node.startWorker(
    address,
    {
      async handleMessage(ctx, routed) {
        const message = routed.message;
        let kind: PortalMessage['kind'];
        try {
          kind = decodePortalMessage(message.payload).kind;
        } catch (e) {
          limiter.warn('malformed', 'portal interceptor dropped a malformed message', {
            error: errorMessage(e),
          });
          return;
        }
        // Only a Ping opens a connection; anything else sent to the listener is a stray.
        if (kind !== 'ping') {
          limiter.warn('not-ping', 'portal interceptor accepts only Ping', { kind });
          return;
        }
        const onward = message.onwardRoute.popFront();
        if (stopped || onward.isEmpty || message.returnRoute.isEmpty) return;
        if (!(await authorized(routed))) {
          limiter.warn('refused', 'portal interceptor refused a Ping: access control denied it', {
            from: routed.source.value,
          });
          // As an outlet does: the inlet learns now, not from its Pong timeout.
          await ctx.send(message.returnRoute, DISCONNECT).catch(() => {});
          return;
        }
        if (open.size >= maxConnections) {
          limiter.warn('full', 'portal interceptor refused a connection: too many open', { maxConnections });
          await ctx.send(message.returnRoute, DISCONNECT).catch(() => {});
          return;
        }
        let interceptor: ConnectionInterceptor;
        try {
          interceptor = options.create();
        } catch (e) {
          logger.warn('portal interceptor could not start a connection', { error: errorMessage(e) });
          await ctx.send(message.returnRoute, DISCONNECT).catch(() => {});
          return;
        }
        const connection = new InterceptedConnection({
          node,
          side,
          interceptor,
          logger,
          lingerMs,
          incoming: options.incoming,
          outgoing: options.outgoing,
          onClosed: (c) => open.delete(c),
        });
        open.add(connection);
        await connection.start(routed, onward);
      },
    },
    // Flow control still fences the listener; `incoming` is checked in the handler (above).
  );
  for (const id of options.consumerOf ?? []) node.flowControls.addConsumer(address, id);
  logger.info(`portal interceptor started (${side} side)`);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await node.stopWorker(address);
    await Promise.all([...open].map((c) => c.reset('interceptor stopped')));
  };
  return { address, connections: () => open.size, stop, [Symbol.asyncDispose]: stop };
}

interface ConnectionInit {
  node: Node;
  side: 'inlet' | 'outlet';
  interceptor: ConnectionInterceptor;
  logger: Logger;
  lingerMs: number;
  incoming: IncomingAccessControl | undefined;
  outgoing: OutgoingAccessControl | undefined;
  onClosed: (c: InterceptedConnection) => void;
}

/**
 * One intercepted portal connection: two workers, like Ockam's pair.
 *
 * - `inner` receives from our own portal worker (the inlet's on the inlet side, the outlet's on
 *   the outlet side) and sends to the far side; `outgoing` applies to it.
 * - `outer` receives from the far side (through the route) and sends to our portal worker;
 *   `incoming` applies to it.
 *
 * On the inlet side, our portal worker's Payloads carry requests (`request`) and the far side's
 * carry responses (`response`); on the outlet side it is the other way round.
 */
class InterceptedConnection {
  readonly #init: ConnectionInit;
  readonly #inner: WorkerContext;
  readonly #outer: WorkerContext;
  readonly #logger: Logger;
  /** The route to our portal worker, once known. */
  #local: Route | undefined;
  /** The return route of what `outer` delivers to our portal worker. */
  #localReturn: Route;
  /** The route to the far side, once known. */
  #far: Route | undefined;
  /** Reset: nothing more is carried. */
  #closing = false;
  #closed = false;
  /** Which sides sent a Disconnect (a half-close until both have). */
  #ended = { local: false, far: false };
  #lastActivity = 0;
  #lingerTimer: ReturnType<typeof setInterval> | undefined;

  constructor(init: ConnectionInit) {
    this.#init = init;
    const node = init.node;
    const inner = Address.random('interceptor_in_');
    const outer = Address.random('interceptor_out_');
    this.#logger = init.logger.child({ connection: inner.value });
    this.#inner = node.startWorker(
      inner,
      { handleMessage: (_ctx, routed) => this.#fromLocal(routed) },
      init.outgoing ? { outgoing: init.outgoing } : {},
    );
    this.#outer = node.startWorker(
      outer,
      { handleMessage: (_ctx, routed) => this.#fromFar(routed) },
      init.incoming ? { incoming: this.#refusingHandshake(init.incoming) } : {},
    );
    this.#localReturn = Route.of(inner);
  }

  /**
   * `incoming`, and on the inlet side a refusal before the far side's Pong closes the client at
   * once (the far side answered, but may not talk to us), as a TCP inlet does, instead of leaving
   * it to wait out its Pong timeout.
   */
  #refusingHandshake(incoming: IncomingAccessControl): IncomingAccessControl {
    return {
      isAuthorized: async (relay) => {
        const allowed = await incoming.isAuthorized(relay);
        if (!allowed && this.#init.side === 'inlet' && this.#far === undefined && !this.#closing) {
          this.#logger.info(
            "portal interceptor closes a connection: this side's policy refuses the far side",
          );
          void this.reset('refused by policy');
        }
        return allowed;
      },
    };
  }

  /**
   * Takes the Ping the listener received (its onward route already without the listener) and
   * sends it on, with this connection on its return route (Ockam's routes, hop for hop).
   */
  async start(ping: RoutedMessage, onward: Route): Promise<void> {
    const { node, side } = this.#init;
    const message = ping.message;
    if (side === 'inlet') {
      // From the inlet's portal worker; `onward` leads to the far side, and replies come back out
      // of the route's first hop (a channel, a connection): `outer` consumes that flow.
      this.#local = message.returnRoute;
      const flow = node.flowControls.producerFor(onward.next());
      if (flow !== undefined) node.flowControls.addConsumer(this.#outer.address, flow.flowControlId);
      await this.#send(this.#inner, new LocalMessage(onward, [this.#outer.address], message.payload));
    } else {
      // From the far side; `onward` leads to the outlet. The far side's later messages reach
      // `outer` out of the same flow as the Ping.
      this.#far = message.returnRoute;
      this.#localReturn = message.returnRoute.prepend(this.#inner.address);
      const origin = message.origin;
      if (origin !== undefined) node.flowControls.addConsumer(this.#outer.address, origin.flowControlId);
      // Derived from the Ping: the outlet sees the channel it came out of, and who sent it.
      await this.#send(this.#outer, message.withOnward(onward).withReturn(this.#localReturn));
    }
  }

  /** From our portal worker: Payloads, Disconnects, and on the outlet side the outlet's Pong. */
  async #fromLocal(routed: RoutedMessage): Promise<void> {
    const message = routed.message;
    this.#lastActivity = performance.now();
    const decoded = this.#decode(message.payload);
    if (decoded === undefined) return;
    switch (decoded.kind) {
      case 'pong':
        if (this.#init.side === 'outlet' && this.#local === undefined) {
          this.#local = message.returnRoute;
          await this.#toFar([message.payload]);
        }
        return;
      case 'payload': {
        if (this.#closing) return;
        const out = await this.#intercept(this.#init.side === 'inlet' ? 'request' : 'response', decoded.data);
        if (out === undefined) return;
        await this.#toLocal(out.reply, undefined);
        await this.#toFar(chunked(out.forward));
        return;
      }
      case 'disconnect':
        await this.#toFar([message.payload]);
        this.#ended.local = true;
        this.#finishSoon();
        return;
      case 'ping':
        return;
    }
  }

  /** From the far side: Payloads, Disconnects, and on the inlet side the far side's Pong. */
  async #fromFar(routed: RoutedMessage): Promise<void> {
    const message = routed.message;
    this.#lastActivity = performance.now();
    const decoded = this.#decode(message.payload);
    if (decoded === undefined) return;
    switch (decoded.kind) {
      case 'pong':
        if (this.#init.side === 'inlet' && this.#far === undefined) {
          // The inlet's portal worker will send through `inner`, which sends on to the far side.
          this.#far = message.returnRoute;
          this.#localReturn = message.returnRoute.prepend(this.#inner.address);
          await this.#toLocal([message.payload], message);
        }
        return;
      case 'payload': {
        if (this.#closing) return;
        const out = await this.#intercept(this.#init.side === 'inlet' ? 'response' : 'request', decoded.data);
        if (out === undefined) return;
        await this.#toFar(chunked(out.reply));
        await this.#toLocal(chunked(out.forward), message);
        return;
      }
      case 'disconnect':
        await this.#toLocal([message.payload], message);
        this.#ended.far = true;
        this.#finishSoon();
        return;
      case 'ping':
        return;
    }
  }

  /**
   * Runs the interceptor on one chunk. `forward` goes on in the chunk's direction, `reply` back
   * (only requests have one). A throw resets the connection, and nothing of the chunk is sent.
   */
  async #intercept(
    call: 'request' | 'response',
    chunk: Uint8Array,
  ): Promise<{ forward: Uint8Array; reply: Uint8Array } | undefined> {
    try {
      if (call === 'request') return await this.#init.interceptor.request(chunk);
      return { forward: await this.#init.interceptor.response(chunk), reply: EMPTY };
    } catch (e) {
      this.#logger.warn('portal interceptor closes a connection: interception failed', {
        error: errorMessage(e),
      });
      await this.reset('interception failed');
      return undefined;
    }
  }

  #decode(payload: Uint8Array): PortalMessage | undefined {
    try {
      return decodePortalMessage(payload);
    } catch (e) {
      this.#logger.warn('portal interceptor got a malformed portal message; resetting', {
        error: errorMessage(e),
      });
      void this.reset('malformed message');
      return undefined;
    }
  }

  /**
   * To our portal worker, from `outer`. Derived from `cause` (the far side's message) when there
   * is one, so that the portal worker's flow control and policy see the channel and peer it came
   * out of; a reply the interceptor makes up itself is built afresh.
   */
  async #toLocal(
    payloads: readonly Uint8Array[] | Uint8Array,
    cause: LocalMessage | undefined,
  ): Promise<void> {
    const local = this.#local;
    if (local === undefined) return;
    const list = payloads instanceof Uint8Array ? chunked(payloads) : payloads;
    for (const p of list) {
      const m =
        cause === undefined
          ? new LocalMessage(local, this.#localReturn, p)
          : cause.withPayload(p).withOnward(local).withReturn(this.#localReturn);
      await this.#send(this.#outer, m);
    }
  }

  /** To the far side, from `inner`, built afresh: it goes back along the route it came by. */
  async #toFar(payloads: readonly Uint8Array[]): Promise<void> {
    const far = this.#far;
    if (far === undefined) return;
    for (const p of payloads) await this.#send(this.#inner, new LocalMessage(far, [this.#outer.address], p));
  }

  async #send(from: WorkerContext, message: LocalMessage): Promise<void> {
    try {
      await from.forward(message);
    } catch (e) {
      if (this.#closing) return;
      this.#logger.info('portal interceptor cannot send; resetting the connection', {
        error: errorMessage(e),
      });
      await this.reset('send failed');
    }
  }

  /** Resets both sides (two Disconnects each: a reset for our portals, a close for Ockam's) and stops. */
  async reset(reason: string): Promise<void> {
    if (this.#closed) return;
    this.#closing = true;
    this.#logger.debug('portal interceptor resets a connection', { reason });
    const local = this.#local;
    const far = this.#far;
    const twice = async (from: WorkerContext, route: Route | undefined): Promise<void> => {
      if (route === undefined) return;
      for (let i = 0; i < 2; i++) await from.send(route, DISCONNECT).catch(() => {});
    };
    await Promise.all([twice(this.#outer, local), twice(this.#inner, far)]);
    this.#stop();
  }

  /**
   * After a Disconnect. One side may have only half-closed (our portals' FIN) while the other
   * still sends: the connection stays until both sides have sent one, or until nothing has passed
   * for `lingerMs` (an Ockam peer closes on one Disconnect and may send none back).
   */
  #finishSoon(): void {
    if (this.#closed || this.#lingerTimer !== undefined) return;
    const lingerMs = this.#init.lingerMs;
    const check = (): void => {
      const both = this.#ended.local && this.#ended.far;
      if (both || performance.now() - this.#lastActivity >= lingerMs) {
        clearInterval(this.#lingerTimer);
        // Both sides done: still a moment for a second Disconnect in flight.
        if (both) void sleep(Math.min(lingerMs, 200)).then(() => this.#stop());
        else this.#stop();
      }
    };
    this.#lingerTimer = setInterval(check, Math.max(10, lingerMs / 4));
    this.#lingerTimer.unref();
  }

  #stop(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing = true;
    clearInterval(this.#lingerTimer);
    try {
      this.#init.interceptor.close?.();
    } catch (e) {
      this.#logger.debug('connection interceptor failed to close', { error: errorMessage(e) });
    }
    const { node } = this.#init;
    // Not awaited: this may run inside one of the two workers' handlers, and stopping a worker
    // waits for its handler to return.
    void Promise.all([node.stopWorker(this.#inner.address), node.stopWorker(this.#outer.address)]).finally(
      () => this.#init.onClosed(this),
    );
  }
}

/** `bytes` as encoded `Payload`s of at most `MAX_PAYLOAD_SIZE` each (none for no bytes). */
function chunked(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < bytes.length; o += MAX_PAYLOAD_SIZE)
    out.push(encodePayload(bytes.subarray(o, Math.min(bytes.length, o + MAX_PAYLOAD_SIZE))));
  return out;
}

/**
 * One portal connection: a TCP socket on one side and a worker that talks the portal protocol
 * with its peer on the other side (PROTOCOL.md §7.2, §7.3).
 *
 * Data: what the socket gives is sent in `Payload`s of at most `MAX_PAYLOAD_SIZE` (48 KiB), with an
 * awaited router send while the socket is paused, so a full mailbox anywhere along the route stops
 * reading (back-pressure). Node reads up to 64 KiB at a time; cutting each read on its own would
 * make a 16 KiB `Payload` out of every other one, so a tail shorter than 48 KiB is carried into
 * the next read if that read comes within the same event-loop turn, and sent on its own at the
 * end of the turn otherwise (a check-phase callback: no timer, no added latency to speak of).
 * `Payload`s from the peer are written to the socket; while `write()` asks for `drain`, the worker
 * takes no further message, so its bounded mailbox pushes back on the route.
 *
 * Closing (our rules, compatible with Ockam's, which treats any `Disconnect` as a full close):
 * - our socket ends cleanly (FIN): after every byte read before it has been sent, we send one
 *   `Disconnect`; the peer ends its socket (half-close), and keeps relaying the other way;
 * - a `Disconnect` from the peer ends our socket after what was written is flushed;
 * - our socket fails or is destroyed before it ended (RST, a local stop): we send two
 *   `Disconnect`s (one if the peer already ended); a second `Disconnect` tells our peer to destroy
 *   its socket rather than half-close it, so a reset reaches the other side as a reset;
 * - once closed, the worker lingers `lingerMs` to absorb messages still in flight, then stops.
 *
 * Authorization is not only checked per message: a connection whose peer stops sending (a
 * download, seen from the downloading side's peer) would otherwise live on after the peer's
 * credential expired. So an open connection with an incoming access control asks it again every
 * `recheckMs` about the peer (the message that opened the connection, or the first one it sent),
 * and resets the connection when the answer is no — as Ockam's portals do through their outgoing
 * ABAC, which refuses to send to a peer whose credential expired.
 */
import type { Socket } from 'node:net';
import {
  Address,
  type FlowControlId,
  type IncomingAccessControl,
  LocalMessage,
  type Logger,
  type Node,
  type OutgoingAccessControl,
  type RelayMessage,
  type Route,
  type RoutedMessage,
  type WorkerContext,
} from '@ockam/core';
import { PortalError } from '../errors.js';
import {
  decodePortalMessage,
  encodePayloadParts,
  encodePortalMessage,
  MAX_PAYLOAD_SIZE,
} from '../portal-message.js';
import { errorMessage, sleep, within } from './timers.js';

const PING = encodePortalMessage({ kind: 'ping' });
const PONG = encodePortalMessage({ kind: 'pong' });
const DISCONNECT = encodePortalMessage({ kind: 'disconnect' });

/** How long closing waits for queued sends before giving up on them. */
const CLOSE_SEND_TIMEOUT_MS = 2_000;

/** How often an open connection re-checks that its peer is still authorized (1 s: one policy evaluation per connection per second). */
export const DEFAULT_RECHECK_MS = 1_000;

export interface PortalConnectionInit {
  readonly node: Node;
  readonly logger: Logger;
  readonly role: 'inlet' | 'outlet';
  readonly socket: Socket;
  readonly lingerMs: number;
  readonly incoming?: IncomingAccessControl | undefined;
  readonly outgoing?: OutgoingAccessControl | undefined;
  /** Flow-control ids whose producers deliver the peer's messages to us. */
  readonly consumerOf?: readonly (FlowControlId | undefined)[];
  /** Called once when the worker has stopped. */
  readonly onClosed?: (connection: PortalConnection) => void;
  /** Called when a send to the peer failed (the route may be broken). */
  readonly onRouteError?: (error: unknown) => void;
  /** How often `incoming` is asked again about the peer while open (default 1 s; 0: never). */
  readonly recheckMs?: number;
  /** The message that opened the connection (an outlet's Ping): whom the re-check asks about. */
  readonly openedBy?: RelayMessage;
}

/** What the re-check keeps of a peer's message: who sent it, through which channel; not its payload. */
function withoutPayload(m: RelayMessage): RelayMessage {
  const { onwardRoute, returnRoute, localInfo } = m.message;
  return {
    source: m.source,
    destination: m.destination,
    message: new LocalMessage(onwardRoute, returnRoute, new Uint8Array(0), localInfo),
  };
}

type State = 'handshake' | 'open' | 'closed';

export class PortalConnection {
  readonly address: Address;
  readonly role: 'inlet' | 'outlet';
  readonly socket: Socket;
  /** Resolves once the worker has stopped and the socket is closed. */
  readonly closed: Promise<void>;

  readonly #node: Node;
  readonly #logger: Logger;
  readonly #lingerMs: number;
  readonly #ctx: WorkerContext;
  readonly #onClosed: ((c: PortalConnection) => void) | undefined;
  readonly #onRouteError: ((e: unknown) => void) | undefined;

  #state: State = 'handshake';
  #remote: Route | undefined;
  #pong: { resolve: (r: Route) => void; reject: (e: Error) => void } | undefined;
  #outbound: Promise<void> = Promise.resolve();
  #pendingReads = 0;
  /** Bytes read and not yet sent (less than one payload), and whether their flush is scheduled. */
  #carry: Uint8Array[] = [];
  #carryLength = 0;
  #flushScheduled = false;
  #sentDisconnect = false;
  #receivedDisconnect = false;
  #notifyPeer = true;
  #drainWaiter: (() => void) | undefined;
  #expectedCounter = 0;
  #socketClosed = false;
  #resolveClosed!: () => void;
  #finishing = false;
  #bytesIn = 0;
  #bytesOut = 0;
  readonly #incoming: IncomingAccessControl | undefined;
  readonly #recheckMs: number;
  #peer: RelayMessage | undefined;
  #recheck: ReturnType<typeof setInterval> | undefined;
  #checking = false;

  constructor(init: PortalConnectionInit) {
    this.#node = init.node;
    this.role = init.role;
    this.socket = init.socket;
    this.#lingerMs = init.lingerMs;
    this.#onClosed = init.onClosed;
    this.#onRouteError = init.onRouteError;
    this.#incoming = init.incoming;
    this.#recheckMs = init.recheckMs ?? DEFAULT_RECHECK_MS;
    if (init.openedBy) this.#peer = withoutPayload(init.openedBy);
    this.address = Address.random(`${init.role}_portal_`);
    this.#logger = init.logger.child({ portal: this.address.value });
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#ctx = init.node.startWorker(
      this.address,
      {
        handleMessage: (_ctx, routed) => this.#onMessage(routed),
      },
      {
        ...(init.incoming ? { incoming: this.#refusingHandshake(init.incoming) } : {}),
        ...(init.outgoing ? { outgoing: init.outgoing } : {}),
      },
    );
    for (const id of init.consumerOf ?? [])
      if (id !== undefined) init.node.flowControls.addConsumer(this.address, id);
    const socket = this.socket;
    // Nothing is read before the handshake completes.
    socket.pause();
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    socket.on('drain', this.#onDrain);
  }

  /**
   * `incoming`, and while an inlet waits for its Pong, a refusal ends the wait at once: the
   * outlet's side answered but may not talk to us (its credential expired, a policy), which the
   * inlet would otherwise learn only from the Pong timeout.
   */
  #refusingHandshake(incoming: IncomingAccessControl): IncomingAccessControl {
    return {
      isAuthorized: async (relay) => {
        const allowed = await incoming.isAuthorized(relay);
        if (!allowed && this.#state === 'handshake')
          this.#pong?.reject(
            new PortalError(
              'permission',
              "The outlet answered, but this side's access control refuses it (an expired credential, or a policy)",
            ),
          );
        return allowed;
      },
    };
  }

  get isOpen(): boolean {
    return this.#state === 'open';
  }

  /** Bytes read from / written to the socket. */
  get stats(): { bytesIn: number; bytesOut: number } {
    return { bytesIn: this.#bytesIn, bytesOut: this.#bytesOut };
  }

  /** Inlet: sends Ping along `route` and waits for the Pong; its return route becomes the peer. */
  async connect(route: Route, timeoutMs: number): Promise<void> {
    const pong = new Promise<Route>((resolve, reject) => {
      this.#pong = { resolve, reject };
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    let unwatch: (() => void) | undefined;
    try {
      await this.#ctx.send(route, PING);
      const first = route.next();
      const remote = await Promise.race([
        pong,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new PortalError(
                  'timeout',
                  `No Pong from the outlet within ${timeoutMs} ms along ${route}: check the outlet's address and that it is a flow-control consumer of the connection or channel the Ping arrives by (createOutlet consumerOf)`,
                ),
              ),
            timeoutMs,
          );
          // The Ping went through the route's first hop: if that stops, no Pong can come back.
          unwatch = this.#node.whenStopped(first, () =>
            reject(
              new PortalError(
                'io',
                `The route to the outlet closed (${first.value} stopped) before the outlet answered`,
              ),
            ),
          );
        }),
      ]);
      this.#open(remote);
    } finally {
      clearTimeout(timer);
      unwatch?.();
      this.#pong = undefined;
    }
  }

  /** Outlet: replies Pong along `route` (the Ping's return route) and starts relaying. */
  async accept(route: Route): Promise<void> {
    await this.#ctx.send(route, PONG);
    this.#open(route);
  }

  #open(remote: Route): void {
    this.#remote = remote;
    if (this.#state === 'handshake') {
      this.#state = 'open';
      if (!this.#socketClosed) this.socket.resume();
      if (this.#incoming !== undefined && this.#recheckMs > 0) {
        this.#recheck = setInterval(() => void this.#checkPeer(), this.#recheckMs);
        this.#recheck.unref();
      }
      return;
    }
    // Our socket closed while the handshake was completing: the peer must not stay open.
    this.#resetPeer(remote);
  }

  /** Best effort: two Disconnects tell the peer to destroy its socket. */
  #resetPeer(route: Route): void {
    if (!this.#notifyPeer) return;
    this.#notifyPeer = false;
    void (async () => {
      for (let i = 0; i < 2; i++) await within(this.#ctx.send(route, DISCONNECT), CLOSE_SEND_TIMEOUT_MS);
    })().catch(() => {});
  }

  /**
   * Closes the connection. `notifyPeer: false` when the route is known dead (nothing is sent).
   * Resolves when the worker has stopped.
   */
  close(reason: string, options: { notifyPeer?: boolean } = {}): Promise<void> {
    if (options.notifyPeer === false) this.#notifyPeer = false;
    if (!this.#socketClosed) {
      this.#logger.debug('portal connection closing', { reason });
      this.socket.destroy();
    } else if (!this.#finishing) {
      void this.#finish();
    }
    return this.closed;
  }

  /** Asks the incoming access control again about the peer; resets the connection when refused. */
  async #checkPeer(): Promise<void> {
    const peer = this.#peer;
    const incoming = this.#incoming;
    if (this.#checking || this.#state !== 'open' || peer === undefined || incoming === undefined) return;
    this.#checking = true;
    let allowed: boolean;
    try {
      allowed = await incoming.isAuthorized(peer);
    } catch (e) {
      this.#logger.warn('portal access control failed on a re-check; closing', { error: errorMessage(e) });
      allowed = false;
    } finally {
      this.#checking = false;
    }
    if (allowed || this.#state !== 'open') return;
    this.#logger.info(
      'portal connection closed: its peer is no longer authorized (an expired credential or a changed policy)',
      {
        ...(peer.message.localInfo.secureChannelIdentifier
          ? { peer: peer.message.localInfo.secureChannelIdentifier }
          : {}),
      },
    );
    this.#abort();
  }

  // ---- from the peer ----

  async #onMessage(routed: RoutedMessage): Promise<void> {
    // Whom later re-checks ask about (the router let this message through `incoming`).
    if (this.#peer === undefined) this.#peer = withoutPayload(routed);
    let message: ReturnType<typeof decodePortalMessage>;
    try {
      message = decodePortalMessage(routed.message.payload);
    } catch (e) {
      this.#logger.warn('portal connection closed: the peer sent a malformed message', {
        error: errorMessage(e),
      });
      this.#abort();
      return;
    }
    if (this.#state === 'closed') {
      // Lingering: drop what was in flight; a late Pong means the outlet opened a connection
      // that nobody will use.
      if (message.kind === 'pong' && this.role === 'inlet' && this.#remote === undefined)
        this.#resetPeer(routed.message.returnRoute);
      return;
    }
    if (this.#state === 'handshake') {
      switch (message.kind) {
        case 'pong':
          this.#pong?.resolve(routed.message.returnRoute);
          return;
        case 'disconnect':
          this.#pong?.reject(
            new PortalError('io', 'The outlet refused the connection, or could not reach its target'),
          );
          return;
        case 'ping':
        case 'payload':
          this.#logger.warn('portal connection ignored a message before the handshake', {
            kind: message.kind,
          });
          return;
      }
    }
    switch (message.kind) {
      case 'payload': {
        if (message.counter !== undefined) {
          // PROTOCOL.md §7.1: a counter, when present, must run 0, 1, 2, …
          if (message.counter !== this.#expectedCounter) {
            this.#logger.warn('portal connection closed: packet counter mismatch', {
              expected: this.#expectedCounter,
              got: message.counter,
            });
            this.#abort();
            return;
          }
          this.#expectedCounter = (this.#expectedCounter + 1) & 0xffff;
        }
        return this.#write(message.data);
      }
      case 'disconnect':
        if (this.#receivedDisconnect) {
          // A second Disconnect: the peer's socket was reset or destroyed; so is ours.
          this.socket.destroy();
          return;
        }
        this.#receivedDisconnect = true;
        if (!this.#socketClosed) this.socket.end();
        return;
      case 'ping':
      case 'pong':
        this.#logger.warn('portal connection ignored an unexpected message', { kind: message.kind });
        return;
    }
  }

  #write(data: Uint8Array): void | Promise<void> {
    const socket = this.socket;
    if (this.#socketClosed || socket.writableEnded || this.#receivedDisconnect) return;
    this.#bytesOut += data.length;
    if (socket.write(data)) return;
    return new Promise((resolve) => {
      this.#drainWaiter = resolve;
    });
  }

  readonly #onDrain = (): void => {
    const w = this.#drainWaiter;
    this.#drainWaiter = undefined;
    w?.();
  };

  // ---- from the socket ----

  readonly #onData = (chunk: Buffer): void => {
    this.#bytesIn += chunk.length;
    this.socket.pause();
    this.#pendingReads++;
    this.#enqueue(async () => {
      try {
        await this.#sendData(chunk);
      } finally {
        this.#pendingReads--;
        if (this.#pendingReads === 0 && !this.#socketClosed && this.#state === 'open') this.socket.resume();
      }
    });
  };

  /** Sends what is carried and then `chunk` in whole `Payload`s; carries a shorter tail. */
  async #sendData(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    if (this.#carryLength > 0) {
      offset = Math.min(MAX_PAYLOAD_SIZE - this.#carryLength, chunk.length);
      this.#carry.push(chunk.subarray(0, offset));
      this.#carryLength += offset;
      if (this.#carryLength < MAX_PAYLOAD_SIZE) {
        this.#scheduleFlush();
        return;
      }
      await this.#flushCarry();
    }
    while (chunk.length - offset >= MAX_PAYLOAD_SIZE) {
      await this.#sendToPeer(encodePayloadParts(chunk.subarray(offset, offset + MAX_PAYLOAD_SIZE)));
      offset += MAX_PAYLOAD_SIZE;
    }
    if (offset < chunk.length) {
      this.#carry.push(chunk.subarray(offset));
      this.#carryLength = chunk.length - offset;
      this.#scheduleFlush();
    }
  }

  /** At the end of this event-loop turn, sends what is still carried (queued after pending reads). */
  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      if (this.#carryLength > 0) this.#enqueue(() => this.#flushCarry());
    });
  }

  async #flushCarry(): Promise<void> {
    if (this.#carryLength === 0) return;
    const parts = this.#carry;
    this.#carry = [];
    this.#carryLength = 0;
    await this.#sendToPeer(encodePayloadParts(parts));
  }

  readonly #onEnd = (): void => {
    // Everything read before the FIN is queued ahead of this Disconnect.
    this.#enqueue(async () => {
      await this.#flushCarry();
      if (this.#sentDisconnect) return;
      this.#sentDisconnect = true;
      await this.#sendToPeer(DISCONNECT);
    });
  };

  readonly #onError = (e: Error): void => {
    this.#logger.debug('portal socket error', { error: e.message });
  };

  readonly #onClose = (): void => {
    this.#socketClosed = true;
    this.#onDrain();
    this.#pong?.reject(new PortalError('io', 'The TCP connection closed during the portal handshake'));
    void this.#finish();
  };

  #abort(): void {
    this.socket.destroy();
  }

  async #finish(): Promise<void> {
    if (this.#finishing) return;
    this.#finishing = true;
    clearInterval(this.#recheck);
    const wasOpen = this.#state === 'open';
    // Let what was read be sent first (a carried tail too), but never wait forever on a stuck route.
    this.#enqueue(() => this.#flushCarry());
    const flushed = await within(
      this.#outbound.then(() => true),
      CLOSE_SEND_TIMEOUT_MS,
    );
    this.#state = 'closed';
    if (wasOpen && this.#notifyPeer && flushed === true && !this.#sentDisconnect) {
      this.#sentDisconnect = true;
      // Not ended cleanly: one Disconnect if the peer already finished, else two (a reset).
      const count = this.#receivedDisconnect ? 1 : 2;
      try {
        for (let i = 0; i < count; i++) await within(this.#sendToPeer(DISCONNECT), CLOSE_SEND_TIMEOUT_MS);
      } catch (e) {
        this.#logger.debug('portal could not notify its peer', { error: errorMessage(e) });
      }
    }
    // Absorb messages still in flight (a second Disconnect, Payloads sent before ours arrived).
    if (this.#lingerMs > 0) await sleep(this.#lingerMs);
    try {
      await this.#node.stopWorker(this.address);
    } catch (e) {
      this.#logger.debug('portal worker failed to stop', { error: errorMessage(e) });
    }
    this.#resolveClosed();
    try {
      this.#onClosed?.(this);
    } catch (e) {
      this.#logger.warn('portal close listener failed', { error: errorMessage(e) });
    }
  }

  /** Outbound operations run one after another, in order. */
  #enqueue(op: () => Promise<void>): void {
    this.#outbound = this.#outbound.then(op).catch((e: unknown) => {
      this.#logger.info('portal connection closed: cannot send to the peer', { error: errorMessage(e) });
      this.#abortSilently();
      this.#onRouteError?.(e);
    });
  }

  /** The route failed under us: close without trying to notify through it. */
  #abortSilently(): void {
    this.#notifyPeer = false;
    this.socket.destroy();
  }

  async #sendToPeer(payload: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const remote = this.#remote;
    if (remote === undefined) return;
    if (payload instanceof Uint8Array) await this.#ctx.send(remote, payload);
    // Socket data is not copied into a message: head and data travel as parts.
    else await this.#ctx.forward(LocalMessage.fromParts(remote, [this.address], payload));
  }
}

/**
 * One WebSocket connection: a socket, its sender worker and its receiver processor (PROTOCOL.md
 * §1.3, §2.4), with back-pressure both ways:
 *
 * - outbound, every message is one binary WebSocket message; when the socket's `bufferedAmount`
 *   rises above `sendBufferBytes` the sender worker waits before it takes its next message (for
 *   the socket's `drain` on Node; in browsers, which have no such event, by polling until it falls
 *   below half), so the node's bounded mailboxes push back on whoever is sending;
 * - inbound, messages are routed one after another; while a `node.route()` waits on a full mailbox
 *   and more than `receiveBufferBytes` are queued, the socket is paused if it can be (`ws` can,
 *   browsers cannot) and TCP pushes back on the peer;
 * - what the peer may hold is watched by the transport's `InboundGuard` (core): the messages
 *   queued and (where the socket reports it, as `ws` does) the message not yet complete count
 *   against the transport's shared budget, each started frame must arrive in time, and an
 *   accepted connection must deliver a message in time. A limit hit closes the socket at once;
 *   the guard has logged why, once per reason.
 */
import {
  type Address,
  Address as AddressClass,
  type FlowControlId,
  type InboundGuard,
  type InboundLimitInfo,
  type InboundWatch,
  type LocalInfo,
  LocalMessage,
  type Logger,
  type Node,
  OckamError,
  type Route,
  type RoutedMessage,
} from '@ockam/core';
import { decodeWebSocketFrame, encodeWebSocketFrame } from '../framing.js';
import type {
  WebSocketCloseCause,
  WebSocketCloseInfo,
  WebSocketConnection,
  WebSocketConnectionMode,
  WebSocketConnectionStats,
  WebSocketPeer,
} from '../websocket-connection.js';
import { CLOSED, OPEN, type WebSocketLike, type WebSocketLikeEvent } from '../websocket-like.js';

/** How long a close waits for the peer's closing handshake before the socket is terminated. */
const CLOSE_GRACE_MS = 2_000;
/** Longest wait between two looks at `bufferedAmount` while the sender is held back. */
const MAX_DRAIN_POLL_MS = 20;

/** RFC 6455 §7.4.1 close codes. */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  unsupportedData: 1003,
  policyViolation: 1008,
  messageTooBig: 1009,
  internalError: 1011,
  /** Registered by IANA: the server is overloaded (here, the budget for what peers send is spent). */
  tryAgainLater: 1013,
} as const;

export interface ConnectionInit {
  readonly node: Node;
  readonly logger: Logger;
  readonly socket: WebSocketLike;
  readonly mode: WebSocketConnectionMode;
  readonly url: string;
  readonly peer: WebSocketPeer;
  readonly flowControlId: FlowControlId;
  readonly spawnerFlowControlId?: FlowControlId | undefined;
  readonly exposeTo?: readonly FlowControlId[] | undefined;
  readonly maxFrameSize: number;
  readonly receiveBufferBytes: number;
  readonly sendBufferBytes: number;
  /** The transport's limits on what peers may hold; the connection gets a watch of its own. */
  readonly guard: InboundGuard;
  /** Called once, synchronously, when closing begins (the transport forgets the connection). */
  readonly onClosing: (connection: Connection) => void;
  /** Called once when the connection is fully closed. */
  readonly onClosed: (connection: Connection, info: WebSocketCloseInfo) => void;
}

export class Connection implements WebSocketConnection {
  readonly mode: WebSocketConnectionMode;
  readonly url: string;
  readonly peer: WebSocketPeer;
  readonly peerAddress: string;
  readonly senderAddress: Address;
  readonly receiverAddress: Address;
  readonly flowControlId: FlowControlId;
  readonly spawnerFlowControlId: FlowControlId | undefined;
  readonly closed: Promise<WebSocketCloseInfo>;

  readonly #node: Node;
  readonly #logger: Logger;
  readonly #socket: WebSocketLike;
  readonly #init: ConnectionInit;
  readonly #localInfo: LocalInfo;
  readonly #guard: InboundGuard;
  readonly #watch: InboundWatch;
  #stopWatchingUnfinished: (() => void) | undefined;
  /** What the socket last said it holds of a message not yet complete. */
  #unfinishedBytes = 0;
  #unfinishedReads = 0;
  /** A limit was hit: the socket is terminated right after its close frame. */
  #hardClose = false;

  #closing = false;
  #done: Promise<WebSocketCloseInfo> | undefined;
  #resolveClosed!: (info: WebSocketCloseInfo) => void;
  readonly #socketClosed: Promise<void>;
  #socketCloseEvent: WebSocketLikeEvent | undefined;
  #lastError: string | undefined;
  /** Whether that error was `ws` refusing what the peer sent (too big, bad frame), not the network. */
  #lastErrorIsProtocol = false;

  /** Received messages not yet routed, oldest first, from `#queueHead`. */
  #queue: Uint8Array[] = [];
  #queueHead = 0;
  #queuedBytes = 0;
  #routing = false;
  #paused = false;

  #drainWaiter: (() => void) | undefined;
  #drainTimer: ReturnType<typeof setTimeout> | undefined;

  #bytesRead = 0;
  #bytesWritten = 0;
  #messagesIn = 0;
  #messagesOut = 0;

  constructor(init: ConnectionInit) {
    this.#init = init;
    this.#node = init.node;
    this.#logger = init.logger;
    this.#socket = init.socket;
    this.mode = init.mode;
    this.url = init.url;
    this.peer = init.peer;
    this.peerAddress = formatHostPort(init.peer);
    this.flowControlId = init.flowControlId;
    this.spawnerFlowControlId = init.spawnerFlowControlId;
    this.#localInfo = Object.freeze({ flowControlId: init.flowControlId });
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#guard = init.guard;
    // The upgrade (the handshake) is done: the server timed it, before this connection existed.
    this.#watch = init.guard.watch({
      peer: this.peerAddress,
      inbound: init.mode === 'incoming',
      handshake: false,
      onLimit: this.#onLimit,
    });

    const socket = init.socket;
    this.#socketClosed = new Promise((resolve) => {
      if (socket.readyState === CLOSED) resolve();
      else
        socket.addEventListener('close', (event) => {
          this.#socketCloseEvent = event;
          resolve();
        });
    });
    socket.addEventListener('error', this.#onError);
    socket.addEventListener('close', this.#onSocketClose);

    this.senderAddress = AddressClass.random('ws_sender_');
    this.receiverAddress = AddressClass.random('ws_receiver_');
    const node = init.node;
    try {
      node.startWorker(this.senderAddress, {
        handleMessage: (_ctx, routed) => this.#send(routed),
        shutdown: () => {
          // Someone stopped the sender directly (`node.stopWorker`): the connection goes with it.
          if (!this.#closing) void this.#shutdown({ cause: 'local', reason: 'sender worker stopped' });
        },
      });
      node.startProcessor(this.receiverAddress);
    } catch (e) {
      // Half-built: nothing to report as a closed connection, just release what we took.
      this.#closing = true;
      this.#watch.release();
      this.#done = Promise.resolve({ cause: 'local', reason: 'could not start workers', error: e });
      closeSocket(socket, CloseCode.internalError, 'could not start workers');
      void node.stopWorker(this.senderAddress).catch(() => {});
      throw e;
    }
    node.flowControls.addProducer(this.receiverAddress, init.flowControlId, init.spawnerFlowControlId);
    for (const id of init.exposeTo ?? []) node.flowControls.addConsumer(this.senderAddress, id);
    socket.addEventListener('message', this.#onMessage);
    this.#stopWatchingUnfinished = socket.watchUnfinished?.(this.#onUnfinished);
    if (socket.readyState !== OPEN) this.#onSocketClose({});
  }

  get isOpen(): boolean {
    return !this.#closing;
  }

  stats(): WebSocketConnectionStats {
    return {
      bytesRead: this.#bytesRead,
      bytesWritten: this.#bytesWritten,
      messagesIn: this.#messagesIn,
      messagesOut: this.#messagesOut,
      inboundBufferedBytes: this.#queuedBytes,
      outboundBufferedBytes: this.#socket.bufferedAmount,
      readPaused: this.#paused,
    };
  }

  close(options: { signal?: AbortSignal } = {}): Promise<WebSocketCloseInfo> {
    const { signal } = options;
    const onAbort = (): void => this.#terminate();
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    const done = this.#shutdown({ cause: 'local', reason: 'closed locally', code: CloseCode.normal });
    return done.finally(() => signal?.removeEventListener('abort', onAbort));
  }

  // ---- outbound ----

  #send(routed: RoutedMessage): void | Promise<void> {
    const socket = this.#socket;
    if (this.#closing || socket.readyState !== OPEN) {
      this.#logger.debug('websocket connection is closing; message dropped', { peer: this.peerAddress });
      return;
    }
    const message = routed.message;
    if (this.mode === 'outgoing') this.#node.allowReplies(this.flowControlId, message.returnRoute);
    let frame: Uint8Array;
    try {
      // §1.3: the sender drops its own address and sends the rest.
      frame = encodeWebSocketFrame(
        message.withOnward(message.onwardRoute.popFront()),
        this.#init.maxFrameSize,
      );
    } catch (e) {
      this.#logger.warn('websocket message dropped: it cannot be sent', {
        peer: this.peerAddress,
        reason: errorMessage(e),
      });
      return;
    }
    try {
      socket.send(frame);
    } catch (e) {
      this.#fail('io', `send failed: ${errorMessage(e)}`, CloseCode.internalError, e);
      return;
    }
    this.#messagesOut++;
    this.#bytesWritten += frame.length;
    if (socket.bufferedAmount > this.#init.sendBufferBytes) return this.#waitDrain();
  }

  #waitDrain(): Promise<void> {
    return new Promise((resolve) => {
      this.#drainWaiter = resolve;
      const socket = this.#socket;
      if (socket.whenDrained) socket.whenDrained(() => this.#releaseDrain());
      else this.#pollDrain(1);
    });
  }

  #pollDrain(delayMs: number): void {
    this.#drainTimer = setTimeout(() => {
      this.#drainTimer = undefined;
      if (this.#closing || this.#socket.bufferedAmount <= this.#init.sendBufferBytes / 2)
        this.#releaseDrain();
      else this.#pollDrain(Math.min(delayMs * 2, MAX_DRAIN_POLL_MS));
    }, delayMs);
  }

  #releaseDrain(): void {
    clearTimeout(this.#drainTimer);
    this.#drainTimer = undefined;
    const w = this.#drainWaiter;
    this.#drainWaiter = undefined;
    w?.();
  }

  // ---- inbound ----

  /** After each read: what the socket holds of a message not yet complete. */
  readonly #onUnfinished = (bytes: number, reads: number): void => {
    if (this.#closing) return;
    this.#unfinishedBytes = bytes;
    this.#unfinishedReads = reads;
    if (!this.#hold()) return;
    if (this.#paused) this.#watch.busy();
    else this.#watch.frameProgress(bytes > 0);
  };

  /** Charges what this connection holds to the budget; false if it did not fit (it is closing). */
  #hold(): boolean {
    return this.#watch.hold(
      this.#unfinishedBytes + this.#queuedBytes,
      this.#unfinishedReads + this.#queue.length - this.#queueHead,
    );
  }

  readonly #onMessage = (event: WebSocketLikeEvent): void => {
    if (this.#closing) return;
    // A whole message: what the socket held of it is now here (the next read reports the rest).
    this.#watch.frameDone();
    this.#unfinishedBytes = 0;
    this.#unfinishedReads = 0;
    const data = event.data;
    let bytes: Uint8Array;
    if (typeof data === 'string') {
      this.#fail('protocol', 'text WebSocket messages are not Ockam messages', CloseCode.unsupportedData);
      return;
    }
    if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else {
      this.#fail('protocol', 'unexpected WebSocket message data', CloseCode.unsupportedData);
      return;
    }
    const max = this.#init.maxFrameSize;
    if (bytes.length > max) {
      this.#fail(
        'protocol',
        `Cannot decode WebSocket frame: length ${bytes.length} exceeds ${max}`,
        CloseCode.messageTooBig,
      );
      return;
    }
    this.#bytesRead += bytes.length;
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.length;
    if (!this.#hold()) return;
    if (this.#routing) {
      if (!this.#paused && this.#queuedBytes >= this.#init.receiveBufferBytes && this.#socket.pause) {
        this.#paused = true;
        this.#socket.pause();
        // Paused by us: a frame cut short by the pause is not the peer's delay.
        this.#watch.busy();
      }
      return;
    }
    this.#routeFrames().catch((e: unknown) =>
      this.#fail('routing', `internal error: ${errorMessage(e)}`, CloseCode.internalError, e),
    );
  };

  #nextFrame(): Uint8Array | undefined {
    if (this.#queueHead >= this.#queue.length) return undefined;
    const frame = this.#queue[this.#queueHead]!;
    this.#queue[this.#queueHead++] = EMPTY;
    this.#queuedBytes -= frame.length;
    this.#hold();
    if (this.#queueHead === this.#queue.length) {
      this.#queue = [];
      this.#queueHead = 0;
    } else if (this.#queueHead > 64 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
    return frame;
  }

  /** Routes every queued message, one at a time, in order. */
  async #routeFrames(): Promise<void> {
    this.#routing = true;
    try {
      for (;;) {
        if (this.#closing) return;
        const frame = this.#nextFrame();
        if (frame === undefined) return;
        let message: LocalMessage;
        try {
          message = decodeWebSocketFrame(frame, this.#init.maxFrameSize);
        } catch (e) {
          this.#fail('protocol', errorMessage(e), CloseCode.protocolError, e);
          return;
        }
        this.#messagesIn++;
        // §2.4 (as §2.1): an empty onward route is a heartbeat; it does not count as delivered.
        if (message.onwardRoute.isEmpty) continue;
        this.#watch.delivered();
        // §1.3: push the paired sender so that replies go back through this connection.
        const routed = new LocalMessage(
          message.onwardRoute,
          message.returnRoute.prepend(this.senderAddress),
          message.payload,
          this.#localInfo,
          message.tracingContext,
        );
        try {
          await this.#node.route(this.receiverAddress, routed);
        } catch (e) {
          // As in TCP: a frame for a worker that has just stopped is dropped, not the connection.
          if (OckamError.isKind(e, 'not-found')) {
            this.#guard.log.info('routing:not-found', 'websocket message dropped: no worker at its address', {
              peer: this.peerAddress,
              reason: errorMessage(e),
            });
            continue;
          }
          this.#fail('routing', errorMessage(e), CloseCode.policyViolation, e);
          return;
        }
      }
    } finally {
      this.#routing = false;
      if (this.#paused && !this.#closing) {
        this.#paused = false;
        this.#socket.resume?.();
        this.#watch.frameProgress(this.#unfinishedBytes > 0);
      }
    }
  }

  // ---- closing ----

  /**
   * A peer broke the protocol or the socket failed: log why and drop only this connection. The
   * line is rate-limited by reason: a flood of bad connections costs one line, not one each.
   */
  #fail(cause: WebSocketCloseCause, reason: string, code: number, error?: unknown): void {
    if (this.#closing) return;
    this.#guard.log.warn(`${cause}:${reason}`, 'websocket connection closed', {
      peer: this.peerAddress,
      mode: this.mode,
      cause,
      reason,
      code,
    });
    void this.#shutdown({ cause, reason, code, error });
  }

  /** A limit of the transport was hit (the guard logged it): close, without waiting for the peer. */
  readonly #onLimit = (info: InboundLimitInfo): void => {
    if (this.#closing) return;
    this.#hardClose = true;
    const budget = info.limit === 'buffer-budget';
    void this.#shutdown({
      cause: budget ? 'limit' : 'timeout',
      reason: info.reason,
      code: budget ? CloseCode.tryAgainLater : CloseCode.policyViolation,
    });
  };

  readonly #onError = (event: WebSocketLikeEvent): void => {
    const e = event.error ?? event.message;
    this.#lastError = e === undefined ? 'socket error' : errorMessage(e);
    const code = (event.error as { code?: unknown } | undefined)?.code;
    this.#lastErrorIsProtocol = typeof code === 'string' && code.startsWith('WS_ERR_');
    this.#logger.debug('websocket error', { peer: this.peerAddress, error: this.#lastError });
  };

  readonly #onSocketClose = (event: WebSocketLikeEvent): void => {
    if (this.#closing) return;
    if (this.#lastError !== undefined) {
      this.#fail(
        this.#lastErrorIsProtocol ? 'protocol' : 'io',
        this.#lastError,
        event.code ?? CloseCode.internalError,
      );
      return;
    }
    const code = event.code;
    const reason = `closed by peer${code === undefined ? '' : ` (code ${code}${event.reason ? `: ${event.reason}` : ''})`}`;
    this.#guard.log.info(`peer:${code}`, 'websocket connection closed', {
      peer: this.peerAddress,
      mode: this.mode,
      cause: 'peer',
      reason,
    });
    void this.#shutdown({ cause: 'peer', reason, ...(code === undefined ? {} : { code }) });
  };

  #terminate(): void {
    const socket = this.#socket;
    if (socket.terminate) socket.terminate();
    else if (socket.readyState !== CLOSED) closeSocket(socket, CloseCode.goingAway, 'terminated');
  }

  #shutdown(info: WebSocketCloseInfo): Promise<WebSocketCloseInfo> {
    if (this.#done !== undefined) return this.#done;
    this.#closing = true;
    this.#watch.release();
    this.#stopWatchingUnfinished?.();
    // Release a sender waiting for the buffer to drain; later messages are dropped.
    this.#releaseDrain();
    try {
      this.#init.onClosing(this);
    } catch (e) {
      this.#logger.warn('websocket transport failed to forget a connection', {
        peer: this.peerAddress,
        error: errorMessage(e),
      });
    }
    this.#done = this.#finish(info);
    return this.#done;
  }

  async #finish(info: WebSocketCloseInfo): Promise<WebSocketCloseInfo> {
    const socket = this.#socket;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      // Stop routing first: once the receiver is gone the router no longer fences its address.
      await this.#stopWorker(this.receiverAddress);
      await this.#stopWorker(this.senderAddress);
      socket.removeEventListener('message', this.#onMessage);
      this.#queue = [];
      this.#queueHead = 0;
      this.#queuedBytes = 0;
      // A paused socket would never read the peer's closing handshake.
      if (this.#paused) {
        this.#paused = false;
        socket.resume?.();
      }
      if (socket.readyState !== CLOSED) {
        closeSocket(socket, info.code ?? CloseCode.normal, info.cause === 'local' ? '' : info.reason);
        // A peer over a limit gets its close frame but no grace period: it may be what stalls.
        if (this.#hardClose) this.#terminate();
        await Promise.race([
          this.#socketClosed,
          new Promise<void>((resolve) => {
            timer = setTimeout(() => {
              this.#terminate();
              resolve();
            }, CLOSE_GRACE_MS);
          }),
        ]);
      }
    } catch (e) {
      this.#logger.warn('websocket connection failed to close cleanly', {
        peer: this.peerAddress,
        error: errorMessage(e),
      });
      this.#terminate();
    } finally {
      clearTimeout(timer);
    }
    const final =
      info.cause === 'local' && this.#socketCloseEvent?.code !== undefined && info.code === undefined
        ? { ...info, code: this.#socketCloseEvent.code }
        : info;
    this.#resolveClosed(final);
    try {
      this.#init.onClosed(this, final);
    } catch (e) {
      this.#logger.warn('websocket close listener failed', {
        peer: this.peerAddress,
        error: errorMessage(e),
      });
    }
    return final;
  }

  async #stopWorker(address: Address): Promise<void> {
    try {
      await this.#node.stopWorker(address);
    } catch (e) {
      this.#logger.warn('websocket worker failed to stop', {
        address: address.value,
        error: errorMessage(e),
      });
    }
  }
}

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/** Sends a close frame with `code` and a reason cut to the 123 bytes RFC 6455 §5.5 allows. */
export function closeSocket(socket: WebSocketLike, code: number, reason: string): void {
  let r = reason;
  while (encoder.encode(r).length > 123) r = r.slice(0, -1);
  try {
    socket.close(code, r);
  } catch {
    // A socket still connecting or already closed may refuse; terminate does the rest.
    try {
      socket.close();
    } catch {
      socket.terminate?.();
    }
  }
}

export function formatHostPort(peer: WebSocketPeer): string {
  return peer.host.includes(':') ? `[${peer.host}]:${peer.port}` : `${peer.host}:${peer.port}`;
}

export function errorMessage(e: unknown): string {
  if (OckamError.is(e) || e instanceof Error) return e.message;
  return String(e);
}

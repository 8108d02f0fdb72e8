/**
 * One WebSocket connection (PROTOCOL.md §1.3, §2.4): core's `StreamConnection` (workers, flow
 * control, limits, idle timer, closing) over a WebSocket, with back-pressure both ways:
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
  closeWithin,
  errorMessage,
  formatHostPort,
  type InboundLimitInfo,
  type LocalMessage,
  StreamConnection,
  type StreamConnectionInit,
} from '@ockam/core';
import { decodeWebSocketFrame, encodeWebSocketFrame } from '../framing.js';
import type {
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

export interface ConnectionInit
  extends Omit<StreamConnectionInit<WebSocketCloseInfo>, 'peer' | 'mode' | 'receiveBufferBytes'> {
  readonly socket: WebSocketLike;
  readonly mode: WebSocketConnectionMode;
  readonly url: string;
  readonly peer: WebSocketPeer;
  readonly maxFrameSize: number;
  readonly receiveBufferBytes: number;
  readonly sendBufferBytes: number;
}

export class Connection extends StreamConnection<WebSocketCloseInfo> implements WebSocketConnection {
  readonly url: string;
  readonly peer: WebSocketPeer;

  readonly #socket: WebSocketLike;
  readonly #maxFrameSize: number;
  readonly #sendBufferBytes: number;
  #stopWatchingUnfinished: (() => void) | undefined;
  /** What the socket last said it holds of a message not yet complete. */
  #unfinishedBytes = 0;
  #unfinishedReads = 0;
  /** A limit was hit: the socket is terminated right after its close frame. */
  #hardClose = false;
  readonly #socketClosed: Promise<void>;
  #socketCloseEvent: WebSocketLikeEvent | undefined;
  #lastError: string | undefined;
  /** Whether that error was `ws` refusing what the peer sent (too big, bad frame), not the network. */
  #lastErrorIsProtocol = false;

  /** Received messages not yet routed, oldest first, from `#queueHead`. */
  #queue: Uint8Array[] = [];
  #queueHead = 0;
  #queuedBytes = 0;
  #drainTimer: ReturnType<typeof setTimeout> | undefined;
  #bytesRead = 0;
  #bytesWritten = 0;

  constructor(init: ConnectionInit) {
    // The upgrade (the handshake) is done: the server timed it, before this connection existed.
    super({ ...init, peer: formatHostPort(init.peer), handshake: false });
    this.url = init.url;
    this.peer = init.peer;
    this.#maxFrameSize = init.maxFrameSize;
    this.#sendBufferBytes = init.sendBufferBytes;
    const socket = init.socket;
    this.#socket = socket;
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
    this.start();
    socket.addEventListener('message', this.#onMessage);
    this.#stopWatchingUnfinished = socket.watchUnfinished?.(this.#onUnfinished);
    if (socket.readyState !== OPEN) this.#onSocketClose({});
  }

  override bufferedBytes(): number {
    return this.#queuedBytes + this.#socket.bufferedAmount;
  }

  stats(): WebSocketConnectionStats {
    return {
      bytesRead: this.#bytesRead,
      bytesWritten: this.#bytesWritten,
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
      inboundBufferedBytes: this.#queuedBytes,
      outboundBufferedBytes: this.#socket.bufferedAmount,
      readPaused: this.readPaused,
    };
  }

  // ---- outbound ----

  protected write(message: LocalMessage): void | Promise<void> {
    const socket = this.#socket;
    if (socket.readyState !== OPEN) {
      this.logger.debug('websocket connection is closing; message dropped', { peer: this.peerAddress });
      return;
    }
    let frame: Uint8Array;
    try {
      // §1.3: the sender drops its own address and sends the rest.
      frame = encodeWebSocketFrame(message.withOnward(message.onwardRoute.popFront()), this.#maxFrameSize);
    } catch (e) {
      this.logger.warn('websocket message dropped: it cannot be sent', {
        peer: this.peerAddress,
        reason: errorMessage(e),
      });
      return;
    }
    try {
      socket.send(frame);
    } catch (e) {
      this.fail({
        cause: 'io',
        reason: `send failed: ${errorMessage(e)}`,
        code: CloseCode.internalError,
        error: e,
      });
      return;
    }
    this.messagesOut++;
    this.#bytesWritten += frame.length;
    if (socket.bufferedAmount > this.#sendBufferBytes) {
      const drained = this.waitDrain();
      if (socket.whenDrained) socket.whenDrained(() => this.drained());
      else this.#pollDrain(1);
      return drained;
    }
  }

  #pollDrain(delayMs: number): void {
    this.#drainTimer = setTimeout(() => {
      this.#drainTimer = undefined;
      if (!this.isOpen || this.#socket.bufferedAmount <= this.#sendBufferBytes / 2) this.drained();
      else this.#pollDrain(Math.min(delayMs * 2, MAX_DRAIN_POLL_MS));
    }, delayMs);
  }

  // ---- inbound ----

  /** After each read: what the socket holds of a message not yet complete. */
  readonly #onUnfinished = (bytes: number, reads: number): void => {
    if (!this.isOpen) return;
    this.#unfinishedBytes = bytes;
    this.#unfinishedReads = reads;
    if (!this.#hold()) return;
    if (this.readPaused) this.watch.busy();
    else this.watch.frameProgress(bytes > 0);
  };

  /** Charges what this connection holds to the budget; false if it did not fit (it is closing). */
  #hold(): boolean {
    return this.watch.hold(
      this.#unfinishedBytes + this.#queuedBytes,
      this.#unfinishedReads + this.#queue.length - this.#queueHead,
    );
  }

  readonly #onMessage = (event: WebSocketLikeEvent): void => {
    if (!this.isOpen) return;
    // A whole message: what the socket held of it is now here (the next read reports the rest).
    this.watch.frameDone();
    this.#unfinishedBytes = 0;
    this.#unfinishedReads = 0;
    const data = event.data;
    let bytes: Uint8Array;
    if (typeof data === 'string') {
      this.#refuse('text WebSocket messages are not Ockam messages', CloseCode.unsupportedData);
      return;
    }
    if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else {
      this.#refuse('unexpected WebSocket message data', CloseCode.unsupportedData);
      return;
    }
    const max = this.#maxFrameSize;
    if (bytes.length > max) {
      this.#refuse(
        `Cannot decode WebSocket frame: length ${bytes.length} exceeds ${max}`,
        CloseCode.messageTooBig,
      );
      return;
    }
    this.#bytesRead += bytes.length;
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.length;
    if (!this.#hold()) return;
    this.received(this.#queuedBytes);
  };

  #refuse(reason: string, code: number): void {
    this.fail({ cause: 'protocol', reason, code });
  }

  protected nextMessage(): LocalMessage | undefined {
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
    return decodeWebSocketFrame(frame, this.#maxFrameSize);
  }

  protected override pauseReading(): boolean {
    const socket = this.#socket;
    if (socket.pause === undefined) return false;
    socket.pause();
    // Paused by us: a frame cut short by the pause is not the peer's delay.
    this.watch.busy();
    return true;
  }

  protected override resumeReading(): void {
    this.#socket.resume?.();
    this.watch.frameProgress(this.#unfinishedBytes > 0);
  }

  // ---- closing ----

  /** Every close we cause sends a close code: the cause's unless one was chosen. */
  protected override fail(info: WebSocketCloseInfo): void {
    super.fail(info.code === undefined ? { ...info, code: closeCodeOf(info.cause) } : info);
  }

  protected override localCloseInfo(): WebSocketCloseInfo {
    return { cause: 'local', reason: 'closed locally', code: CloseCode.normal };
  }

  /** A limit of the transport was hit: close, without waiting for the peer. */
  protected override limitInfo(info: InboundLimitInfo): WebSocketCloseInfo {
    this.#hardClose = true;
    const budget = info.limit === 'buffer-budget';
    return {
      cause: budget ? 'limit' : 'timeout',
      reason: info.reason,
      code: budget ? CloseCode.tryAgainLater : CloseCode.policyViolation,
    };
  }

  readonly #onError = (event: WebSocketLikeEvent): void => {
    const e = event.error ?? event.message;
    this.#lastError = e === undefined ? 'socket error' : errorMessage(e);
    const code = (event.error as { code?: unknown } | undefined)?.code;
    this.#lastErrorIsProtocol = typeof code === 'string' && code.startsWith('WS_ERR_');
    this.logger.debug('websocket error', { peer: this.peerAddress, error: this.#lastError });
  };

  readonly #onSocketClose = (event: WebSocketLikeEvent): void => {
    if (this.#lastError !== undefined) {
      this.fail({
        cause: this.#lastErrorIsProtocol ? 'protocol' : 'io',
        reason: this.#lastError,
        code: event.code ?? CloseCode.internalError,
      });
      return;
    }
    const code = event.code;
    const reason = `closed by peer${code === undefined ? '' : ` (code ${code}${event.reason ? `: ${event.reason}` : ''})`}`;
    this.peerClosed({ cause: 'peer', reason, ...(code === undefined ? {} : { code }) }, `peer:${code}`);
  };

  protected abort(): void {
    const socket = this.#socket;
    if (socket.terminate) socket.terminate();
    else if (socket.readyState !== CLOSED) closeSocket(socket, CloseCode.goingAway, 'terminated');
  }

  protected override closing(): void {
    this.#stopWatchingUnfinished?.();
    clearTimeout(this.#drainTimer);
    this.#drainTimer = undefined;
  }

  protected async release(info: WebSocketCloseInfo): Promise<WebSocketCloseInfo> {
    const socket = this.#socket;
    socket.removeEventListener('message', this.#onMessage);
    this.#queue = [];
    this.#queueHead = 0;
    this.#queuedBytes = 0;
    // A paused socket would never read the peer's closing handshake.
    if (this.readPaused) socket.resume?.();
    if (socket.readyState !== CLOSED) {
      closeSocket(socket, info.code ?? CloseCode.normal, info.cause === 'local' ? '' : info.reason);
      // A peer over a limit gets its close frame but no grace period: it may be what stalls.
      if (this.#hardClose) this.abort();
      await closeWithin(this.#socketClosed, CLOSE_GRACE_MS, () => this.abort());
    }
    const code = this.#socketCloseEvent?.code;
    return info.cause === 'local' && code !== undefined && info.code === undefined ? { ...info, code } : info;
  }
}

/** The close code we send when we close for `cause`. */
function closeCodeOf(cause: WebSocketCloseInfo['cause']): number {
  switch (cause) {
    case 'protocol':
      return CloseCode.protocolError;
    case 'routing':
    case 'timeout':
      return CloseCode.policyViolation;
    case 'limit':
      return CloseCode.tryAgainLater;
    case 'local':
    case 'peer':
      return CloseCode.normal;
    case 'io':
      return CloseCode.internalError;
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

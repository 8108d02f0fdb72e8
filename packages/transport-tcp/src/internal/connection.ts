/**
 * One TCP connection: a socket, its sender worker and its receiver processor (PROTOCOL.md §1.3,
 * §2.1), wired for back-pressure both ways:
 *
 * - outbound, frames sent in one tick are gathered into one batch (at most `BATCH_BYTES`, then it
 *   is written at once; large payloads are not copied, see `FrameBatch`) and written with one
 *   corked write (one writev); while the socket asks for `drain`
 *   the sender worker waits before it takes its next message, so the node's bounded mailboxes
 *   push back on whoever is sending;
 * - inbound, frames are routed one after another; while a `node.route()` waits on a full mailbox
 *   and more than `receiveBufferBytes` are buffered, the socket is paused (TCP flow control then
 *   pushes back on the peer), and resumed once every whole frame has been routed;
 * - what the peer may hold is watched by the transport's `InboundGuard` (core): the bytes held
 *   count against the transport's shared budget, the version byte and each started frame must
 *   arrive in time, and an accepted connection must deliver a message in time. A limit hit
 *   destroys the socket; the guard has logged why, once per reason.
 */
import type { Socket } from 'node:net';
// Imported rather than read off the global `process`, an accessor that showed up per message in
// a relay node's CPU profile.
import { nextTick } from 'node:process';
import {
  Address,
  decodeTransportMessageParts,
  type FlowControlId,
  type InboundGuard,
  type InboundLimitInfo,
  type InboundWatch,
  type LocalInfo,
  LocalMessage,
  type Logger,
  type Node,
  OckamError,
  type RoutedMessage,
} from '@ockam/core';
import {
  encodeFrame,
  FRAME_HEADER_LENGTH,
  FrameDecoder,
  MAX_MESSAGE_SIZE,
  TCP_PROTOCOL_VERSION,
} from '../framing.js';
import type {
  TcpCloseCause,
  TcpCloseInfo,
  TcpConnection,
  TcpConnectionMode,
  TcpConnectionStats,
  TcpPeer,
} from '../tcp-connection.js';
import { BATCH_BYTES, FrameBatch, frameSizeBound, hasExternalPayload } from './frame-batch.js';

/** How long a graceful close waits for the peer to take our last bytes before destroying the socket. */
const CLOSE_GRACE_MS = 2_000;
const VERSION_BYTE = Uint8Array.of(TCP_PROTOCOL_VERSION);

export interface ConnectionInit {
  readonly node: Node;
  readonly logger: Logger;
  readonly socket: Socket;
  readonly mode: TcpConnectionMode;
  readonly peer: TcpPeer;
  readonly flowControlId: FlowControlId;
  readonly spawnerFlowControlId?: FlowControlId;
  readonly exposeTo?: readonly FlowControlId[];
  readonly receiveBufferBytes: number;
  readonly idleTimeoutMs?: number;
  /** The transport's limits on what peers may hold; the connection gets a watch of its own. */
  readonly guard: InboundGuard;
  /** Called once, synchronously, when closing begins (the transport forgets the connection). */
  readonly onClosing: (connection: Connection) => void;
  /** Called once when the connection is fully closed. */
  readonly onClosed: (connection: Connection, info: TcpCloseInfo) => void;
}

export class Connection implements TcpConnection {
  readonly mode: TcpConnectionMode;
  readonly peer: TcpPeer;
  readonly peerAddress: string;
  readonly senderAddress: Address;
  readonly receiverAddress: Address;
  readonly flowControlId: FlowControlId;
  readonly spawnerFlowControlId: FlowControlId | undefined;
  readonly closed: Promise<TcpCloseInfo>;

  readonly #node: Node;
  readonly #logger: Logger;
  readonly #socket: Socket;
  readonly #decoder = new FrameDecoder();
  readonly #receiveBufferBytes: number;
  readonly #localInfo: LocalInfo;
  readonly #init: ConnectionInit;
  readonly #guard: InboundGuard;
  readonly #watch: InboundWatch;

  #closing = false;
  #done: Promise<TcpCloseInfo> | undefined;
  #resolveClosed!: (info: TcpCloseInfo) => void;
  #socketClosed: Promise<void>;
  #lastError: Error | undefined;

  #batch: FrameBatch | undefined;
  #drainWaiter: (() => void) | undefined;
  #routing = false;
  #paused = false;
  #bytesRead = 0;
  #messagesIn = 0;
  #messagesOut = 0;

  constructor(init: ConnectionInit) {
    this.#init = init;
    this.#node = init.node;
    this.#socket = init.socket;
    this.mode = init.mode;
    this.peer = init.peer;
    this.peerAddress = formatHostPort(init.peer);
    this.#logger = init.logger;
    this.flowControlId = init.flowControlId;
    this.spawnerFlowControlId = init.spawnerFlowControlId;
    this.#receiveBufferBytes = init.receiveBufferBytes;
    this.#localInfo = Object.freeze({ flowControlId: init.flowControlId });
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#guard = init.guard;
    // §2.1: each side's first byte is its protocol version, which starts the handshake clock.
    this.#watch = init.guard.watch({
      peer: this.peerAddress,
      inbound: init.mode === 'incoming',
      handshake: true,
      onLimit: this.#onLimit,
    });

    const socket = init.socket;
    this.#socketClosed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', this.#onError);
    socket.on('close', this.#onSocketClose);

    this.senderAddress = Address.random('tcp_sender_');
    this.receiverAddress = Address.random('tcp_receiver_');
    const node = init.node;
    try {
      node.startWorker(this.senderAddress, {
        handleMessage: (_ctx, routed) => this.#send(routed),
        shutdown: () => {
          // Someone stopped the sender directly (`node.stopWorker`): the connection goes with it.
          if (!this.#closing) void this.#shutdown({ cause: 'local', reason: 'sender worker stopped' }, true);
        },
      });
      node.startProcessor(this.receiverAddress);
    } catch (e) {
      // Half-built: nothing to report as a closed connection, just release what we took.
      this.#closing = true;
      this.#watch.release();
      this.#done = Promise.resolve({ cause: 'local', reason: 'could not start workers', error: e });
      socket.destroy();
      void node.stopWorker(this.senderAddress).catch(() => {});
      throw e;
    }
    node.flowControls.addProducer(this.receiverAddress, init.flowControlId, init.spawnerFlowControlId);
    for (const id of init.exposeTo ?? []) node.flowControls.addConsumer(this.senderAddress, id);

    socket.setNoDelay(true);
    if (init.idleTimeoutMs !== undefined && init.idleTimeoutMs > 0) {
      socket.setTimeout(init.idleTimeoutMs, this.#onTimeout);
    }
    socket.on('data', this.#onData);
    socket.on('drain', this.#onDrain);
    // §2.1: the sender writes the protocol version byte first.
    socket.write(VERSION_BYTE);
  }

  get isOpen(): boolean {
    return !this.#closing;
  }

  stats(): TcpConnectionStats {
    return {
      bytesRead: this.#bytesRead,
      bytesWritten: this.#socket.bytesWritten,
      messagesIn: this.#messagesIn,
      messagesOut: this.#messagesOut,
      inboundBufferedBytes: this.#decoder.buffered,
      outboundBufferedBytes: this.#socket.writableLength,
      readPaused: this.#paused,
    };
  }

  close(options: { signal?: AbortSignal } = {}): Promise<TcpCloseInfo> {
    const { signal } = options;
    const onAbort = (): void => {
      this.#socket.destroy();
    };
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    const done = this.#shutdown({ cause: 'local', reason: 'closed locally' }, true);
    return done.finally(() => signal?.removeEventListener('abort', onAbort));
  }

  // ---- outbound ----

  #send(routed: RoutedMessage): void | Promise<void> {
    const socket = this.#socket;
    const message = routed.message;
    if (this.#closing || socket.destroyed || socket.writableEnded) {
      this.#logger.debug('tcp connection is closing; message dropped', { peer: this.peerAddress });
      message.releasePayload();
      return;
    }
    if (this.mode === 'outgoing') this.#node.allowReplies(this.flowControlId, message.returnRoute);
    this.#messagesOut++;
    const bound = frameSizeBound(message);
    if (
      bound <= BATCH_BYTES ||
      (hasExternalPayload(message) && bound - FRAME_HEADER_LENGTH <= MAX_MESSAGE_SIZE)
    ) {
      // §1.3: the batch drops the first onward address (ours) and encodes the rest.
      let batch = this.#batch;
      if (batch === undefined) {
        batch = this.#batch = new FrameBatch();
        nextTick(this.#flushBatch);
      }
      batch.append(message);
      if (batch.length >= BATCH_BYTES && !this.#flush()) return this.#waitDrain();
      if (socket.writableNeedDrain) return this.#waitDrain();
      return;
    }
    // A large message gets its own buffer, after whatever is batched before it.
    let frame: Uint8Array;
    try {
      frame = encodeFrame(message.withOnward(message.onwardRoute.popFront()));
    } catch (e) {
      this.#messagesOut--;
      this.#logger.warn('tcp message dropped: it cannot be sent', {
        peer: this.peerAddress,
        reason: errorMessage(e),
      });
      return;
    } finally {
      // The frame is a copy (or there is none): the payload is not read again.
      message.releasePayload();
    }
    this.#flush();
    if (!socket.write(frame)) return this.#waitDrain();
  }

  /** Writes the pending batch; false when the socket asks us to wait for 'drain'. */
  #flush(): boolean {
    const batch = this.#batch;
    if (batch === undefined) return true;
    this.#batch = undefined;
    const socket = this.#socket;
    if (socket.destroyed) {
      batch.release();
      return true;
    }
    const segments = batch.finish();
    // The last write's callback comes once every segment was written (or failed): only then may
    // the owners of the payloads written by reference reuse their memory.
    const written = (): void => batch.release();
    if (segments.length === 1) return socket.write(segments[0]!, written);
    // Corked, the segments leave in one writev.
    socket.cork();
    let ok = true;
    const last = segments.length - 1;
    for (let i = 0; i < last; i++) ok = socket.write(segments[i]!);
    ok = socket.write(segments[last]!, written);
    socket.uncork();
    return ok;
  }

  readonly #flushBatch = (): void => {
    this.#flush();
  };

  #waitDrain(): Promise<void> {
    return new Promise((resolve) => {
      this.#drainWaiter = resolve;
    });
  }

  readonly #onDrain = (): void => {
    const w = this.#drainWaiter;
    this.#drainWaiter = undefined;
    w?.();
  };

  // ---- inbound ----

  readonly #onData = (chunk: Buffer): void => {
    if (this.#closing) return;
    this.#bytesRead += chunk.length;
    this.#decoder.push(chunk);
    // Before anything else: a peer over its share of the budget is closed (and logged) here.
    if (!this.#watch.hold(this.#decoder.buffered, this.#decoder.bufferedChunks)) return;
    if (this.#routing) {
      if (!this.#paused && this.#decoder.buffered >= this.#receiveBufferBytes) {
        this.#paused = true;
        this.#socket.pause();
      }
      return;
    }
    this.#routeFrames().catch((e: unknown) => this.#fail('routing', `internal error: ${errorMessage(e)}`, e));
  };

  /** Routes every whole frame buffered, one at a time, in order. */
  async #routeFrames(): Promise<void> {
    this.#routing = true;
    const watch = this.#watch;
    // Time spent routing is ours, not the peer's: it does not count against a frame.
    watch.busy();
    try {
      for (;;) {
        if (this.#closing) return;
        let message: LocalMessage;
        try {
          const frame = this.#decoder.nextParts();
          if (frame === undefined) {
            // The version byte has been read (a wrong one throws above); what is left is part of
            // a frame, whose clock runs while we wait for the rest.
            watch.handshakeDone();
            if (!watch.hold(this.#decoder.buffered, this.#decoder.bufferedChunks)) return;
            watch.frameProgress(this.#decoder.buffered > 0);
            return;
          }
          watch.frameDone();
          // The frame is ours: views into socket chunks (Node never reuses those) that nothing
          // writes to; the payload may stay views of them, in parts when the frame was split
          // across reads (forwarded as they are, joined only if something reads the payload).
          message = decodeTransportMessageParts(frame, 'TCP transport message');
        } catch (e) {
          this.#fail('protocol', errorMessage(e), e);
          return;
        }
        this.#messagesIn++;
        // §2.1: an empty onward route is a heartbeat; it does not count as a message delivered.
        if (message.onwardRoute.isEmpty) continue;
        watch.delivered();
        // §1.3: push the paired sender so that replies go back through this connection.
        const routed = LocalMessage.fromParts(
          message.onwardRoute,
          message.returnRoute.prepend(this.senderAddress),
          message.payloadParts,
          this.#localInfo,
          message.tracingContext,
        );
        try {
          await this.#node.route(this.receiverAddress, routed);
        } catch (e) {
          // A frame for a worker that has just stopped (a portal that closed) is normal on a
          // connection many workers share: drop it, as Ockam does, instead of every other user's
          // traffic with the connection.
          if (OckamError.isKind(e, 'not-found')) {
            this.#guard.log.info('routing:not-found', 'tcp message dropped: no worker at its address', {
              peer: this.peerAddress,
              reason: errorMessage(e),
            });
            continue;
          }
          this.#fail('routing', errorMessage(e), e);
          return;
        }
      }
    } finally {
      this.#routing = false;
      if (this.#paused && !this.#closing) {
        this.#paused = false;
        this.#socket.resume();
      }
    }
  }

  // ---- closing ----

  /**
   * A peer broke the protocol or the socket failed: log why and drop only this connection. The
   * line is rate-limited by reason: a flood of bad connections costs one line, not one each.
   */
  #fail(cause: TcpCloseCause, reason: string, error?: unknown): void {
    if (this.#closing) return;
    this.#guard.log.warn(`${cause}:${reason}`, 'tcp connection closed', {
      peer: this.peerAddress,
      mode: this.mode,
      cause,
      reason,
    });
    void this.#shutdown({ cause, reason, error }, false);
  }

  /** A limit of the transport was hit (the guard logged it): destroy the socket at once. */
  readonly #onLimit = (info: InboundLimitInfo): void => {
    if (this.#closing) return;
    const cause: TcpCloseCause = info.limit === 'buffer-budget' ? 'limit' : 'timeout';
    void this.#shutdown({ cause, reason: info.reason }, false);
  };

  readonly #onError = (e: Error): void => {
    this.#lastError = e;
    this.#logger.debug('tcp socket error', { peer: this.peerAddress, error: e.message });
  };

  readonly #onTimeout = (): void => {
    this.#fail('timeout', `no traffic for ${this.#init.idleTimeoutMs} ms`);
  };

  readonly #onSocketClose = (): void => {
    if (this.#closing) return;
    const e = this.#lastError;
    if (e !== undefined) this.#fail('io', e.message, e);
    else {
      this.#guard.log.info('peer', 'tcp connection closed', {
        peer: this.peerAddress,
        mode: this.mode,
        cause: 'peer',
        reason: 'closed by peer',
      });
      void this.#shutdown({ cause: 'peer', reason: 'closed by peer' }, false);
    }
  };

  #shutdown(info: TcpCloseInfo, graceful: boolean): Promise<TcpCloseInfo> {
    if (this.#done !== undefined) return this.#done;
    this.#closing = true;
    this.#watch.release();
    // Release a sender waiting for 'drain' that may never come; later messages are dropped.
    this.#onDrain();
    try {
      this.#init.onClosing(this);
    } catch (e) {
      this.#logger.warn('tcp transport failed to forget a connection', {
        peer: this.peerAddress,
        error: errorMessage(e),
      });
    }
    this.#done = this.#finish(info, graceful);
    return this.#done;
  }

  async #finish(info: TcpCloseInfo, graceful: boolean): Promise<TcpCloseInfo> {
    const socket = this.#socket;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      // Stop routing first: once the receiver is gone the router no longer fences its address.
      await this.#stopWorker(this.receiverAddress);
      await this.#stopWorker(this.senderAddress);
      socket.off('data', this.#onData);
      // A paused socket would never see the peer's FIN; flowing with no 'data' listener discards.
      socket.resume();
      if (graceful && !socket.destroyed) {
        this.#flush();
        socket.end();
        timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
      } else {
        socket.destroy();
      }
      await this.#socketClosed;
    } catch (e) {
      this.#logger.warn('tcp connection failed to close cleanly', {
        peer: this.peerAddress,
        error: errorMessage(e),
      });
      socket.destroy();
    } finally {
      clearTimeout(timer);
    }
    this.#resolveClosed(info);
    try {
      this.#init.onClosed(this, info);
    } catch (e) {
      this.#logger.warn('tcp close listener failed', { peer: this.peerAddress, error: errorMessage(e) });
    }
    return info;
  }

  async #stopWorker(address: Address): Promise<void> {
    try {
      await this.#node.stopWorker(address);
    } catch (e) {
      this.#logger.warn('tcp worker failed to stop', { address: address.value, error: errorMessage(e) });
    }
  }
}

export function formatHostPort(peer: TcpPeer): string {
  return peer.host.includes(':') ? `[${peer.host}]:${peer.port}` : `${peer.host}:${peer.port}`;
}

export function errorMessage(e: unknown): string {
  if (OckamError.is(e) || e instanceof Error) return e.message;
  return String(e);
}

/**
 * One TCP connection (PROTOCOL.md §1.3, §2.1): core's `StreamConnection` (workers, flow control,
 * limits, idle timer, closing) over a socket, with back-pressure both ways:
 *
 * - outbound, frames sent in one tick are gathered into one batch (at most `BATCH_BYTES`, then it
 *   is written at once; large payloads are not copied, see `FrameBatch`) and written with one
 *   corked write (one writev); while the socket asks for `drain` the sender worker waits before it
 *   takes its next message, so the node's bounded mailboxes push back on whoever is sending;
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
  closeWithin,
  decodeTransportMessageParts,
  errorMessage,
  formatHostPort,
  type LocalMessage,
  MAX_MESSAGE_SIZE,
  StreamConnection,
  type StreamConnectionInit,
} from '@ockam/core';
import { encodeFrame, FRAME_HEADER_LENGTH, FrameDecoder, TCP_PROTOCOL_VERSION } from '../framing.js';
import type {
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

export interface ConnectionInit extends Omit<StreamConnectionInit<TcpCloseInfo>, 'peer' | 'mode'> {
  readonly socket: Socket;
  readonly mode: TcpConnectionMode;
  readonly peer: TcpPeer;
}

export class Connection extends StreamConnection<TcpCloseInfo> implements TcpConnection {
  readonly peer: TcpPeer;

  readonly #socket: Socket;
  readonly #decoder = new FrameDecoder();
  readonly #socketClosed: Promise<void>;
  #lastError: Error | undefined;
  #batch: FrameBatch | undefined;
  #bytesRead = 0;

  constructor(init: ConnectionInit) {
    // §2.1: each side's first byte is its protocol version, which starts the handshake clock.
    super({ ...init, peer: formatHostPort(init.peer), handshake: true });
    this.peer = init.peer;
    const socket = init.socket;
    this.#socket = socket;
    this.#socketClosed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', this.#onError);
    socket.on('close', this.#onSocketClose);
    this.start();
    socket.setNoDelay(true);
    socket.on('data', this.#onData);
    socket.on('drain', this.#onDrain);
    // §2.1: the sender writes the protocol version byte first.
    socket.write(VERSION_BYTE);
  }

  override bufferedBytes(): number {
    return this.#decoder.buffered + this.#socket.writableLength;
  }

  stats(): TcpConnectionStats {
    return {
      bytesRead: this.#bytesRead,
      bytesWritten: this.#socket.bytesWritten,
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
      inboundBufferedBytes: this.#decoder.buffered,
      outboundBufferedBytes: this.#socket.writableLength,
      readPaused: this.readPaused,
    };
  }

  // ---- outbound ----

  protected write(message: LocalMessage): void | Promise<void> {
    const socket = this.#socket;
    if (socket.destroyed || socket.writableEnded) {
      this.logger.debug('tcp connection is closing; message dropped', { peer: this.peerAddress });
      message.releasePayload();
      return;
    }
    this.messagesOut++;
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
      if (batch.length >= BATCH_BYTES && !this.#flush()) return this.waitDrain();
      if (socket.writableNeedDrain) return this.waitDrain();
      return;
    }
    // A large message gets its own buffer, after whatever is batched before it.
    let frame: Uint8Array;
    try {
      frame = encodeFrame(message.withOnward(message.onwardRoute.popFront()));
    } catch (e) {
      this.messagesOut--;
      this.logger.warn('tcp message dropped: it cannot be sent', {
        peer: this.peerAddress,
        reason: errorMessage(e),
      });
      return;
    } finally {
      // The frame is a copy (or there is none): the payload is not read again.
      message.releasePayload();
    }
    this.#flush();
    if (!socket.write(frame)) return this.waitDrain();
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

  readonly #onDrain = (): void => this.drained();

  // ---- inbound ----

  readonly #onData = (chunk: Buffer): void => {
    if (!this.isOpen) return;
    this.#bytesRead += chunk.length;
    const decoder = this.#decoder;
    decoder.push(chunk);
    // Before anything else: a peer over its share of the budget is closed (and logged) here.
    if (!this.watch.hold(decoder.buffered, decoder.bufferedChunks)) return;
    this.received(decoder.buffered);
  };

  protected override routingStarted(): void {
    // Time spent routing is ours, not the peer's: it does not count against a frame.
    this.watch.busy();
  }

  protected nextMessage(): LocalMessage | undefined {
    const decoder = this.#decoder;
    const watch = this.watch;
    const frame = decoder.nextParts();
    if (frame === undefined) {
      // The version byte has been read (a wrong one throws above); what is left is part of a
      // frame, whose clock runs while we wait for the rest.
      watch.handshakeDone();
      if (watch.hold(decoder.buffered, decoder.bufferedChunks)) watch.frameProgress(decoder.buffered > 0);
      return undefined;
    }
    watch.frameDone();
    // The frame is ours: views into socket chunks (Node never reuses those) that nothing writes
    // to; the payload may stay views of them, in parts when the frame was split across reads
    // (forwarded as they are, joined only if something reads the payload).
    return decodeTransportMessageParts(frame, 'TCP transport message');
  }

  protected override pauseReading(): boolean {
    this.#socket.pause();
    return true;
  }

  protected override resumeReading(): void {
    this.#socket.resume();
  }

  // ---- closing ----

  readonly #onError = (e: Error): void => {
    this.#lastError = e;
    this.logger.debug('tcp socket error', { peer: this.peerAddress, error: e.message });
  };

  readonly #onSocketClose = (): void => {
    const e = this.#lastError;
    if (e !== undefined) this.fail({ cause: 'io', reason: e.message, error: e });
    else this.peerClosed({ cause: 'peer', reason: 'closed by peer' });
  };

  protected abort(): void {
    this.#socket.destroy();
  }

  protected async release(_info: TcpCloseInfo, graceful: boolean): Promise<undefined> {
    const socket = this.#socket;
    socket.off('data', this.#onData);
    // A paused socket would never see the peer's FIN; flowing with no 'data' listener discards.
    socket.resume();
    if (graceful && !socket.destroyed) {
      this.#flush();
      socket.end();
      await closeWithin(this.#socketClosed, CLOSE_GRACE_MS, () => socket.destroy());
    } else {
      socket.destroy();
    }
    await this.#socketClosed;
    return undefined;
  }
}

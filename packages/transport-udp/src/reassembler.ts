/**
 * Reassembly of routing messages from datagrams (PROTOCOL.md §2.2, `workers/receiver.rs`), per
 * peer and strictly in order, as Ockam does it:
 *
 * - a datagram of a routing number older than the one expected is late: dropped;
 * - a newer routing number discards the partial message of the older one;
 * - a fragment that does not start where the partial message ends (a gap: lost or reordered
 *   datagrams) drops the whole message, and the receiver then waits for the next number;
 * - there are no acknowledgements or retransmissions.
 *
 * Unlike Ockam, a fragment that starts *before* the end of the partial message (a duplicated
 * datagram) is dropped alone and the partial message survives, and memory is bounded: the number
 * of peers remembered, the number of peers with a partial message, the bytes held in all partial
 * messages, and the size of one message (16 MiB). Whatever is dropped is counted.
 *
 * @example
 * ```ts
 * const r = new Reassembler();
 * for (const d of fragmentRoutingMessage(bytes, 1)) {
 *   const whole = r.push('10.0.0.1:4000', d); // the routing message once the last fragment is in
 * }
 * r.counters.gaps; // 0
 * ```
 */
import { DecodeError, MAX_MESSAGE_SIZE } from '@ockam/core';
import { compareRoutingNumbers, nextRoutingNumber } from './routing-number.js';
import {
  decodeUdpTransportMessage,
  MAX_ON_THE_WIRE_SIZE,
  UDP_PROTOCOL_VERSION,
} from './transport-message.js';

export const DEFAULT_MAX_PEERS = 4096;
export const DEFAULT_MAX_PENDING_PEERS = 256;
export const DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024;

export interface ReassemblerOptions {
  /** Largest routing message accepted (default and maximum 16 MiB). */
  maxMessageSize?: number;
  /** Peers whose expected routing number is remembered; the least recently heard is forgotten first (4096). */
  maxPeers?: number;
  /** Peers that may have a partial message at once; the least recently extended is dropped first (256). */
  maxPendingPeers?: number;
  /** Bytes held in all partial messages together (64 MiB). */
  maxPendingBytes?: number;
}

/** What happened to datagrams; every dropped datagram or message is counted under one reason. */
export interface ReassemblyCounters {
  /** Datagrams given to `push`. */
  datagrams: number;
  /** Routing messages completed. */
  messages: number;
  /** Datagrams larger than 508 bytes (dropped unread). */
  oversized: number;
  /** Datagrams that are not a valid `UdpTransportMessage` (bad CBOR, out-of-range field, unknown version). */
  malformed: number;
  /** Datagrams of an older routing number than expected. */
  late: number;
  /** Datagrams that repeat bytes already assembled. */
  duplicates: number;
  /** Messages dropped because a fragment did not start where the partial message ended. */
  gaps: number;
  /** Partial messages discarded because a newer routing number arrived. */
  superseded: number;
  /** Messages dropped for exceeding the size cap or the pending-bytes budget. */
  tooLarge: number;
  /** Partial messages dropped to stay within `maxPendingPeers` / `maxPendingBytes`, or with a forgotten peer. */
  evicted: number;
}

interface PeerState {
  expected: number;
  chunks: Uint8Array[];
  length: number;
}

export class Reassembler {
  readonly counters: ReassemblyCounters = {
    datagrams: 0,
    messages: 0,
    oversized: 0,
    malformed: 0,
    late: 0,
    duplicates: 0,
    gaps: 0,
    superseded: 0,
    tooLarge: 0,
    evicted: 0,
  };
  readonly #maxMessageSize: number;
  readonly #maxPeers: number;
  readonly #maxPendingPeers: number;
  readonly #maxPendingBytes: number;
  /** Every remembered peer, least recently heard first (Map keeps insertion order). */
  readonly #peers = new Map<string, PeerState>();
  /** Peers with a partial message, least recently extended first. */
  readonly #pending = new Map<string, PeerState>();
  #pendingBytes = 0;

  constructor(options: ReassemblerOptions = {}) {
    this.#maxMessageSize = options.maxMessageSize ?? MAX_MESSAGE_SIZE;
    this.#maxPeers = options.maxPeers ?? DEFAULT_MAX_PEERS;
    this.#maxPendingPeers = options.maxPendingPeers ?? DEFAULT_MAX_PENDING_PEERS;
    this.#maxPendingBytes = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    if (!(this.#maxMessageSize > 0 && this.#maxMessageSize <= MAX_MESSAGE_SIZE))
      throw new RangeError(`maxMessageSize must be in 1..${MAX_MESSAGE_SIZE}, got ${this.#maxMessageSize}`);
    for (const [name, v] of [
      ['maxPeers', this.#maxPeers],
      ['maxPendingPeers', this.#maxPendingPeers],
      ['maxPendingBytes', this.#maxPendingBytes],
    ] as const)
      if (!(Number.isInteger(v) && v > 0))
        throw new RangeError(`${name} must be a positive integer, got ${v}`);
  }

  /** Peers remembered. */
  get peers(): number {
    return this.#peers.size;
  }

  /** Peers with a partial message. */
  get pendingPeers(): number {
    return this.#pending.size;
  }

  /** Bytes held in partial messages. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /**
   * Takes one datagram from `peer` (any string naming the sender, `ip:port`). Returns the whole
   * routing message when this datagram completes one, else undefined. Never throws on bad input.
   */
  push(peer: string, datagram: Uint8Array): Uint8Array | undefined {
    const c = this.counters;
    c.datagrams++;
    if (datagram.length > MAX_ON_THE_WIRE_SIZE) {
      c.oversized++;
      return undefined;
    }
    let m: ReturnType<typeof decodeUdpTransportMessage>;
    try {
      m = decodeUdpTransportMessage(datagram);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      c.malformed++;
      return undefined;
    }
    // Ockam reads but does not check the version; we refuse what we would misread.
    if (m.version !== UDP_PROTOCOL_VERSION) {
      c.malformed++;
      return undefined;
    }

    let state = this.#peers.get(peer);
    if (state === undefined) {
      // The first datagram from a peer sets the number expected from it.
      state = { expected: m.routingNumber, chunks: [], length: 0 };
      if (this.#peers.size >= this.#maxPeers) this.#forgetOldestPeer();
    } else this.#peers.delete(peer); // re-inserted below: most recently heard
    this.#peers.set(peer, state);

    const order = compareRoutingNumbers(m.routingNumber, state.expected);
    if (order < 0) {
      c.late++;
      return undefined;
    }
    if (order > 0) {
      if (this.#pending.has(peer)) {
        c.superseded++;
        this.#clear(peer, state);
      }
      state.expected = m.routingNumber;
    }

    if (m.offset < state.length) {
      // Bytes we already have: a duplicated datagram (or a forged one); the partial stays.
      c.duplicates++;
      return undefined;
    }
    if (m.offset > state.length) {
      c.gaps++;
      this.#drop(peer, state);
      return undefined;
    }
    const newLength = state.length + m.payload.length;
    if (newLength > this.#maxMessageSize || m.payload.length > this.#maxPendingBytes) {
      c.tooLarge++;
      this.#drop(peer, state);
      return undefined;
    }

    if (m.isLast) {
      let whole: Uint8Array;
      if (state.chunks.length === 0) whole = m.payload.slice();
      else {
        whole = new Uint8Array(newLength);
        let o = 0;
        for (const chunk of state.chunks) {
          whole.set(chunk, o);
          o += chunk.length;
        }
        whole.set(m.payload, o);
      }
      this.#clear(peer, state);
      state.expected = nextRoutingNumber(state.expected);
      c.messages++;
      return whole;
    }

    if (!this.#makeRoom(peer, m.payload.length)) {
      c.tooLarge++;
      this.#drop(peer, state);
      return undefined;
    }
    if (!this.#pending.has(peer) && this.#pending.size >= this.#maxPendingPeers)
      this.#evictOldestPending(peer);
    // Keep a copy: the datagram's buffer belongs to the socket.
    state.chunks.push(m.payload.slice());
    state.length = newLength;
    this.#pendingBytes += m.payload.length;
    this.#pending.delete(peer);
    this.#pending.set(peer, state);
    return undefined;
  }

  /** Forgets every peer and partial message. */
  clear(): void {
    this.#peers.clear();
    this.#pending.clear();
    this.#pendingBytes = 0;
  }

  /** Drops the partial message and moves on to the next routing number (Ockam's reaction to a gap). */
  #drop(peer: string, state: PeerState): void {
    this.#clear(peer, state);
    state.expected = nextRoutingNumber(state.expected);
  }

  #clear(peer: string, state: PeerState): void {
    this.#pendingBytes -= state.length;
    state.chunks = [];
    state.length = 0;
    this.#pending.delete(peer);
  }

  #forgetOldestPeer(): void {
    for (const [key, state] of this.#peers) {
      if (this.#pending.has(key)) this.counters.evicted++;
      this.#clear(key, state);
      this.#peers.delete(key);
      return;
    }
  }

  #evictOldestPending(except: string): void {
    for (const [key, state] of this.#pending) {
      if (key === except) continue;
      this.counters.evicted++;
      this.#drop(key, state);
      return;
    }
  }

  /**
   * Drops other peers' partial messages, least recently extended first, until `extra` more bytes
   * fit; false if they cannot fit even then (this peer's own message is too big for the budget).
   */
  #makeRoom(peer: string, extra: number): boolean {
    while (this.#pendingBytes + extra > this.#maxPendingBytes) {
      let victim: [string, PeerState] | undefined;
      for (const entry of this.#pending) {
        if (entry[0] === peer) continue;
        victim = entry;
        break;
      }
      if (victim === undefined) return false;
      this.counters.evicted++;
      this.#drop(victim[0], victim[1]);
    }
    return true;
  }
}

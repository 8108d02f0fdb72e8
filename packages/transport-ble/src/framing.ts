/**
 * Ockam BLE framing (PROTOCOL.md §2.3, `ockam_transport_ble/src/driver/packet.rs`):
 *
 * - a message is a legacy BARE `TransportMessage` (§1.2) of at most 1024 bytes
 *   (`MAX_OCKAM_MESSAGE_LENGTH`);
 * - it is sent as one 8-byte write holding its length as a big-endian u64, then as fragments of
 *   `CHARACTERISTIC_VALUE_LENGTH = MTU − 5` bytes (18 at the default MTU of 23), the last shorter;
 * - the receiver takes an 8-byte write as a length when it is a valid one, rejects lengths over its
 *   buffer or over `2 << 16`, and appends every other write to the message being assembled.
 *
 * Because a receiver (ours and Ockam Rust's) reads any 8-byte write that holds a valid length as
 * the start of a new message, a last fragment of exactly 8 bytes would be ambiguous. Our sender
 * never writes one: when the remainder would be 8 bytes, the last two fragments become
 * `length − 1` and 9 bytes (or 7 and 1 for an 8-byte message). Receivers accept any fragment size,
 * so this stays compatible with Ockam Rust.
 *
 * BLE here has no retransmission, sequence numbers or checksums: a lost write loses its message,
 * and the reassembler resynchronises on the next length.
 *
 * @example
 * ```ts
 * import { fragmentPacket, PacketReassembler } from '@ockam/transport-ble';
 * const writes = fragmentPacket(new Uint8Array(40), 23); // [8-byte length, 18, 18, 4]
 * const r = new PacketReassembler();
 * let packet: Uint8Array | undefined;
 * for (const w of writes) packet = r.push(w) ?? packet;
 * packet?.length; // 40
 * ```
 */
import { decodeLegacyTransportMessage, encodeLegacyTransportMessage, type LocalMessage } from '@ockam/core';
import {
  ATT_HEADER_BYTES,
  characteristicValueLength,
  DEFAULT_MTU,
  LENGTH_HEADER_BYTES,
  MAX_DECLARED_LENGTH,
  MAX_MTU,
  MAX_OCKAM_MESSAGE_LENGTH,
} from './constants.js';
import { BleTransportError } from './errors.js';

/** The smallest MTU we fragment for: the BLE minimum, at which a fragment holds 18 bytes. */
const MIN_MTU = DEFAULT_MTU;

/** Encodes a message as a legacy transport message; throws `invalid` over `MAX_OCKAM_MESSAGE_LENGTH`. */
export function encodeBleMessage(message: LocalMessage, maxLength = MAX_OCKAM_MESSAGE_LENGTH): Uint8Array {
  const packet = encodeLegacyTransportMessage(message);
  if (packet.length > maxLength) {
    throw new BleTransportError(
      'invalid',
      `Cannot send BLE message: length ${packet.length} exceeds ${maxLength} (MAX_OCKAM_MESSAGE_LENGTH)`,
    );
  }
  return packet;
}

/** Decodes a reassembled packet; throws `protocol` on malformed bytes, never returns a partial message. */
export function decodeBleMessage(packet: Uint8Array): LocalMessage {
  try {
    return decodeLegacyTransportMessage(packet, 'BLE transport message');
  } catch (e) {
    throw new BleTransportError('protocol', e instanceof Error ? e.message : String(e), { cause: e });
  }
}

/** The 8-byte big-endian length write that precedes a packet. */
export function encodeLengthHeader(length: number): Uint8Array {
  const out = new Uint8Array(LENGTH_HEADER_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(length / 2 ** 32));
  view.setUint32(4, length >>> 0);
  return out;
}

/**
 * Every write that carries `packet` at ATT MTU `mtu`: the length, then the fragments. Throws a
 * `RangeError` for an MTU outside 23..517 and a `BleTransportError` (`invalid`) for a packet over
 * `MAX_OCKAM_MESSAGE_LENGTH` or empty.
 */
export function fragmentPacket(packet: Uint8Array, mtu = DEFAULT_MTU): Uint8Array[] {
  if (!Number.isInteger(mtu) || mtu < MIN_MTU || mtu > MAX_MTU)
    throw new RangeError(`BLE MTU must be an integer in ${MIN_MTU}..${MAX_MTU}, got ${mtu}`);
  if (packet.length === 0 || packet.length > MAX_OCKAM_MESSAGE_LENGTH)
    throw new BleTransportError(
      'invalid',
      `Cannot fragment a BLE packet of ${packet.length} bytes: expected 1..${MAX_OCKAM_MESSAGE_LENGTH}`,
    );
  const size = characteristicValueLength(mtu);
  const writes: Uint8Array[] = [encodeLengthHeader(packet.length)];
  const sizes: number[] = [];
  let left = packet.length;
  while (left > 0) {
    const n = Math.min(size, left);
    sizes.push(n);
    left -= n;
  }
  // Never a data write of exactly 8 bytes: a receiver could read it as a length (see above).
  if (sizes[sizes.length - 1] === LENGTH_HEADER_BYTES) {
    if (sizes.length === 1) sizes.splice(0, 1, 7, 1);
    else sizes.splice(sizes.length - 2, 2, size - 1, LENGTH_HEADER_BYTES + 1);
  }
  let offset = 0;
  for (const n of sizes) {
    writes.push(packet.subarray(offset, offset + n));
    offset += n;
  }
  return writes;
}

/** The largest value one write may carry at ATT MTU `mtu`. */
export function maxWriteLength(mtu: number): number {
  return mtu - ATT_HEADER_BYTES;
}

/** Why the reassembler threw bytes away (each is counted and reported through `onDrop`). */
export type BleDropReason = 'length-rejected' | 'stray-fragment' | 'interrupted' | 'overflow';

export interface PacketReassemblerOptions {
  /** The receive buffer: longest packet accepted (default and maximum `MAX_OCKAM_MESSAGE_LENGTH`). */
  maxPacketLength?: number;
  /** Called for every write or partial packet thrown away, with a sentence for logs. */
  onDrop?: (reason: BleDropReason, detail: string) => void;
}

/**
 * Rebuilds packets from the writes of one link, in order. `push` returns a whole packet when its
 * last fragment arrives. It never throws on what a peer sends: malformed input is dropped, counted
 * and reported, and the next valid length starts over.
 */
export class PacketReassembler {
  readonly #max: number;
  readonly #onDrop: ((reason: BleDropReason, detail: string) => void) | undefined;
  #buffer: Uint8Array;
  /** Declared length of the packet being assembled, or 0 when waiting for a length. */
  #expected = 0;
  #offset = 0;
  readonly #drops: Record<BleDropReason, number> = {
    'length-rejected': 0,
    'stray-fragment': 0,
    interrupted: 0,
    overflow: 0,
  };

  constructor(options: PacketReassemblerOptions = {}) {
    const max = options.maxPacketLength ?? MAX_OCKAM_MESSAGE_LENGTH;
    if (!Number.isInteger(max) || max < 1 || max > MAX_OCKAM_MESSAGE_LENGTH)
      throw new RangeError(
        `maxPacketLength must be an integer in 1..${MAX_OCKAM_MESSAGE_LENGTH}, got ${max}`,
      );
    this.#max = max;
    this.#onDrop = options.onDrop;
    this.#buffer = new Uint8Array(max);
  }

  /** Whether a packet is partly assembled. */
  get assembling(): boolean {
    return this.#expected > 0;
  }

  /** Counts of what was dropped, by reason. */
  get drops(): Readonly<Record<BleDropReason, number>> {
    return { ...this.#drops };
  }

  /** Takes one write; returns a whole packet (a copy the caller owns) when one is complete. */
  push(value: Uint8Array): Uint8Array | undefined {
    if (value.length === LENGTH_HEADER_BYTES) {
      const length = readLength(value);
      // §2.3: lengths over the buffer or over 2 << 16 are refused. (An empty message is not one.)
      if (length !== undefined && length >= 1 && length <= this.#max && length <= MAX_DECLARED_LENGTH) {
        if (this.#expected > 0)
          this.#drop('interrupted', `a new length arrived after ${this.#offset} of ${this.#expected} bytes`);
        this.#expected = length;
        this.#offset = 0;
        return undefined;
      }
      if (this.#expected === 0) {
        this.#drop(
          'length-rejected',
          `declared length ${length ?? '≥ 2^53'} is outside 1..${Math.min(this.#max, MAX_DECLARED_LENGTH)}`,
        );
        return undefined;
      }
      // While assembling, an 8-byte write that is no valid length is data (Ockam Rust's reading).
    }
    if (this.#expected === 0) {
      this.#drop('stray-fragment', `${value.length} bytes arrived with no length before them`);
      return undefined;
    }
    if (this.#offset + value.length > this.#expected) {
      this.#drop(
        'overflow',
        `a ${value.length}-byte fragment overflows the declared length ${this.#expected} at ${this.#offset}`,
      );
      this.#expected = 0;
      this.#offset = 0;
      return undefined;
    }
    this.#buffer.set(value, this.#offset);
    this.#offset += value.length;
    if (this.#offset < this.#expected) return undefined;
    const packet = this.#buffer.slice(0, this.#expected);
    this.#expected = 0;
    this.#offset = 0;
    return packet;
  }

  /** Forgets a partly assembled packet (a link that went down). */
  reset(): void {
    this.#expected = 0;
    this.#offset = 0;
  }

  #drop(reason: BleDropReason, detail: string): void {
    this.#drops[reason]++;
    this.#onDrop?.(reason, detail);
  }
}

/** The u64 in an 8-byte write, or undefined when it is beyond what a JS number holds exactly. */
function readLength(value: Uint8Array): number | undefined {
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const high = view.getUint32(0);
  if (high >= 2 ** 21) return undefined;
  return high * 2 ** 32 + view.getUint32(4);
}

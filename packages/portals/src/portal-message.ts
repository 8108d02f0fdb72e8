/**
 * The portal protocol's messages (PROTOCOL.md §7.1), hand-encoded as BARE like Ockam's
 * `PortalMessage` and sent as raw payloads:
 *
 * | message      | bytes                                   |
 * | ------------ | --------------------------------------- |
 * | `Ping`       | `00`                                    |
 * | `Pong`       | `01`                                    |
 * | `Disconnect` | `02`                                    |
 * | `Payload`    | `03` uvarint(length) bytes [`01` u16 LE] |
 *
 * The trailing packet counter of `Payload` is accepted when decoding and never emitted (Ockam
 * does not emit it either). The decoder is strict: unknown tags, truncation, a presence byte other
 * than `00`/`01`, and trailing bytes are `serialization` errors, and no partial value is returned.
 *
 * @example
 * ```ts
 * import { encodePortalMessage, decodePortalMessage } from '@ockam/portals/codec';
 * encodePortalMessage({ kind: 'payload', data: new TextEncoder().encode('hello') });
 * // 03 05 68 65 6c 6c 6f
 * decodePortalMessage(Uint8Array.of(0x02)); // { kind: 'disconnect' }
 * ```
 */
import { concatBytes, readUvarint, uvarintLength, writeUvarint } from '@ockam/core';
import { PortalError } from './errors.js';

/** Ockam's `MAX_PAYLOAD_SIZE`: portals read their sockets in chunks of at most 48 KiB. */
export const MAX_PAYLOAD_SIZE = 48 * 1024;

/** Decoding refuses payloads above this (a whole TCP frame is at most 16 MiB anyway). */
export const MAX_DECODED_PAYLOAD_SIZE = 16 * 1024 * 1024;

export type PortalMessage =
  | { readonly kind: 'ping' }
  | { readonly kind: 'pong' }
  | { readonly kind: 'disconnect' }
  | {
      readonly kind: 'payload';
      readonly data: Uint8Array;
      /** The optional packet counter (0, 1, 2, … wrapping at 2^16); absent in what we send. */
      readonly counter?: number;
    };

const TAG_PING = 0;
const TAG_PONG = 1;
const TAG_DISCONNECT = 2;
const TAG_PAYLOAD = 3;

const PING = Uint8Array.of(TAG_PING);
const PONG = Uint8Array.of(TAG_PONG);
const DISCONNECT = Uint8Array.of(TAG_DISCONNECT);

/** Encodes a portal message. A payload's counter, if set, is not written (PROTOCOL.md §7.1). */
export function encodePortalMessage(message: PortalMessage): Uint8Array {
  switch (message.kind) {
    case 'ping':
      return PING.slice();
    case 'pong':
      return PONG.slice();
    case 'disconnect':
      return DISCONNECT.slice();
    case 'payload':
      return encodePayload(message.data);
  }
}

/** `Payload(data)` without building a message object: `03` uvarint(length) data. */
export function encodePayload(data: Uint8Array): Uint8Array {
  return concatBytes(...encodePayloadParts(data));
}

/**
 * `Payload(data)` as parts: its head (`03` uvarint(length)), then `data` itself, not copied (one
 * array, or several whose concatenation is the data). Send them with `LocalMessage.fromParts`,
 * so that the data is read once, by the cipher or the socket.
 */
export function encodePayloadParts(data: Uint8Array | readonly Uint8Array[]): Uint8Array[] {
  let length = 0;
  if (data instanceof Uint8Array) length = data.length;
  else for (const part of data) length += part.length;
  const head = new Uint8Array(1 + uvarintLength(length));
  head[0] = TAG_PAYLOAD;
  writeUvarint(head, 1, length);
  return data instanceof Uint8Array ? [head, data] : [head, ...data];
}

function fail(reason: string, cause?: unknown): never {
  throw new PortalError('serialization', `Cannot decode portal message: ${reason}`, { cause });
}

/**
 * Decodes a portal message. A payload's `data` is a view into `bytes`.
 * Throws a `PortalError` (`serialization`) on anything malformed.
 */
export function decodePortalMessage(bytes: Uint8Array): PortalMessage {
  if (bytes.length === 0) fail('empty message');
  const tag = bytes[0]!;
  // serde_bare writes the variant index as a uvarint; 0..3 always fit in one byte, and a longer
  // (non-canonical) form is refused.
  switch (tag) {
    case TAG_PING:
    case TAG_PONG:
    case TAG_DISCONNECT:
      if (bytes.length !== 1) fail(`${bytes.length - 1} trailing bytes after tag ${tag}`);
      return tag === TAG_PING
        ? { kind: 'ping' }
        : tag === TAG_PONG
          ? { kind: 'pong' }
          : { kind: 'disconnect' };
    case TAG_PAYLOAD:
      return decodePayload(bytes);
    default:
      return fail(`unknown tag 0x${tag.toString(16).padStart(2, '0')}`);
  }
}

function decodePayload(bytes: Uint8Array): PortalMessage {
  let length: number;
  let start: number;
  try {
    [length, start] = readUvarint(bytes, 1, 'portal payload length');
  } catch (e) {
    return fail('bad payload length', e);
  }
  if (length > MAX_DECODED_PAYLOAD_SIZE) fail(`payload length ${length} exceeds ${MAX_DECODED_PAYLOAD_SIZE}`);
  if (length > bytes.length - start)
    fail(`payload length ${length} exceeds the ${bytes.length - start} bytes that remain`);
  const end = start + length;
  const data = bytes.subarray(start, end);
  const rest = bytes.length - end;
  if (rest === 0) return { kind: 'payload', data };
  // Optional counter: a presence byte, then a u16 little-endian when present.
  const presence = bytes[end]!;
  if (presence === 0) {
    if (rest !== 1) fail(`${rest - 1} trailing bytes after an absent counter`);
    return { kind: 'payload', data };
  }
  if (presence !== 1) fail(`counter presence byte must be 00 or 01, got ${presence}`);
  if (rest < 3) fail('truncated packet counter');
  if (rest > 3) fail(`${rest - 3} trailing bytes after the packet counter`);
  const counter = bytes[end + 1]! | (bytes[end + 2]! << 8);
  return { kind: 'payload', data, counter };
}

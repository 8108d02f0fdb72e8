/**
 * Messages (PROTOCOL.md §1.2): a `LocalMessage` has an onward route, a return route, payload bytes
 * and local info that never leaves the node (who it came from, which secure channel).
 *
 * Wire codecs live here too, because several transports share them:
 * - `encodeTransportMessage`/`decodeTransportMessage`: the CBOR array
 *   `[onward, return, payload bstr, tracing_context?]` used by TCP (§2.1) and, as the routing
 *   message, by UDP (§2.2);
 * - `encodeLegacyTransportMessage`/`decodeLegacyTransportMessage`: the hand-rolled BARE
 *   `TransportMessage` still used by WebSocket, BLE and UDS (§1.2).
 *
 * @example
 * ```ts
 * import { LocalMessage, Route, encodeTransportMessage, encodeBareString } from '@ockam/core';
 * const m = new LocalMessage(Route.of('echo'), Route.of('app'), encodeBareString('hello'));
 * encodeTransportMessage(m); // 83 81 82 00 44 6563686f 81 82 00 43 617070 46 0568656c6c6f
 * ```
 */
import { Address, MAX_ADDRESS_LENGTH } from './address.js';
import { readBareBytes, readUvarint, uvarintLength, writeUvarint } from './bare.js';
import { CborReader, CborWriter } from './cbor.js';
import { DecodeError } from './errors.js';
import type { ProducerInfo } from './flow-control.js';
import { concatBytes, copyBytes } from './hex.js';
import { Route, type RouteLike, toRoute } from './route.js';

/**
 * Longest route (onward or return, in addresses) a decoder accepts from the network. Ockam's
 * routes are a handful of hops: the longest our own commands build (`/node/n1/node/n2/node/n3`,
 * a project route through a relay and two secure channels) stay under 8, and each transport hop
 * adds one address to the return route. 32 leaves four times that, and keeps what one frame can
 * make a node build (two routes of 32 addresses) a small constant, whatever the frame's size.
 * Decoders take `maxRouteLength` to change it.
 */
export const MAX_ROUTE_LENGTH = 32;

/** A route over the cap: definitive, unlike truncation, so no decoder retries after it. */
class RouteLengthError extends DecodeError {}

function checkRouteLength(what: string, n: number, max: number): void {
  if (n > max)
    throw new RouteLengthError(
      what,
      `route of ${n} addresses exceeds the limit of ${max} (MAX_ROUTE_LENGTH)`,
    );
}

/** Facts a node attaches to a message it received; never serialized. */
export interface LocalInfo {
  /** The identifier (`I…`) of the peer of the secure channel that delivered this message. */
  readonly secureChannelIdentifier?: string;
  /** The local address of the encryptor of that secure channel. */
  readonly secureChannelEncryptor?: string;
  /**
   * The flow-control id of the producer (connection, channel) that delivered this message, as the
   * producer wrote it. Local info is anyone's to set: flow control decides on `LocalMessage.origin`,
   * which only the router sets.
   */
  readonly flowControlId?: string;
  readonly [key: string]: unknown;
}

const NO_INFO: LocalInfo = Object.freeze({});

let stamp: (message: LocalMessage, origin: ProducerInfo) => LocalMessage;

/**
 * The message, stamped with the producer it came out of (a copy unless it already carries that
 * stamp). For the router alone: it is not exported from the package (see `LocalMessage.origin`).
 */
export function stampOrigin(message: LocalMessage, origin: ProducerInfo): LocalMessage {
  return stamp(message, origin);
}

export class LocalMessage {
  readonly onwardRoute: Route;
  readonly returnRoute: Route;
  readonly localInfo: LocalInfo;
  /** Trace context carried by TCP as field 3 (an OpenTelemetry JSON map in Ockam Rust). */
  readonly tracingContext: string | undefined;
  #payload: Uint8Array | undefined;
  #parts: readonly Uint8Array[] | undefined;
  #length: number;
  /** Shared by this message's copies, so that the owner hears of a release at most once. */
  #release: { fn: (() => void) | undefined } | undefined;
  #origin: ProducerInfo | undefined;

  static {
    stamp = (message, origin) => {
      if (message.#origin === origin) return message;
      const m = message.#with(message.onwardRoute, message.returnRoute, message.localInfo);
      m.#origin = origin;
      return m;
    };
  }

  constructor(
    onward: RouteLike,
    ret: RouteLike,
    payload: Uint8Array,
    localInfo: LocalInfo = NO_INFO,
    tracingContext?: string,
  ) {
    this.onwardRoute = toRoute(onward);
    this.returnRoute = toRoute(ret);
    this.#payload = payload;
    this.#parts = undefined;
    this.#length = payload.length;
    this.#release = undefined;
    this.localInfo = localInfo;
    this.tracingContext = tracingContext;
  }

  /**
   * A message whose payload is the concatenation of `parts`, kept apart: a transport that writes
   * with scatter/gather (TCP) sends them without ever joining them; `payload` joins them, once,
   * only if someone reads it. Like any payload, the parts must not change after the message is sent.
   *
   * @example
   * ```ts
   * const m = LocalMessage.fromParts(['echo'], ['app'], [Uint8Array.of(1), Uint8Array.of(2, 3)]);
   * m.payloadLength; // 3
   * m.payload; // Uint8Array [1, 2, 3]
   * ```
   */
  static fromParts(
    onward: RouteLike,
    ret: RouteLike,
    parts: readonly Uint8Array[],
    localInfo?: LocalInfo,
    tracingContext?: string,
  ): LocalMessage {
    if (parts.length === 1) return new LocalMessage(onward, ret, parts[0]!, localInfo, tracingContext);
    const m = new LocalMessage(onward, ret, EMPTY_PAYLOAD, localInfo, tracingContext);
    let length = 0;
    for (const part of parts) length += part.length;
    m.#payload = undefined;
    m.#parts = parts;
    m.#length = length;
    return m;
  }

  /**
   * The flow-control producer this message came out of (a connection's receiver, a channel's
   * decryptor), or undefined for a message a worker built. Only the router sets it, when a producer
   * sends; every message derived from this one (`stepForward`, `withOnward`, …) keeps it, so a
   * worker that forwards the message can deliver it only where the producer could have
   * (PROTOCOL.md §1.5). A message built with `new LocalMessage` or `fromParts` has none.
   */
  get origin(): ProducerInfo | undefined {
    return this.#origin;
  }

  /** The payload bytes (parts given to `fromParts` are joined on first read). */
  get payload(): Uint8Array {
    let payload = this.#payload;
    if (payload === undefined) {
      payload = this.#payload = concatBytes(...this.#parts!);
      this.#parts = undefined;
    }
    return payload;
  }

  /** The payload's length in bytes, without joining parts. */
  get payloadLength(): number {
    return this.#length;
  }

  /** The payload as the parts whose concatenation it is (one part unless made by `fromParts`). */
  get payloadParts(): readonly Uint8Array[] {
    return this.#parts ?? [this.#payload!];
  }

  /**
   * The same message, whose payload's owner wants its memory back: `release` is called (at most
   * once, by this message or any copy of it) when `releasePayload` says the bytes are no longer
   * read. A message nobody releases is simply collected, so an owner must never count on it.
   *
   * @example
   * ```ts
   * const m = LocalMessage.fromParts(route, [], [frame]).withRelease(() => pool.put(frame));
   * ```
   */
  withRelease(release: () => void): LocalMessage {
    const m = this.#with(this.onwardRoute, this.returnRoute, this.localInfo);
    m.#release = { fn: release };
    return m;
  }

  /**
   * Says that the payload's bytes will not be read again by whoever holds this message, so their
   * owner may reuse them (see `withRelease`). Only the last reader may call it: a transport once
   * the bytes have left for the network. Calling it again, or on a message without an owner,
   * does nothing.
   */
  releasePayload(): void {
    const holder = this.#release;
    const fn = holder?.fn;
    if (fn === undefined) return;
    holder!.fn = undefined;
    fn();
  }

  #with(onward: Route, ret: Route, localInfo: LocalInfo): LocalMessage {
    const m =
      this.#parts === undefined
        ? new LocalMessage(onward, ret, this.#payload!, localInfo, this.tracingContext)
        : LocalMessage.fromParts(onward, ret, this.#parts, localInfo, this.tracingContext);
    m.#release = this.#release;
    m.#origin = this.#origin;
    return m;
  }

  /** Pops the first onward address and pushes `via` on the return route (Ockam's `step_forward`). */
  stepForward(via: Address): LocalMessage {
    return this.#with(this.onwardRoute.popFront(), this.returnRoute.prepend(via), this.localInfo);
  }

  withOnward(onward: RouteLike): LocalMessage {
    return this.#with(toRoute(onward), this.returnRoute, this.localInfo);
  }

  withReturn(ret: RouteLike): LocalMessage {
    return this.#with(this.onwardRoute, toRoute(ret), this.localInfo);
  }

  withPayload(payload: Uint8Array): LocalMessage {
    const m = new LocalMessage(
      this.onwardRoute,
      this.returnRoute,
      payload,
      this.localInfo,
      this.tracingContext,
    );
    m.#origin = this.#origin;
    return m;
  }

  withLocalInfo(info: LocalInfo): LocalMessage {
    return this.#with(this.onwardRoute, this.returnRoute, info);
  }
}

const EMPTY_PAYLOAD = new Uint8Array(0);

const utf8 = new TextEncoder();
const utf8Fatal = new TextDecoder('utf-8', { fatal: true });

// Encoded address values are cached: the same few addresses repeat on every message of a route.
const encodedValues = new Map<string, Uint8Array>();
function valueBytes(a: Address): Uint8Array {
  let b = encodedValues.get(a.value);
  if (b === undefined) {
    b = utf8.encode(a.value);
    if (encodedValues.size > 4096) encodedValues.clear();
    encodedValues.set(a.value, b);
  }
  return b;
}

export function writeCborAddress(w: CborWriter, a: Address): void {
  w.array(2).uint(a.type).bytes(valueBytes(a));
}

export function writeCborRoute(w: CborWriter, r: Route): void {
  w.array(r.addresses.length);
  for (const a of r.addresses) writeCborAddress(w, a);
}

export function readCborAddress(r: CborReader): Address {
  r.arrayOf(2, 2, 'address');
  const type = r.uintMax(255, 'transport type');
  const raw = r.bytes();
  if (raw.length > MAX_ADDRESS_LENGTH)
    r.fail(`address value of ${raw.length} bytes exceeds ${MAX_ADDRESS_LENGTH}`);
  let value: string;
  try {
    value = utf8Fatal.decode(raw);
  } catch (cause) {
    throw new DecodeError(r.what, 'address value is not valid UTF-8', { cause });
  }
  return new Address(type, value);
}

/**
 * Reads a CBOR route, refusing one of more than `maxLength` addresses (default
 * `MAX_ROUTE_LENGTH`) before it builds any of them.
 */
export function readCborRoute(r: CborReader, maxLength = MAX_ROUTE_LENGTH): Route {
  const n = r.arrayHead();
  checkRouteLength(r.what, n, maxLength);
  // Each address takes at least three bytes (array head, type, value head).
  if (n * 3 > r.remaining) r.fail(`route of ${n} addresses cannot fit in ${r.remaining} bytes`);
  const out: Address[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = readCborAddress(r);
  return new Route(out);
}

/** Encodes `[onward, return, payload, tracing?]` as minicbor does for `TcpTransportMessage`. */
export function encodeTransportMessage(m: LocalMessage, writer?: CborWriter): Uint8Array {
  const w = writer ?? new CborWriter(m.payload.length + 64);
  w.array(m.tracingContext === undefined ? 3 : 4);
  writeCborRoute(w, m.onwardRoute);
  writeCborRoute(w, m.returnRoute);
  w.bytes(m.payload);
  if (m.tracingContext !== undefined) w.text(m.tracingContext);
  return w.finish();
}

export interface DecodeTransportMessageOptions {
  /**
   * Whether the payload is copied out of `bytes` (default true). Pass false only when the caller
   * owns `bytes` and nothing will ever write to its memory again (a frame a TCP decoder cut
   * from socket chunks, which Node never reuses): the payload is then a view into `bytes`,
   * unless it is under half of the memory it would keep alive, in which case it is copied anyway
   * so that a small payload cannot pin a large buffer.
   */
  readonly copyPayload?: boolean;
  /** Longest onward or return route accepted (default `MAX_ROUTE_LENGTH`). */
  readonly maxRouteLength?: number;
}

/**
 * Decodes a CBOR transport message strictly: an array of 3 or more fields (minicbor ignores
 * unknown trailing fields), no trailing bytes. The payload is copied out of `bytes` (see
 * `options.copyPayload`). Routes over `options.maxRouteLength` are refused before any of their
 * addresses is built, so what a message takes in memory is its size on the wire plus at most two
 * capped routes, whatever the frame holds.
 */
export function decodeTransportMessage(
  bytes: Uint8Array,
  what = 'transport message',
  options?: DecodeTransportMessageOptions,
): LocalMessage {
  const r = new CborReader(bytes, what);
  const n = r.array();
  if (n < 3) r.fail(`expected at least 3 fields, found ${n}`);
  const maxRouteLength = options?.maxRouteLength ?? MAX_ROUTE_LENGTH;
  const onward = readCborRoute(r, maxRouteLength);
  const ret = readCborRoute(r, maxRouteLength);
  const view = r.bytes();
  const payload =
    options?.copyPayload === false && view.length * 2 >= view.buffer.byteLength ? view : copyBytes(view);
  let tracing: string | undefined;
  if (n >= 4) {
    if (r.nullable()) tracing = undefined;
    else tracing = r.text();
    r.skipRest(n - 4);
  }
  r.end();
  return new LocalMessage(onward, ret, payload, undefined, tracing);
}

/**
 * Decodes a CBOR transport message that arrives in pieces (a TCP frame split across socket reads)
 * without joining them where it can: when the message has its three fields and the routes and
 * the payload's head lie in the first piece, the payload is made of views of the pieces
 * (`LocalMessage.fromParts`), so it can be forwarded without ever being copied. Anything else is
 * joined and decoded by `decodeTransportMessage` (payload not copied), whose errors are the
 * errors here. The pieces must be the caller's to keep, as with `copyPayload: false`. A route
 * over the cap is refused from the first piece, without joining the rest.
 */
export function decodeTransportMessageParts(
  parts: readonly Uint8Array[],
  what = 'transport message',
  options?: Pick<DecodeTransportMessageOptions, 'maxRouteLength'>,
): LocalMessage {
  const maxRouteLength = options?.maxRouteLength ?? MAX_ROUTE_LENGTH;
  const whole = { copyPayload: false, maxRouteLength };
  const first = parts[0];
  if (first === undefined) return decodeTransportMessage(new Uint8Array(0), what, whole);
  if (parts.length === 1) return decodeTransportMessage(first, what, whole);
  let total = 0;
  for (const part of parts) total += part.length;
  // A read can end anywhere in a frame, a few bytes into its head included: the head is then read
  // from a copy of the frame's first bytes (at most `SPLIT_HEAD_BYTES`), and the payload is still
  // made of views of the parts. Without it, such a frame failed here with an exception and was
  // copied whole below.
  const head =
    first.length < SPLIT_HEAD_BYTES && total > first.length
      ? prefixBytes(parts, Math.min(total, SPLIT_HEAD_BYTES))
      : first;
  try {
    const r = new CborReader(head, what);
    if (r.array() === 3) {
      const onward = readCborRoute(r, maxRouteLength);
      const ret = readCborRoute(r, maxRouteLength);
      if (r.peekType() === 'bytes') {
        const length = r.bytesHead();
        const start = r.position;
        // Exactly the rest of the frame: nothing missing, nothing after it.
        if (start + length === total) return LocalMessage.fromParts(onward, ret, partsFrom(parts, start));
      }
    }
  } catch (e) {
    if (e instanceof RouteLengthError) throw e;
    // The head is split too, or the message is malformed: the joined bytes say which, below.
  }
  return decodeTransportMessage(concatBytes(...parts), what, whole);
}

/** How many of a split frame's first bytes `decodeTransportMessageParts` copies to read its head. */
const SPLIT_HEAD_BYTES = 1024;

/** A copy of the first `n` bytes of the concatenation of `parts` (n ≤ their total). */
function prefixBytes(parts: readonly Uint8Array[], n: number): Uint8Array {
  const out = new Uint8Array(n);
  let o = 0;
  for (let i = 0; o < n; i++) {
    const part = parts[i]!;
    const take = Math.min(part.length, n - o);
    out.set(take === part.length ? part : part.subarray(0, take), o);
    o += take;
  }
  return out;
}

/** Views of the parts from byte `start` of their concatenation on, empty ones left out. */
function partsFrom(parts: readonly Uint8Array[], start: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let skip = start;
  for (const part of parts) {
    if (skip >= part.length) {
      skip -= part.length;
      continue;
    }
    out.push(skip === 0 ? part : part.subarray(skip));
    skip = 0;
  }
  return out;
}

export const LEGACY_PROTOCOL_VERSION_V1 = 1;
export const LEGACY_PROTOCOL_VERSION_LATEST = 2;

function legacyRouteSize(route: Route): number {
  let n = uvarintLength(route.length);
  for (const a of route.addresses) {
    const v = valueBytes(a);
    n += 1 + uvarintLength(v.length) + v.length;
  }
  return n;
}

function writeLegacyRoute(out: Uint8Array, o: number, route: Route): number {
  o = writeUvarint(out, o, route.length);
  for (const a of route.addresses) {
    out[o++] = a.type;
    const v = valueBytes(a);
    o = writeUvarint(out, o, v.length);
    out.set(v, o);
    o += v.length;
  }
  return o;
}

/**
 * The legacy BARE `TransportMessage`: `version u8 | onward | return | payload | tracing flag [+ string]`.
 * Ockam emits version 1 with the tracing flag; we do the same.
 */
export function encodeLegacyTransportMessage(m: LocalMessage): Uint8Array {
  const tracing = m.tracingContext === undefined ? undefined : utf8.encode(m.tracingContext);
  const size =
    1 +
    legacyRouteSize(m.onwardRoute) +
    legacyRouteSize(m.returnRoute) +
    uvarintLength(m.payload.length) +
    m.payload.length +
    1 +
    (tracing ? uvarintLength(tracing.length) + tracing.length : 0);
  const out = new Uint8Array(size);
  let o = 0;
  out[o++] = LEGACY_PROTOCOL_VERSION_V1;
  o = writeLegacyRoute(out, o, m.onwardRoute);
  o = writeLegacyRoute(out, o, m.returnRoute);
  o = writeUvarint(out, o, m.payload.length);
  out.set(m.payload, o);
  o += m.payload.length;
  if (tracing) {
    out[o++] = 1;
    o = writeUvarint(out, o, tracing.length);
    out.set(tracing, o);
  } else out[o++] = 0;
  return out;
}

function readLegacyRoute(bytes: Uint8Array, o: number, what: string, maxLength: number): [Route, number] {
  const [count, start] = readUvarint(bytes, o, what);
  o = start;
  checkRouteLength(what, count, maxLength);
  // Each address takes at least two bytes (type and length), so a count past that is a lie.
  if (count * 2 > bytes.length - o)
    throw new DecodeError(what, `route of ${count} addresses cannot fit in ${bytes.length - o} bytes`);
  const addrs: Address[] = [];
  for (let i = 0; i < count; i++) {
    if (o >= bytes.length) throw new DecodeError(what, 'truncated address');
    const type = bytes[o++]!;
    const [raw, next] = readBareBytes(bytes, o, what);
    if (raw.length > MAX_ADDRESS_LENGTH)
      throw new DecodeError(what, `address value of ${raw.length} bytes exceeds ${MAX_ADDRESS_LENGTH}`);
    o = next;
    let value: string;
    try {
      value = utf8Fatal.decode(raw);
    } catch (cause) {
      throw new DecodeError(what, 'address value is not valid UTF-8', { cause });
    }
    addrs.push(new Address(type, value));
  }
  return [new Route(addrs), o];
}

/**
 * Decodes the legacy BARE `TransportMessage`, versions 1 and 2 (v1 ignores trailing bytes, as Ockam
 * does). Routes over `options.maxRouteLength` (default `MAX_ROUTE_LENGTH`) are refused before any
 * of their addresses is built.
 */
export function decodeLegacyTransportMessage(
  bytes: Uint8Array,
  what = 'legacy transport message',
  options?: Pick<DecodeTransportMessageOptions, 'maxRouteLength'>,
): LocalMessage {
  const maxRouteLength = options?.maxRouteLength ?? MAX_ROUTE_LENGTH;
  if (bytes.length < 1) throw new DecodeError(what, 'empty input');
  const version = bytes[0]!;
  if (version !== LEGACY_PROTOCOL_VERSION_V1 && version !== LEGACY_PROTOCOL_VERSION_LATEST) {
    throw new DecodeError(what, `unsupported protocol version ${version}`);
  }
  const [onward, afterOnward] = readLegacyRoute(bytes, 1, what, maxRouteLength);
  const [ret, afterReturn] = readLegacyRoute(bytes, afterOnward, what, maxRouteLength);
  let o = afterReturn;
  const [payload, afterPayload] = readBareBytes(bytes, o, what);
  o = afterPayload;
  let tracing: string | undefined;
  if (o < bytes.length) {
    const flag = bytes[o++]!;
    if (flag === 1) {
      const [t, end] = readBareBytes(bytes, o, what);
      try {
        tracing = utf8Fatal.decode(t);
      } catch (cause) {
        throw new DecodeError(what, 'tracing context is not valid UTF-8', { cause });
      }
      o = end;
    } else if (flag !== 0) throw new DecodeError(what, `invalid tracing flag ${flag}`);
  }
  if (o !== bytes.length && version !== LEGACY_PROTOCOL_VERSION_V1) {
    throw new DecodeError(what, `${bytes.length - o} trailing bytes`);
  }
  return new LocalMessage(onward, ret, copyBytes(payload), undefined, tracing);
}

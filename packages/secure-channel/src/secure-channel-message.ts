/**
 * The plaintext of every data-phase frame (PROTOCOL.md §3.3, Ockam's `message.rs`): a CBOR
 * `SecureChannelPaddedMessage` `[message, padding bstr]` where message is one of
 * - `Payload`            `[0, [[onward Route, return Route, payload bstr]]]`
 * - `RefreshCredentials` `[1, [[ChangeHistory, [CredentialAndPurposeKey…]]]]`
 * - `Close`              `[2, []]`
 *
 * Padding is written empty (as Ockam does) and ignored on read. Identity and credential
 * structures are carried as their CBOR encoding (validated as well-formed CBOR of the right
 * major type) and left for `@ockam/identity` to verify.
 *
 * @example
 * ```ts
 * import { Route, toHex } from '@ockam/core';
 * import { encodeSecureChannelMessage } from '@ockam/secure-channel/codec';
 * toHex(encodeSecureChannelMessage({ kind: 'close' })); // '8282028040'
 * ```
 */
import {
  CborReader,
  CborWriter,
  concatBytes,
  DecodeError,
  type Route,
  readCborRoute,
  writeCborRoute,
} from '@ockam/core';

export interface PayloadMessage {
  readonly kind: 'payload';
  readonly onwardRoute: Route;
  readonly returnRoute: Route;
  readonly payload: Uint8Array;
}

export interface RefreshCredentialsMessage {
  readonly kind: 'refresh-credentials';
  /** The sender's change history, as CBOR (the bytes of an exported identity). */
  readonly changeHistory: Uint8Array;
  /** Each `CredentialAndPurposeKey`, as CBOR. */
  readonly credentials: readonly Uint8Array[];
}

export interface CloseMessage {
  readonly kind: 'close';
}

export type SecureChannelMessage = PayloadMessage | RefreshCredentialsMessage | CloseMessage;

const PAYLOAD = 0;
const REFRESH_CREDENTIALS = 1;
const CLOSE = 2;
const WHAT = 'secure channel message';

/** The empty padding that ends every message we encode: a zero-length byte string. */
const EMPTY_PADDING = Uint8Array.of(0x40);
/** Parts up to this size are copied into the head by `encodePayloadMessageParts`. */
const SMALL_PART = 64;

/**
 * A `Payload` message as parts whose concatenation is its encoding: the CBOR up to and including
 * the payload's byte-string head, the payload's own parts (not copied), and the empty padding.
 * The encryptor encrypts them without assembling the plaintext. Given `scratch`, the head is
 * written there (after a reset) instead of into a new writer: the caller must consume the parts
 * before it uses `scratch` again.
 */
export function encodePayloadMessageParts(
  onwardRoute: Route,
  returnRoute: Route,
  payload: readonly Uint8Array[],
  scratch?: CborWriter,
): Uint8Array[] {
  const w = scratch?.reset() ?? new CborWriter(128);
  w.array(2).array(2).uint(PAYLOAD).array(1).array(3);
  writeCborRoute(w, onwardRoute);
  writeCborRoute(w, returnRoute);
  let length = 0;
  for (const part of payload) length += part.length;
  w.bytesHead(length);
  // Small leading parts (a portal message's head) join the CBOR head: one cipher call fewer each.
  let i = 0;
  while (i < payload.length && payload[i]!.length <= SMALL_PART) w.raw(payload[i++]!);
  const parts = [w.finishView()];
  for (; i < payload.length; i++) parts.push(payload[i]!);
  parts.push(EMPTY_PADDING);
  return parts;
}

/** Encodes a message with empty padding. */
export function encodeSecureChannelMessage(message: SecureChannelMessage, writer?: CborWriter): Uint8Array {
  switch (message.kind) {
    case 'payload': {
      if (writer === undefined) {
        // Sized exactly: the head, then one copy of the payload, then the padding.
        return concatBytes(
          ...encodePayloadMessageParts(message.onwardRoute, message.returnRoute, [message.payload]),
        );
      }
      const w = writer;
      w.array(2).array(2).uint(PAYLOAD).array(1).array(3);
      writeCborRoute(w, message.onwardRoute);
      writeCborRoute(w, message.returnRoute);
      w.bytes(message.payload);
      return w.bytes(EMPTY).finish();
    }
    case 'refresh-credentials': {
      const w = writer ?? new CborWriter(message.changeHistory.length + 64);
      w.array(2).array(2).uint(REFRESH_CREDENTIALS).array(1).array(2).raw(message.changeHistory);
      w.array(message.credentials.length);
      for (const c of message.credentials) w.raw(c);
      return w.bytes(EMPTY).finish();
    }
    case 'close':
      return (writer ?? new CborWriter(8)).array(2).array(2).uint(CLOSE).array(0).bytes(EMPTY).finish();
  }
}

const EMPTY = new Uint8Array(0);

/** Reads one CBOR item that must be of `type`, returning its encoding (a view into the input). */
function rawOf(r: CborReader, type: 'array', name: string): Uint8Array {
  const t = r.peekType();
  if (t !== type) r.fail(`${name} must be a CBOR ${type}, found ${t ?? 'nothing'}`);
  return r.rawItem();
}

/**
 * Decodes strictly: known structure, no trailing bytes, unknown extra struct fields skipped (as
 * minicbor does). Byte strings in the result are views into `bytes`.
 */
export function decodeSecureChannelMessage(bytes: Uint8Array): SecureChannelMessage {
  const r = new CborReader(bytes, WHAT);
  const outer = r.array();
  if (outer < 2) r.fail(`padded message must have 2 fields, found ${outer}`);
  r.arrayOf(2, 2, 'message enum');
  const variant = r.uint();
  let message: SecureChannelMessage;
  switch (variant) {
    case PAYLOAD: {
      const fields = r.array();
      if (fields < 1) r.fail('Payload variant has no fields');
      const n = r.array();
      if (n < 3) r.fail(`Payload must have 3 fields, found ${n}`);
      const onwardRoute = readCborRoute(r);
      const returnRoute = readCborRoute(r);
      const payload = r.bytes();
      r.skipRest(n - 3);
      r.skipRest(fields - 1);
      message = { kind: 'payload', onwardRoute, returnRoute, payload };
      break;
    }
    case REFRESH_CREDENTIALS: {
      const fields = r.array();
      if (fields < 1) r.fail('RefreshCredentials variant has no fields');
      const n = r.array();
      if (n < 2) r.fail(`RefreshCredentials must have 2 fields, found ${n}`);
      const changeHistory = rawOf(r, 'array', 'change history');
      const count = r.array();
      const credentials: Uint8Array[] = [];
      for (let i = 0; i < count; i++) credentials.push(rawOf(r, 'array', 'credential'));
      r.skipRest(n - 2);
      r.skipRest(fields - 1);
      message = { kind: 'refresh-credentials', changeHistory, credentials };
      break;
    }
    case CLOSE: {
      r.skip();
      message = { kind: 'close' };
      break;
    }
    default:
      throw new DecodeError(WHAT, `unknown message variant ${variant}`);
  }
  if (r.peekType() !== 'bytes') r.fail('padding must be a byte string');
  r.bytes();
  r.skipRest(outer - 2);
  r.end();
  return message;
}

/**
 * Constants of Ockam's BLE transport (PROTOCOL.md §2.3, `ockam_transport_ble/src/driver/mod.rs`).
 *
 * @example
 * ```ts
 * import { characteristicValueLength, DEFAULT_MTU } from '@ockam/transport-ble';
 * characteristicValueLength(DEFAULT_MTU); // 18 bytes of message per fragment
 * ```
 */

/** The minimum ATT MTU of the BLE specification, and the one Ockam Rust uses. */
export const DEFAULT_MTU = 23;
/** Bytes of each write taken by packet fields: a fragment carries `MTU − 5` bytes of message. */
export const FRAGMENT_OVERHEAD = 5;
/** Longest legacy transport message sent or accepted (`MAX_OCKAM_MESSAGE_LENGTH`). */
export const MAX_OCKAM_MESSAGE_LENGTH = 1024;
/** Ockam Rust refuses any declared length above `2 << 16` whatever its buffer. */
export const MAX_DECLARED_LENGTH = 2 << 16;
/** Each message starts with its length as a big-endian u64, in a write of its own. */
export const LENGTH_HEADER_BYTES = 8;
/** The ATT header of a write or notification: a value can be at most `MTU − 3` bytes. */
export const ATT_HEADER_BYTES = 3;
/** Largest ATT MTU a link may negotiate (BLE 4.2+ allows up to 517; 512-byte values). */
export const MAX_MTU = 517;

/** `CHARACTERISTIC_VALUE_LENGTH`: bytes of message per fragment at a given ATT MTU. */
export function characteristicValueLength(mtu: number): number {
  return mtu - FRAGMENT_OVERHEAD;
}

/** Ockam's GATT UUIDs: UUIDv5 names under OID 1.3.214.9.4 (iso.identified-organization.ockam.transport.ble). */
export const OCKAM_BLE_SERVICE_UUID = '424c001f-48f6-5fff-bc3e-84e00c335dbb';
/** The characteristic the peripheral notifies on (its messages to the central). */
export const OCKAM_BLE_READ_UUID = 'bc911b36-320c-5d3f-90ed-842a6e57cefb';
/** The characteristic the central writes to (its messages to the peripheral). */
export const OCKAM_BLE_WRITE_UUID = '18c90ff2-8d94-5f20-8084-c16ae3f6a9a2';

/**
 * `@ockam/transport-ble`: Ockam's BLE transport (PROTOCOL.md §2.3), transport type 4 — legacy BARE
 * transport messages of at most 1024 bytes, each sent as an 8-byte length and MTU − 5 byte
 * fragments over Ockam's GATT service — on a `BleAdapter`: the in-memory `SimulatedRadio`, or
 * real radios through the optional `@abandonware/noble` / `@abandonware/bleno` (`nobleAdapter`).
 *
 * @example
 * ```ts
 * import { Node } from '@ockam/core';
 * import { BleTransport, SimulatedRadio } from '@ockam/transport-ble';
 * const radio = new SimulatedRadio();
 * const node = new Node();
 * node.registerTransport(new BleTransport(node, radio.adapter()));
 * ```
 */
export type {
  BleAdapter,
  BleAdvertisement,
  BleConnectOptions as BleAdapterConnectOptions,
  BleLink,
  BleRole,
} from './ble-adapter.js';
export type {
  BleCloseCause,
  BleCloseInfo,
  BleConnection,
  BleConnectionStats,
  BleListener,
} from './ble-connection.js';
export {
  type BleConnectOptions,
  BleTransport,
  type BleTransportEvents,
  type BleTransportOptions,
  DEFAULT_BLE_CONNECT_TIMEOUT_MS,
} from './ble-transport.js';
export {
  ATT_HEADER_BYTES,
  characteristicValueLength,
  DEFAULT_MTU,
  FRAGMENT_OVERHEAD,
  LENGTH_HEADER_BYTES,
  MAX_DECLARED_LENGTH,
  MAX_MTU,
  MAX_OCKAM_MESSAGE_LENGTH,
  OCKAM_BLE_READ_UUID,
  OCKAM_BLE_SERVICE_UUID,
  OCKAM_BLE_WRITE_UUID,
} from './constants.js';
export { BleTransportError } from './errors.js';
export {
  type BleDropReason,
  decodeBleMessage,
  encodeBleMessage,
  encodeLengthHeader,
  fragmentPacket,
  maxWriteLength,
  PacketReassembler,
  type PacketReassemblerOptions,
} from './framing.js';
export { BLENO_PACKAGE, NOBLE_PACKAGE, nobleAdapter } from './noble-adapter.js';
export {
  SimulatedRadio,
  type SimulatedRadioOptions,
  type SimulatedRadioStats,
} from './simulated-radio.js';

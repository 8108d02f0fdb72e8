/**
 * What the BLE transport needs from a Bluetooth stack: the two GATT roles of Ockam's BLE service
 * (PROTOCOL.md §2.3) reduced to links that carry characteristic values both ways.
 *
 * - A **central** scans for a peripheral advertising the Ockam service under a name, connects,
 *   subscribes to notifications of the read characteristic (`bc911b36-…`) and writes to the write
 *   characteristic (`18c90ff2-…`).
 * - A **peripheral** advertises the Ockam service (`424c001f-…`) under a name; each central that
 *   connects becomes a link on which it notifies the read characteristic and receives writes.
 *
 * Implementations: `SimulatedRadio` (in memory, for tests) and `nobleAdapter()` (the optional
 * `@abandonware/noble` / `@abandonware/bleno` libraries, loaded only when used).
 *
 * @example
 * ```ts
 * import { SimulatedRadio } from '@ockam/transport-ble';
 * const radio = new SimulatedRadio({ mtu: 23 });
 * const peripheral = radio.adapter();
 * await peripheral.advertise('ockam_ble_1', (link) => link.onValue((v) => console.log(v)));
 * const link = await radio.adapter().connect('ockam_ble_1');
 * await link.write(new Uint8Array([1, 2, 3]));
 * ```
 */

export type BleRole = 'central' | 'peripheral';

export interface BleLink {
  /** The other device: its advertised name (as a central sees it) or its address. */
  readonly peer: string;
  /** Our role on this link. */
  readonly role: BleRole;
  /** The negotiated ATT MTU: a write carries at most `mtu − 3` bytes. */
  readonly mtu: number;
  /** Whether the link is still connected. */
  readonly connected: boolean;
  /**
   * Sends one characteristic value: a write (central) or a notification (peripheral). Resolves when
   * the stack has taken it; rejects if the link is down or the value is longer than `mtu − 3`.
   */
  write(value: Uint8Array): Promise<void>;
  /** Subscribes to values from the peer, in order; returns a function that unsubscribes. */
  onValue(listener: (value: Uint8Array) => void): () => void;
  /** Subscribes to the link going down (once); returns a function that unsubscribes. */
  onDisconnect(listener: (reason: string) => void): () => void;
  /** Disconnects; resolves when the link is down. */
  disconnect(): Promise<void>;
}

export interface BleAdvertisement {
  /** The advertised local name. */
  readonly name: string;
  /** Stops advertising; links already connected stay up. */
  stop(): Promise<void>;
}

export interface BleConnectOptions {
  signal?: AbortSignal;
  /** How long to scan and connect before giving up. */
  timeoutMs?: number;
}

export interface BleAdapter {
  /** Central role: finds the peripheral advertising the Ockam service as `name` and connects to it. */
  connect(name: string, options?: BleConnectOptions): Promise<BleLink>;
  /** Peripheral role: advertises the Ockam service as `name`; `onLink` receives each central that connects. */
  advertise(
    name: string,
    onLink: (link: BleLink) => void,
    options?: { signal?: AbortSignal },
  ): Promise<BleAdvertisement>;
  /** Releases the radio (advertisements, links, timers). */
  close(): Promise<void>;
}

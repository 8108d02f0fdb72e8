/**
 * A `BleAdapter` on a real Bluetooth controller, through the optional packages
 * `@abandonware/noble` (central role) and `@abandonware/bleno` (peripheral role). Neither is a
 * dependency of this package: both build native code when installed (node-gyp; on Linux they need
 * a C++ toolchain, `libudev-dev`, `libbluetooth-dev` and raw HCI socket permissions). Each is
 * imported only when its role is first used, and a missing one is reported as an `unsupported`
 * `BleTransportError` that says what to install.
 *
 * NOT TESTED ON HARDWARE: this adapter was written against the two libraries' published type
 * declarations and has only been type-checked; see the README.
 *
 * @example
 * ```ts
 * import { Node } from '@ockam/core';
 * import { BleTransport, nobleAdapter } from '@ockam/transport-ble';
 * const node = new Node();
 * const ble = new BleTransport(node, nobleAdapter());
 * node.registerTransport(ble);
 * await ble.listen('ockam_ble_1'); // needs @abandonware/bleno
 * ```
 */
import type { BleAdapter, BleAdvertisement, BleConnectOptions, BleLink, BleRole } from './ble-adapter.js';
import {
  DEFAULT_MTU,
  OCKAM_BLE_READ_UUID,
  OCKAM_BLE_SERVICE_UUID,
  OCKAM_BLE_WRITE_UUID,
} from './constants.js';
import { BleTransportError } from './errors.js';
import { maxWriteLength } from './framing.js';

export const NOBLE_PACKAGE = '@abandonware/noble';
export const BLENO_PACKAGE = '@abandonware/bleno';

/** Noble and bleno write UUIDs as 32 lowercase hex digits. */
const compact = (uuid: string): string => uuid.replace(/-/g, '').toLowerCase();

// The parts of the libraries' APIs used here, declared locally so that this file compiles without them.
interface Emitter {
  on(event: string, listener: (...args: never[]) => void): unknown;
  once(event: string, listener: (...args: never[]) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
}
interface NobleCharacteristic extends Emitter {
  uuid: string;
  writeAsync(data: Buffer, withoutResponse: boolean): Promise<void>;
  subscribeAsync(): Promise<void>;
}
interface NoblePeripheral extends Emitter {
  id: string;
  mtu: number | null;
  advertisement: { localName?: string };
  connectAsync(): Promise<void>;
  disconnectAsync(): Promise<void>;
  discoverSomeServicesAndCharacteristicsAsync(
    services: string[],
    characteristics: string[],
  ): Promise<{ characteristics: NobleCharacteristic[] }>;
}
interface Noble extends Emitter {
  state: string;
  startScanningAsync(services?: string[], allowDuplicates?: boolean): Promise<void>;
  stopScanningAsync(): Promise<void>;
}
interface BlenoCharacteristicOptions {
  uuid: string;
  properties: string[];
  onSubscribe?: (maxValueSize: number, update: (data: Buffer) => void) => void;
  onUnsubscribe?: () => void;
  onWriteRequest?: (
    data: Buffer,
    offset: number,
    withoutResponse: boolean,
    callback: (result: number) => void,
  ) => void;
}
interface Bleno extends Emitter {
  state: string;
  mtu: number;
  Characteristic: (new (options: BlenoCharacteristicOptions) => object) & { RESULT_SUCCESS: number };
  PrimaryService: new (options: { uuid: string; characteristics: object[] }) => object;
  startAdvertising(name: string, services: string[], callback: (error?: Error | null) => void): void;
  stopAdvertising(callback?: () => void): void;
  setServices(services: object[], callback: (error?: Error | null) => void): void;
  disconnect(): void;
}

async function load<T>(name: string, role: string): Promise<T> {
  try {
    const mod = (await import(name)) as { default?: T };
    return (mod.default ?? mod) as T;
  } catch (e) {
    throw new BleTransportError(
      'unsupported',
      `The BLE ${role} role needs the optional package ${name}, which is not installed or did not build: ` +
        `install it next to @ockam/transport-ble (it compiles native code: a C++ toolchain, libudev-dev and libbluetooth-dev on Linux)`,
      { cause: e },
    );
  }
}

function poweredOn(radio: { state: string } & Emitter, signal?: AbortSignal): Promise<void> {
  if (radio.state === 'poweredOn') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onState = (state: string): void => {
      if (state !== 'poweredOn') return;
      radio.removeListener('stateChange', onState as never);
      signal?.removeEventListener('abort', onAbort);
      resolve();
    };
    const onAbort = (): void => {
      radio.removeListener('stateChange', onState as never);
      reject(
        new BleTransportError('cancelled', 'Waiting for the Bluetooth adapter cancelled', {
          cause: signal?.reason,
        }),
      );
    };
    radio.on('stateChange', onState as never);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A link over one noble peripheral or the single central bleno serves. */
class HardwareLink implements BleLink {
  readonly peer: string;
  readonly role: BleRole;
  #mtu: () => number;
  #send: (value: Uint8Array) => Promise<void>;
  #disconnect: () => Promise<void>;
  #connected = true;
  readonly #values = new Set<(value: Uint8Array) => void>();
  readonly #downs = new Set<(reason: string) => void>();

  constructor(
    peer: string,
    role: BleRole,
    mtu: () => number,
    send: (value: Uint8Array) => Promise<void>,
    disconnect: () => Promise<void>,
  ) {
    this.peer = peer;
    this.role = role;
    this.#mtu = mtu;
    this.#send = send;
    this.#disconnect = disconnect;
  }

  get mtu(): number {
    return this.#mtu();
  }

  get connected(): boolean {
    return this.#connected;
  }

  write(value: Uint8Array): Promise<void> {
    if (!this.#connected)
      return Promise.reject(new BleTransportError('io', `BLE link to '${this.peer}' is disconnected`));
    if (value.length > maxWriteLength(this.mtu))
      return Promise.reject(
        new BleTransportError('invalid', `BLE value of ${value.length} bytes exceeds MTU ${this.mtu} − 3`),
      );
    return this.#send(value);
  }

  deliver(value: Uint8Array): void {
    if (this.#connected) for (const l of this.#values) l(value);
  }

  down(reason: string): void {
    if (!this.#connected) return;
    this.#connected = false;
    const downs = [...this.#downs];
    this.#downs.clear();
    this.#values.clear();
    for (const l of downs) l(reason);
  }

  onValue(listener: (value: Uint8Array) => void): () => void {
    this.#values.add(listener);
    return () => this.#values.delete(listener);
  }

  onDisconnect(listener: (reason: string) => void): () => void {
    this.#downs.add(listener);
    return () => this.#downs.delete(listener);
  }

  async disconnect(): Promise<void> {
    if (!this.#connected) return;
    await this.#disconnect();
    this.down('disconnected locally');
  }
}

/** The real-radio adapter; the libraries load on first use of each role. */
export function nobleAdapter(): BleAdapter {
  const links = new Set<HardwareLink>();
  const adverts = new Set<BleAdvertisement>();

  async function connect(name: string, options: BleConnectOptions = {}): Promise<BleLink> {
    const noble = await load<Noble>(NOBLE_PACKAGE, 'central');
    await poweredOn(noble, options.signal);
    const peripheral = await new Promise<NoblePeripheral>((resolve, reject) => {
      const onDiscover = (p: NoblePeripheral): void => {
        if (p.advertisement.localName !== name) return;
        cleanup();
        resolve(p);
      };
      const onAbort = (): void => {
        cleanup();
        reject(
          new BleTransportError('cancelled', `Scanning for '${name}' cancelled`, {
            cause: options.signal?.reason,
          }),
        );
      };
      const cleanup = (): void => {
        noble.removeListener('discover', onDiscover as never);
        options.signal?.removeEventListener('abort', onAbort);
        void noble.stopScanningAsync().catch(() => {});
      };
      noble.on('discover', onDiscover as never);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      noble.startScanningAsync([compact(OCKAM_BLE_SERVICE_UUID)], false).catch((e: unknown) => {
        cleanup();
        reject(new BleTransportError('io', `Cannot scan for '${name}'`, { cause: e }));
      });
    });
    await peripheral.connectAsync();
    const { characteristics } = await peripheral.discoverSomeServicesAndCharacteristicsAsync(
      [compact(OCKAM_BLE_SERVICE_UUID)],
      [compact(OCKAM_BLE_READ_UUID), compact(OCKAM_BLE_WRITE_UUID)],
    );
    const read = characteristics.find((c) => c.uuid === compact(OCKAM_BLE_READ_UUID));
    const write = characteristics.find((c) => c.uuid === compact(OCKAM_BLE_WRITE_UUID));
    if (read === undefined || write === undefined) {
      await peripheral.disconnectAsync().catch(() => {});
      throw new BleTransportError('not-found', `'${name}' does not offer the Ockam BLE characteristics`);
    }
    const link = new HardwareLink(
      name,
      'central',
      () => peripheral.mtu ?? DEFAULT_MTU,
      (value) => write.writeAsync(Buffer.from(value), true),
      () => peripheral.disconnectAsync(),
    );
    read.on('data', ((data: Buffer) => link.deliver(new Uint8Array(data))) as never);
    peripheral.once('disconnect', (() => {
      links.delete(link);
      link.down('disconnected by peer');
    }) as never);
    await read.subscribeAsync();
    links.add(link);
    return link;
  }

  async function advertise(
    name: string,
    onLink: (link: BleLink) => void,
    options: { signal?: AbortSignal } = {},
  ): Promise<BleAdvertisement> {
    const bleno = await load<Bleno>(BLENO_PACKAGE, 'peripheral');
    await poweredOn(bleno, options.signal);
    // bleno serves one central at a time: one link, replaced when a new central is accepted.
    let link: HardwareLink | undefined;
    let notify: ((data: Buffer) => void) | undefined;
    const characteristics = [
      new bleno.Characteristic({
        uuid: compact(OCKAM_BLE_READ_UUID),
        properties: ['read', 'notify'],
        onSubscribe: (_max, update) => {
          notify = update;
        },
        onUnsubscribe: () => {
          notify = undefined;
        },
      }),
      new bleno.Characteristic({
        uuid: compact(OCKAM_BLE_WRITE_UUID),
        properties: ['write', 'writeWithoutResponse'],
        onWriteRequest: (data, _offset, _withoutResponse, callback) => {
          link?.deliver(new Uint8Array(data));
          callback(bleno.Characteristic.RESULT_SUCCESS);
        },
      }),
    ];
    const onAccept = (address: string): void => {
      link?.down('replaced by a new central');
      const current = new HardwareLink(
        address,
        'peripheral',
        () => bleno.mtu || DEFAULT_MTU,
        async (value) => {
          if (notify === undefined)
            throw new BleTransportError('io', 'The central has not subscribed to notifications');
          notify(Buffer.from(value));
        },
        async () => bleno.disconnect(),
      );
      link = current;
      links.add(current);
      onLink(current);
    };
    const onDisconnect = (): void => {
      if (link) links.delete(link);
      link?.down('disconnected by peer');
      link = undefined;
    };
    bleno.on('accept', onAccept as never);
    bleno.on('disconnect', onDisconnect as never);
    await new Promise<void>((resolve, reject) =>
      bleno.startAdvertising(name, [compact(OCKAM_BLE_SERVICE_UUID)], (e) =>
        e ? reject(new BleTransportError('io', `Cannot advertise '${name}'`, { cause: e })) : resolve(),
      ),
    );
    await new Promise<void>((resolve, reject) =>
      bleno.setServices(
        [new bleno.PrimaryService({ uuid: compact(OCKAM_BLE_SERVICE_UUID), characteristics })],
        (e) =>
          e
            ? reject(new BleTransportError('io', 'Cannot register the Ockam GATT service', { cause: e }))
            : resolve(),
      ),
    );
    const advert: BleAdvertisement = {
      name,
      stop: async () => {
        adverts.delete(advert);
        bleno.removeListener('accept', onAccept as never);
        await new Promise<void>((resolve) => bleno.stopAdvertising(() => resolve()));
      },
    };
    adverts.add(advert);
    return advert;
  }

  return {
    connect,
    advertise,
    async close() {
      await Promise.all([...adverts].map((a) => a.stop()));
      await Promise.all([...links].map((l) => l.disconnect().catch(() => {})));
    },
  };
}

/**
 * An in-memory BLE radio for tests and demos: devices (`radio.adapter()`) advertise and connect by
 * name, and each link carries characteristic values both ways with a configurable ATT MTU, delay
 * and loss.
 *
 * Like a write without response, a value that is lost is lost: nothing is retransmitted, and the
 * sender is not told. The BLE transport has no retransmission of its own either, so a lost
 * fragment makes its whole message fail (the reassembler drops it and resynchronises on the next
 * length); a request over a lossy link times out. Values on one link arrive in order.
 *
 * @example
 * ```ts
 * import { SimulatedRadio } from '@ockam/transport-ble';
 * const radio = new SimulatedRadio({ mtu: 185, delayMs: 2, lossRate: 0.01, seed: 42 });
 * const gateway = radio.adapter();     // a device; `adapter({ mtu })` caps its own MTU
 * const sensor = radio.adapter({ mtu: 23 });
 * // links between them negotiate min(185, 23) = 23
 * await radio.close();
 * ```
 */

import type { BleAdapter, BleAdvertisement, BleConnectOptions, BleLink, BleRole } from './ble-adapter.js';
import { DEFAULT_MTU, MAX_MTU } from './constants.js';
import { BleTransportError } from './errors.js';
import { maxWriteLength } from './framing.js';

export interface SimulatedRadioOptions {
  /** The ATT MTU links negotiate at most (default 23). */
  mtu?: number;
  /** Delay before a value reaches the peer, in ms (default 0: the next macrotask). */
  delayMs?: number;
  /** Probability in [0, 1] that a value is lost (default 0). */
  lossRate?: number;
  /** Seed of the loss generator, for reproducible runs (default: Math.random). */
  seed?: number;
}

export interface SimulatedRadioStats {
  /** Values written on every link. */
  readonly writes: number;
  readonly delivered: number;
  readonly lost: number;
}

interface Advertiser {
  readonly device: SimulatedDevice;
  readonly onLink: (link: BleLink) => void;
}

export class SimulatedRadio {
  readonly mtu: number;
  readonly delayMs: number;
  readonly lossRate: number;
  readonly #random: () => number;
  readonly #advertisers = new Map<string, Advertiser>();
  readonly #devices = new Set<SimulatedDevice>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #writes = 0;
  #delivered = 0;
  #lost = 0;
  #closed = false;

  constructor(options: SimulatedRadioOptions = {}) {
    this.mtu = checkMtu(options.mtu ?? DEFAULT_MTU);
    this.delayMs = options.delayMs ?? 0;
    this.lossRate = options.lossRate ?? 0;
    if (!(this.delayMs >= 0)) throw new RangeError(`delayMs must be ≥ 0, got ${this.delayMs}`);
    if (!(this.lossRate >= 0 && this.lossRate <= 1))
      throw new RangeError(`lossRate must be in [0, 1], got ${this.lossRate}`);
    this.#random = options.seed === undefined ? Math.random : mulberry32(options.seed);
  }

  /** A new device on this radio; `mtu` caps the MTU of its own links. */
  adapter(options: { mtu?: number } = {}): BleAdapter {
    if (this.#closed) throw new BleTransportError('shutdown', 'The simulated radio is closed');
    const device = new SimulatedDevice(this, checkMtu(options.mtu ?? MAX_MTU));
    this.#devices.add(device);
    return device;
  }

  get stats(): SimulatedRadioStats {
    return { writes: this.#writes, delivered: this.#delivered, lost: this.#lost };
  }

  /** Disconnects every link, stops every advertisement and clears every pending delivery. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await Promise.all([...this.#devices].map((d) => d.close()));
  }

  /** @internal */
  advertise(name: string, advertiser: Advertiser): void {
    if (this.#advertisers.has(name))
      throw new BleTransportError('already-exists', `A device already advertises '${name}' on this radio`);
    this.#advertisers.set(name, advertiser);
  }

  /** @internal */
  unadvertise(name: string, device: SimulatedDevice): void {
    if (this.#advertisers.get(name)?.device === device) this.#advertisers.delete(name);
  }

  /** @internal */
  forget(device: SimulatedDevice): void {
    this.#devices.delete(device);
  }

  /** @internal: connects `central` to whoever advertises `name`. */
  connect(central: SimulatedDevice, name: string): SimulatedLink {
    if (this.#closed) throw new BleTransportError('shutdown', 'The simulated radio is closed');
    const advertiser = this.#advertisers.get(name);
    if (advertiser === undefined)
      throw new BleTransportError('not-found', `No BLE peripheral advertises the Ockam service as '${name}'`);
    const mtu = Math.min(this.mtu, central.mtu, advertiser.device.mtu);
    const ours = new SimulatedLink(this, central, name, 'central', mtu);
    const theirs = new SimulatedLink(this, advertiser.device, central.name, 'peripheral', mtu);
    ours.pair(theirs);
    theirs.pair(ours);
    central.add(ours);
    advertiser.device.add(theirs);
    advertiser.onLink(theirs);
    return ours;
  }

  /** @internal: carries one value, maybe losing it; resolves when it was delivered or lost. */
  transmit(to: SimulatedLink, value: Uint8Array): Promise<void> {
    this.#writes++;
    const copy = value.slice();
    const lost = this.lossRate > 0 && this.#random() < this.lossRate;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        if (lost) this.#lost++;
        else if (to.receive(copy)) this.#delivered++;
        resolve();
      }, this.delayMs);
      this.#timers.add(timer);
    });
  }
}

class SimulatedDevice implements BleAdapter {
  readonly radio: SimulatedRadio;
  readonly mtu: number;
  readonly name = `sim-${Math.random().toString(16).slice(2, 10)}`;
  readonly #links = new Set<SimulatedLink>();
  readonly #advertising = new Set<string>();

  constructor(radio: SimulatedRadio, mtu: number) {
    this.radio = radio;
    this.mtu = mtu;
  }

  async connect(name: string, options: BleConnectOptions = {}): Promise<BleLink> {
    if (options.signal?.aborted)
      throw new BleTransportError('cancelled', `Connecting to '${name}' cancelled`, {
        cause: options.signal.reason,
      });
    return this.radio.connect(this, name);
  }

  async advertise(name: string, onLink: (link: BleLink) => void): Promise<BleAdvertisement> {
    this.radio.advertise(name, { device: this, onLink });
    this.#advertising.add(name);
    return {
      name,
      stop: async () => {
        this.#advertising.delete(name);
        this.radio.unadvertise(name, this);
      },
    };
  }

  add(link: SimulatedLink): void {
    this.#links.add(link);
  }

  remove(link: SimulatedLink): void {
    this.#links.delete(link);
  }

  async close(): Promise<void> {
    for (const name of this.#advertising) this.radio.unadvertise(name, this);
    this.#advertising.clear();
    await Promise.all([...this.#links].map((l) => l.disconnect()));
    this.radio.forget(this);
  }
}

class SimulatedLink implements BleLink {
  readonly peer: string;
  readonly role: BleRole;
  readonly mtu: number;
  readonly #radio: SimulatedRadio;
  readonly #device: SimulatedDevice;
  #other: SimulatedLink | undefined;
  #connected = true;
  readonly #valueListeners = new Set<(value: Uint8Array) => void>();
  readonly #disconnectListeners = new Set<(reason: string) => void>();

  constructor(radio: SimulatedRadio, device: SimulatedDevice, peer: string, role: BleRole, mtu: number) {
    this.#radio = radio;
    this.#device = device;
    this.peer = peer;
    this.role = role;
    this.mtu = mtu;
  }

  pair(other: SimulatedLink): void {
    this.#other = other;
  }

  get connected(): boolean {
    return this.#connected;
  }

  write(value: Uint8Array): Promise<void> {
    if (!this.#connected || this.#other === undefined)
      return Promise.reject(new BleTransportError('io', `BLE link to '${this.peer}' is disconnected`));
    const max = maxWriteLength(this.mtu);
    if (value.length > max)
      return Promise.reject(
        new BleTransportError(
          'invalid',
          `BLE value of ${value.length} bytes exceeds MTU ${this.mtu} − 3 = ${max}`,
        ),
      );
    return this.#radio.transmit(this.#other, value);
  }

  /** Delivers a value from the peer; false if this end is gone. */
  receive(value: Uint8Array): boolean {
    if (!this.#connected) return false;
    for (const l of this.#valueListeners) l(value);
    return true;
  }

  onValue(listener: (value: Uint8Array) => void): () => void {
    this.#valueListeners.add(listener);
    return () => this.#valueListeners.delete(listener);
  }

  onDisconnect(listener: (reason: string) => void): () => void {
    this.#disconnectListeners.add(listener);
    return () => this.#disconnectListeners.delete(listener);
  }

  async disconnect(): Promise<void> {
    this.#down('disconnected locally');
    this.#other?.lost('disconnected by peer');
  }

  /** The peer went away. */
  lost(reason: string): void {
    this.#down(reason);
  }

  #down(reason: string): void {
    if (!this.#connected) return;
    this.#connected = false;
    this.#device.remove(this);
    const listeners = [...this.#disconnectListeners];
    this.#disconnectListeners.clear();
    this.#valueListeners.clear();
    for (const l of listeners) l(reason);
  }
}

function checkMtu(mtu: number): number {
  if (!Number.isInteger(mtu) || mtu < DEFAULT_MTU || mtu > MAX_MTU)
    throw new RangeError(`BLE MTU must be an integer in ${DEFAULT_MTU}..${MAX_MTU}, got ${mtu}`);
  return mtu;
}

/** A small seeded PRNG (mulberry32), so that lossy runs can be replayed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

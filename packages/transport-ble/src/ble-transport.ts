/**
 * The BLE transport of a node (PROTOCOL.md §2.3), transport type 4, over any `BleAdapter`:
 * advertising (peripheral role) as a listener, connecting (central role) to a peripheral by name,
 * and resolution of `4#<name>` route hops into the local address of a connection's sender.
 *
 * Flow control as for TCP (§1.5): a listener is a spawner and every central it accepts gets a
 * receiver that is a producer spawned by it; an outgoing connection's receiver has a fresh id, and
 * whoever sends through it may receive its replies.
 *
 * @example
 * ```ts
 * import { Node, startEcho } from '@ockam/core';
 * import { BleTransport, SimulatedRadio } from '@ockam/transport-ble';
 * const radio = new SimulatedRadio({ mtu: 23 });
 * const server = new Node({ name: 'server' });
 * const serverBle = new BleTransport(server, radio.adapter());
 * server.registerTransport(serverBle);
 * const listener = await serverBle.listen('ockam_ble_1');
 * startEcho(server);
 * server.flowControls.addConsumer('echo', listener.flowControlId);
 * const client = new Node({ name: 'client' });
 * client.registerTransport(new BleTransport(client, radio.adapter()));
 * const reply = await client.client().request(['4#ockam_ble_1', 'echo'], new Uint8Array([1]));
 * ```
 */
import {
  type Address,
  type AdoptedInit,
  type AdoptSource,
  BLE,
  CancelledError,
  type ErrorKind,
  errorMessage,
  type InboundLimitsOptions,
  type Logger,
  type Node,
  type StreamConnectOptions,
  StreamTransport,
  type StreamTransportEvents,
} from '@ockam/core';
import type { BleAdapter, BleAdvertisement, BleLink } from './ble-adapter.js';
import type { BleCloseInfo, BleConnection, BleListener } from './ble-connection.js';
import { BleTransportError } from './errors.js';
import { Connection } from './internal/connection.js';
import { Listener } from './internal/listener.js';

export const DEFAULT_BLE_CONNECT_TIMEOUT_MS = 30_000;

export interface BleTransportOptions {
  logger?: Logger;
  /** How long `connect` scans and connects (default 30 000 ms). */
  connectTimeoutMs?: number;
  /**
   * What centrals may hold (core's `InboundLimits`): links per listener (`maxConnections`, 1024,
   * though a radio takes far fewer) and, for a central that connected, a first message within
   * `firstMessageTimeoutMs` (120 s). The rest does not apply: a link holds at most one 1 KiB
   * packet and 64 queued messages, and an unfinished packet is dropped by the next length, so it
   * is never timed out (a lossy radio leaves them).
   */
  limits?: Pick<InboundLimitsOptions, 'maxConnections' | 'firstMessageTimeoutMs'>;
  /** Close a link that sees no traffic for this long (default: never). */
  idleTimeoutMs?: number;
}

/** `exposeTo` (multi-hop routes), `timeoutMs` (default: the transport's), `signal`. */
export type BleConnectOptions = StreamConnectOptions;

/** `connection`: a link was opened or accepted; `close`: a link closed (`info.reason` says why). */
export type BleTransportEvents = StreamTransportEvents<BleConnection, BleCloseInfo>;

export class BleTransport extends StreamTransport<
  BleConnection,
  BleListener,
  BleCloseInfo,
  Connection,
  Listener
> {
  readonly type = BLE;
  readonly adapter: BleAdapter;
  readonly #connectTimeoutMs: number;
  readonly #idleTimeoutMs: number | undefined;

  constructor(node: Node, adapter: BleAdapter, options: BleTransportOptions = {}) {
    super(node, {
      transport: 'ble',
      label: 'BLE',
      logger: options.logger,
      limits: { ...options.limits, frameTimeoutMs: 0, handshakeTimeoutMs: 0 },
    });
    this.adapter = adapter;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_BLE_CONNECT_TIMEOUT_MS;
    this.#idleTimeoutMs = options.idleTimeoutMs;
    if (!(this.#connectTimeoutMs > 0))
      throw new RangeError(`connectTimeoutMs must be > 0, got ${this.#connectTimeoutMs}`);
  }

  /**
   * Advertises the Ockam service as `name` (peripheral role). Centrals reach this node at
   * `4#<name>`; expose services to them with `node.flowControls.addConsumer(service, listener.flowControlId)`.
   */
  async listen(name: string, options: { signal?: AbortSignal } = {}): Promise<BleListener> {
    this.checkRunning();
    checkName(name);
    const listener = this.openListener((init) => new Listener(init, name));
    let advertisement: BleAdvertisement;
    try {
      advertisement = await this.adapter.advertise(
        name,
        (link) => {
          if (!listener.isOpen || this.stopping) {
            void link.disconnect().catch(() => {});
            return;
          }
          this.#accept(listener, link);
        },
        options,
      );
    } catch (e) {
      await listener.close();
      throw e;
    }
    listener.started(advertisement);
    if (this.stopping) {
      await listener.close();
      throw this.stoppedError();
    }
    this.logger.info('ble listener started', { name, flowControlId: listener.flowControlId });
    return listener;
  }

  /** Connects to the peripheral advertising `name` (central role). */
  async connect(name: string, options: BleConnectOptions = {}): Promise<BleConnection> {
    this.checkRunning();
    checkName(name);
    return this.connectShared(name, () => this.#open(name, options));
  }

  protected dialTarget(address: Address): { key: string; open: () => Promise<Connection> } {
    const name = address.value;
    checkName(name);
    return { key: name, open: () => this.#open(name, {}) };
  }

  protected transportError(kind: ErrorKind, message: string, options?: { cause?: unknown }): Error {
    return new BleTransportError(kind, message, options);
  }

  async #open(name: string, options: BleConnectOptions): Promise<Connection> {
    const timeoutMs = options.timeoutMs ?? this.#connectTimeoutMs;
    const link = await withTimeout(
      (signal) => this.adapter.connect(name, { signal, timeoutMs }),
      timeoutMs,
      options.signal,
      `Cannot connect to BLE peripheral '${name}': no connection within ${timeoutMs} ms`,
      `Connecting to '${name}' cancelled`,
      (late) => void late.disconnect().catch(() => {}),
    );
    if (this.stopping) {
      await link.disconnect().catch(() => {});
      throw this.stoppedError();
    }
    const connection = this.#adopt(link, { exposeTo: options.exposeTo });
    this.logger.info('ble connection opened', {
      peer: name,
      mtu: link.mtu,
      sender: connection.senderAddress.value,
    });
    return connection;
  }

  #accept(listener: Listener, link: BleLink): void {
    if (!this.guard.admit(listener.connectionCount, link.peer)) {
      void link.disconnect().catch(() => {});
      return;
    }
    try {
      const connection = this.#adopt(link, { listener });
      this.logger.debug('ble connection accepted', {
        peer: connection.peer,
        listener: listener.name,
        mtu: link.mtu,
      });
    } catch (e) {
      this.logger.warn('ble connection refused', { peer: link.peer, reason: errorMessage(e) });
      void link.disconnect().catch(() => {});
    }
  }

  /** A central we connected to is `outgoing`; one that connected to our listener, `incoming`. */
  #adopt(link: BleLink, from: AdoptSource<Listener>): Connection {
    const make = (init: AdoptedInit<BleCloseInfo>): Connection =>
      new Connection({ ...init, link, idleTimeoutMs: this.#idleTimeoutMs });
    return this.adopt(link.peer, make, from);
  }
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > 248)
    throw new BleTransportError(
      'invalid',
      `Invalid BLE device name '${String(name)}': expected 1-248 characters`,
    );
}

/** Runs `start` with a signal that aborts on timeout or when `outer` aborts. */
async function withTimeout<T>(
  start: (signal: AbortSignal) => Promise<T>,
  timeoutMs: number,
  outer: AbortSignal | undefined,
  timeoutMessage: string,
  cancelMessage: string,
  discardLate: (late: T) => void,
): Promise<T> {
  if (outer?.aborted) throw new CancelledError(cancelMessage, 'transport', { cause: outer.reason });
  const ac = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const started = start(ac.signal);
  try {
    return await Promise.race([
      started,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          ac.abort();
          reject(new BleTransportError('timeout', timeoutMessage));
        }, timeoutMs);
        if (outer) {
          onAbort = () => {
            ac.abort();
            reject(new CancelledError(cancelMessage, 'transport', { cause: outer.reason }));
          };
          outer.addEventListener('abort', onAbort, { once: true });
        }
      }),
    ]);
  } catch (e) {
    // An adapter that ignores the signal may still connect: do not leak that link.
    started.then(discardLate, () => {});
    throw e;
  } finally {
    clearTimeout(timer);
    if (onAbort) outer?.removeEventListener('abort', onAbort);
  }
}

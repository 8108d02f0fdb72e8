/**
 * A route hop that prefers a UDP puncture and falls back to a relayed route (PROTOCOL.md §2.2
 * step 5: inlets with `--udp`, TCP fallback unless `--no-tcp-fallback`).
 *
 * The helper is a worker at `address`. A message sent to `[address, …rest]` goes on as
 * `[puncture.senderAddress, …rest]` while a puncture is open, else as `[…relayRoute, …rest]`
 * (or is dropped and counted with `fallback: false`). In the background it asks `punch()` for a
 * puncture; when one closes or cannot be made, it switches to the relay and tries again every
 * `retryMs`, switching back as soon as a new puncture opens. Both paths must lead to the same
 * node, so that a secure channel through the helper survives every switch: its peer follows the
 * return route of the newest frame.
 *
 * Flow control: every puncture the helper makes gets `helper.flowControlId` as its spawner id, so
 * one `addConsumer(x, helper.flowControlId)` (or `consumerOf` of a channel) covers all of them.
 *
 * Punctures made for the helper push the helper's address (not their own sender) onto the return
 * routes of what they deliver, so a secure channel initiator that learns its route from the
 * handshake keeps sending through the helper. A channel whose handshake went over the relay
 * learns the relay's route instead and stays on it: open channels once `mode` is `'puncture'`,
 * or through the relay knowingly.
 *
 * @example
 * ```ts
 * const path = await createPunctureFallback(node, {
 *   relayRoute: [tcpSender, 'forward_to_b'],
 *   punch: (request) => negotiatePuncture(udp, { ...request, route: [relayedChannel.encryptorAddress, 'udp'], rendezvousRoute: rendezvous, consumerOf: [relayedChannel.flowControlId] }),
 * });
 * const channel = await createSecureChannel(node, [path.address, 'api'], { …, consumerOf: [path.flowControlId, tcpFlowControlId] });
 * ```
 */
import {
  Address,
  type AddressLike,
  type FlowControlId,
  type Logger,
  type Node,
  type Route,
  type RouteLike,
  toAddress,
} from '@ockam/core';
import { errorMessage } from './internal/bind.js';
import type { UdpPuncture } from './puncture.js';
import type { PunctureRequest } from './puncture-negotiation.js';

export type PunctureFallbackMode = 'puncture' | 'relay' | 'none';

export interface PunctureFallbackOptions {
  /** The relayed route to the peer's node (resolved when the helper starts). */
  relayRoute: RouteLike;
  /**
   * Makes a puncture, typically `negotiatePuncture(udp, { ...request, route, rendezvousRoute })`.
   * Pass every field of `request` on: the spawner id (flow control) and the return address (so
   * that what comes back through the puncture is answered through this helper).
   */
  punch: (request: Required<PunctureRequest>) => Promise<UdpPuncture>;
  /** How long a new puncture may take to open (default 10 000 ms). */
  openTimeoutMs?: number;
  /** Pause between attempts after a failure or a closed puncture (default 10 000 ms). */
  retryMs?: number;
  /** Use the relay while there is no puncture (default true); false drops those messages. */
  fallback?: boolean;
  address?: AddressLike;
  logger?: Logger;
}

export interface PunctureFallbackStats {
  viaPuncture: number;
  viaRelay: number;
  /** Messages dropped: no puncture and `fallback: false`. */
  dropped: number;
  /** Punctures opened and attempts that failed. */
  punctures: number;
  failures: number;
}

export class PunctureFallback {
  readonly address: Address;
  /** Spawner id of every puncture this helper makes. */
  readonly flowControlId: FlowControlId;
  readonly relayRoute: Route;

  readonly #node: Node;
  readonly #options: PunctureFallbackOptions;
  readonly #logger: Logger;
  readonly #stats: PunctureFallbackStats = {
    viaPuncture: 0,
    viaRelay: 0,
    dropped: 0,
    punctures: 0,
    failures: 0,
  };
  readonly #listeners = new Set<(mode: PunctureFallbackMode) => void>();
  #puncture: UdpPuncture | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #abort = new AbortController();
  #attempt: Promise<void> | undefined;
  #stopped = false;

  constructor(node: Node, relayRoute: Route, options: PunctureFallbackOptions) {
    this.#node = node;
    this.#options = options;
    this.#logger = options.logger ?? node.logger;
    this.relayRoute = relayRoute;
    this.address =
      options.address === undefined ? Address.random('udp_fallback_') : toAddress(options.address);
    this.flowControlId = node.flowControls.generateId();
    node.startWorker(this.address, {
      handleMessage: (ctx, routed) => {
        const { message } = routed;
        const rest = message.onwardRoute.popFront();
        const p = this.#puncture;
        if (p?.isOpen) {
          this.#stats.viaPuncture++;
          return ctx.forward(message.withOnward(rest.prepend(p.senderAddress)));
        }
        if (this.#options.fallback === false) {
          this.#stats.dropped++;
          return;
        }
        this.#stats.viaRelay++;
        return ctx.forward(message.withOnward(this.relayRoute.concat(rest)));
      },
    });
    this.#start();
  }

  /** Which path messages take now. */
  get mode(): PunctureFallbackMode {
    if (this.#puncture?.isOpen) return 'puncture';
    return this.#options.fallback === false ? 'none' : 'relay';
  }

  /** The open puncture in use, if any. */
  get puncture(): UdpPuncture | undefined {
    return this.#puncture?.isOpen ? this.#puncture : undefined;
  }

  stats(): PunctureFallbackStats {
    return { ...this.#stats };
  }

  /** Called with the new mode on every switch; returns a function that unsubscribes. */
  onSwitch(listener: (mode: PunctureFallbackMode) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops trying, closes the current puncture, stops the worker. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#abort.abort(new Error('puncture fallback stopped'));
    await this.#attempt;
    await this.#puncture?.stop();
    this.#puncture = undefined;
    await this.#node.stopWorker(this.address);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #switched(): void {
    const mode = this.mode;
    this.#logger.info('udp fallback path switched', { address: this.address.value, mode });
    for (const l of this.#listeners) {
      try {
        l(mode);
      } catch (e) {
        this.#logger.warn('udp fallback listener threw', { error: errorMessage(e) });
      }
    }
  }

  #start(): void {
    this.#timer = undefined;
    if (this.#stopped) return;
    this.#attempt = this.#try().finally(() => {
      this.#attempt = undefined;
    });
  }

  #retryLater(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => this.#start(), this.#options.retryMs ?? 10_000);
  }

  async #try(): Promise<void> {
    const signal = this.#abort.signal;
    let p: UdpPuncture | undefined;
    try {
      p = await this.#options.punch({
        spawnerFlowControlId: this.flowControlId,
        returnAddress: this.address,
        signal,
      });
      await p.waitForOpen({ timeoutMs: this.#options.openTimeoutMs ?? 10_000, signal });
    } catch (e) {
      await p?.stop();
      if (this.#stopped) return;
      this.#stats.failures++;
      this.#logger.warn('udp puncture failed; using the relay', { reason: errorMessage(e) });
      this.#retryLater();
      return;
    }
    if (this.#stopped) {
      await p.stop();
      return;
    }
    const opened = p;
    this.#puncture = opened;
    this.#stats.punctures++;
    this.#switched();
    void opened.closed.then(() => {
      if (this.#puncture !== opened) return;
      this.#puncture = undefined;
      if (this.#stopped) return;
      this.#switched();
      this.#retryLater();
    });
  }
}

/** Resolves `relayRoute` and starts the helper (see `PunctureFallback`). */
export async function createPunctureFallback(
  node: Node,
  options: PunctureFallbackOptions,
): Promise<PunctureFallback> {
  const relay = await node.resolveRoute(options.relayRoute);
  return new PunctureFallback(node, relay, options);
}

/**
 * What the peers of a transport may hold before they have proven anything (DESIGN.md decision
 * 10), in one place for the TCP and WebSocket transports (and BLE, for its connection count):
 *
 * - **connections per listener** (`maxConnections`): one more is closed as soon as it is accepted;
 * - **bytes held for peers** (`maxBufferedBytes`): what a connection has received and not yet
 *   routed, above all an unfinished frame (up to 16 MiB, Ockam's `MAX_MESSAGE_SIZE`), is charged
 *   beyond a small per-connection allowance (`connectionAllowanceBytes`, one network read of
 *   small messages) to one budget shared by every connection of the transport; a connection that
 *   cannot get budget is closed. Each network read held is charged `READ_OVERHEAD_BYTES` besides
 *   its bytes, so a peer that trickles its frame in tiny reads pays for what they really cost;
 * - **slow peers**: the protocol's opening (TCP's version byte) must arrive within
 *   `handshakeTimeoutMs`, and each frame, once started, must be complete within `frameTimeoutMs`
 *   of waiting for the peer (time the node itself spends busy or paused does not count);
 * - **silent peers**: a connection a listener accepted must deliver a message within
 *   `firstMessageTimeoutMs`. Once it has, it may stay idle as long as it likes, as in Ockam
 *   (relay registrations ping every 10 s, but a portal or a secure channel may be quiet for
 *   hours), and an outgoing connection is never timed out for silence.
 *
 * What a peer causes is logged through a `LogLimiter`: one line per reason per minute, not one per
 * connection. Memory held for peers is then at most, per transport,
 * `maxBufferedBytes + connections × connectionAllowanceBytes` (128 MiB with the defaults and 1024
 * connections), besides the sockets themselves.
 *
 * @example
 * ```ts
 * import { InboundGuard, noopLogger } from '@ockam/core';
 * const guard = new InboundGuard({ transport: 'tcp', logger: noopLogger, limits: { maxConnections: 2 } });
 * guard.admit(2, '10.0.0.1:5555'); // false: the listener is full (logged once, counted)
 * const watch = guard.watch({ peer: '10.0.0.2:5555', inbound: true, handshake: true, onLimit: (i) => console.log(i.reason) });
 * watch.handshakeDone();
 * watch.hold(70_000, 2); // true while the shared budget has room
 * watch.release();
 * ```
 */
import { LogLimiter } from './log-limiter.js';
import type { Logger } from './logger.js';

/** Connections one listener holds before it closes new ones at once: 1024. */
export const DEFAULT_MAX_CONNECTIONS = 1024;
/**
 * Bytes held for peers, beyond each connection's allowance, by all connections of a transport
 * together: 64 MiB (four 16 MiB frames at once).
 */
export const DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024 * 1024;
/** Bytes a connection may hold without drawing on the shared budget: 64 KiB, one network read. */
export const DEFAULT_CONNECTION_ALLOWANCE_BYTES = 64 * 1024;
/** Time from accept (or connect) to the end of the protocol's opening handshake: 10 s. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/**
 * Time a started frame may take to arrive: 60 s (a 16 MiB frame needs 2.3 Mbit/s). Only time spent
 * waiting for the peer counts.
 */
export const DEFAULT_FRAME_TIMEOUT_MS = 60_000;
/**
 * Time an accepted connection may stay open without delivering a message: 120 s, as long as SSH
 * gives a client to log in, and as long as Ockam gives a secure channel to be created.
 */
export const DEFAULT_FIRST_MESSAGE_TIMEOUT_MS = 120_000;
/**
 * What one network read held in memory costs beyond its bytes (its buffer object and allocation):
 * measured at about 0.9 KiB of RSS per 1-byte read on Node.js 22.
 */
export const READ_OVERHEAD_BYTES = 1024;

export interface InboundLimits {
  /** Connections per listener (default `DEFAULT_MAX_CONNECTIONS`). */
  readonly maxConnections: number;
  /** The shared budget of the transport, in bytes (default `DEFAULT_MAX_BUFFERED_BYTES`). */
  readonly maxBufferedBytes: number;
  /** Bytes each connection holds outside the budget (default `DEFAULT_CONNECTION_ALLOWANCE_BYTES`). */
  readonly connectionAllowanceBytes: number;
  /** Opening handshake, ms; 0 turns it off (default `DEFAULT_HANDSHAKE_TIMEOUT_MS`). */
  readonly handshakeTimeoutMs: number;
  /** One frame, ms of waiting for the peer; 0 turns it off (default `DEFAULT_FRAME_TIMEOUT_MS`). */
  readonly frameTimeoutMs: number;
  /** First message on an accepted connection, ms; 0 turns it off (default `DEFAULT_FIRST_MESSAGE_TIMEOUT_MS`). */
  readonly firstMessageTimeoutMs: number;
}

/** Any of the limits; the others keep their defaults. */
export type InboundLimitsOptions = Partial<InboundLimits>;

/** The limits with defaults filled in; throws a `RangeError` naming a value out of range. */
export function inboundLimits(options: InboundLimitsOptions = {}): InboundLimits {
  const limits: InboundLimits = {
    maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    maxBufferedBytes: options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
    connectionAllowanceBytes: options.connectionAllowanceBytes ?? DEFAULT_CONNECTION_ALLOWANCE_BYTES,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    frameTimeoutMs: options.frameTimeoutMs ?? DEFAULT_FRAME_TIMEOUT_MS,
    firstMessageTimeoutMs: options.firstMessageTimeoutMs ?? DEFAULT_FIRST_MESSAGE_TIMEOUT_MS,
  };
  for (const [name, value] of Object.entries(limits)) {
    const min = name === 'maxConnections' ? 1 : 0;
    if (!Number.isSafeInteger(value) || value < min)
      throw new RangeError(`${name} must be an integer ≥ ${min}, got ${value}`);
  }
  return Object.freeze(limits);
}

/** The limit that closed or refused a connection. */
export type InboundLimitName =
  | 'max-connections'
  | 'buffer-budget'
  | 'handshake-timeout'
  | 'frame-timeout'
  | 'first-message-timeout';

export interface InboundLimitInfo {
  readonly limit: InboundLimitName;
  /** A sentence for logs and close reasons. */
  readonly reason: string;
}

export interface InboundStats {
  /** Bytes charged to the shared budget now. */
  readonly budgetedBytes: number;
  /** Connections refused because their listener was full. */
  readonly refused: number;
  /** Connections closed by each limit. */
  readonly closed: Readonly<Record<ClosingLimit, number>>;
}

type ClosingLimit = Exclude<InboundLimitName, 'max-connections'>;

export interface InboundGuardOptions {
  readonly limits?: InboundLimitsOptions;
  readonly logger: Logger;
  /** Names the transport in log lines: `tcp` logs `tcp connection refused`. */
  readonly transport: string;
}

export interface InboundWatchOptions {
  /** `host:port` (or a device name) for log lines. */
  readonly peer: string;
  /** Accepted by a listener: it must deliver a message within `firstMessageTimeoutMs`. */
  readonly inbound: boolean;
  /** The opening handshake is still to come (TCP's version byte): `handshakeDone()` ends it. */
  readonly handshake: boolean;
  /**
   * Called once, when a limit is hit: the connection must close. The guard has already logged
   * why (rate-limited); the connection should not log it again.
   */
  readonly onLimit: (info: InboundLimitInfo) => void;
}

/**
 * One transport's limits, its shared budget, its counters and its rate-limited log. A listener
 * asks `admit` before it adopts a connection; each connection gets a `watch`.
 */
export class InboundGuard {
  readonly limits: InboundLimits;
  /** One line per reason per interval, for everything a peer can cause (refusals, closes). */
  readonly log: LogLimiter;
  readonly #transport: string;
  #budgeted = 0;
  #refused = 0;
  readonly #closed: Record<ClosingLimit, number> = {
    'buffer-budget': 0,
    'handshake-timeout': 0,
    'frame-timeout': 0,
    'first-message-timeout': 0,
  };

  constructor(options: InboundGuardOptions) {
    this.limits = inboundLimits(options.limits);
    this.log = new LogLimiter(options.logger);
    this.#transport = options.transport;
  }

  /**
   * Whether a listener that holds `open` connections may take one more. If not, the refusal is
   * counted and logged (once per interval) and the caller closes the new connection at once.
   */
  admit(open: number, peer: string): boolean {
    if (open < this.limits.maxConnections) return true;
    this.report(peer, 'max-connections');
    return false;
  }

  /**
   * Counts and logs (once per interval) a connection refused or closed by `limit`. Watches report
   * through it; so does a server that enforces a limit itself (a WebSocket upgrade's timeout).
   */
  report(peer: string, limit: InboundLimitName): InboundLimitInfo {
    const info: InboundLimitInfo = { limit, reason: this.#reason(limit) };
    if (limit === 'max-connections') this.#refused++;
    else this.#closed[limit]++;
    const verb = limit === 'max-connections' ? 'refused' : 'closed';
    this.log.warn(limit, `${this.#transport} connection ${verb}`, { peer, limit, reason: info.reason });
    return info;
  }

  /** Starts watching one connection; `release()` it when the connection closes. */
  watch(options: InboundWatchOptions): InboundWatch {
    return new InboundWatch(this.limits, options, {
      take: (n) => {
        if (n > 0 && this.#budgeted + n > this.limits.maxBufferedBytes) return false;
        this.#budgeted += n;
        return true;
      },
      report: (peer, limit) => this.report(peer, limit),
    });
  }

  stats(): InboundStats {
    return { budgetedBytes: this.#budgeted, refused: this.#refused, closed: { ...this.#closed } };
  }

  #reason(limit: InboundLimitName): string {
    const l = this.limits;
    switch (limit) {
      case 'max-connections':
        return `the listener already has ${l.maxConnections} connections (maxConnections)`;
      case 'buffer-budget':
        return `the ${l.maxBufferedBytes}-byte budget for what peers send is spent (maxBufferedBytes)`;
      case 'handshake-timeout':
        return `no protocol handshake within ${l.handshakeTimeoutMs} ms (handshakeTimeoutMs)`;
      case 'frame-timeout':
        return `a frame was not complete within ${l.frameTimeoutMs} ms (frameTimeoutMs)`;
      case 'first-message-timeout':
        return `no message within ${l.firstMessageTimeoutMs} ms of accepting the connection (firstMessageTimeoutMs)`;
    }
  }
}

/** What a watch needs from its guard. */
interface GuardLink {
  /** Charges `n` more bytes (or gives back −n); false, charging nothing, if they do not fit. */
  take(n: number): boolean;
  /** Counts and logs a limit hit. */
  report(peer: string, limit: InboundLimitName): InboundLimitInfo;
}

type Timer = ReturnType<typeof setTimeout>;

/**
 * The limits of one connection: its charge to the shared budget and its timers. The connection
 * tells it what happens (bytes held, handshake done, a frame started or finished, a message
 * delivered); the watch calls `onLimit` once if a limit is hit.
 */
export class InboundWatch {
  readonly #limits: InboundLimits;
  readonly #options: InboundWatchOptions;
  readonly #guard: GuardLink;
  /** Bytes charged to the shared budget (what the connection holds beyond its allowance). */
  #charged = 0;
  #done = false;
  #handshakeTimer: Timer | undefined;
  #firstMessageTimer: Timer | undefined;
  #frameTimer: Timer | undefined;
  /** Whether a frame is unfinished, and how long the peer has been waited for on it. */
  #frameOpen = false;
  #frameWaited = 0;
  /** When the current stretch of waiting for the peer began (undefined: not waiting). */
  #waitingSince: number | undefined;

  /** @internal Made by `InboundGuard.watch`. */
  constructor(limits: InboundLimits, options: InboundWatchOptions, guard: GuardLink) {
    this.#limits = limits;
    this.#options = options;
    this.#guard = guard;
    if (options.handshake && limits.handshakeTimeoutMs > 0)
      this.#handshakeTimer = after(limits.handshakeTimeoutMs, () => this.#hit('handshake-timeout'));
    if (options.inbound && limits.firstMessageTimeoutMs > 0)
      this.#firstMessageTimer = after(limits.firstMessageTimeoutMs, this.#onFirstMessageTimer);
  }

  /**
   * Sets what the connection holds now: `bytes` in `reads` network reads (or messages). Returns
   * false if that does not fit in the allowance and the shared budget; the limit is then hit and
   * the connection is being closed.
   */
  hold(bytes: number, reads: number): boolean {
    if (this.#done) return false;
    const cost = bytes + reads * READ_OVERHEAD_BYTES;
    const charge = Math.max(0, cost - this.#limits.connectionAllowanceBytes);
    if (charge === this.#charged) return true;
    if (!this.#guard.take(charge - this.#charged)) {
      this.#hit('buffer-budget');
      return false;
    }
    this.#charged = charge;
    return true;
  }

  /** The opening handshake is complete (TCP: the peer's version byte arrived). */
  handshakeDone(): void {
    clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
  }

  /** The peer delivered a message: it may now stay idle. */
  delivered(): void {
    if (this.#firstMessageTimer === undefined) return;
    clearTimeout(this.#firstMessageTimer);
    this.#firstMessageTimer = undefined;
  }

  /**
   * The connection looked at what it holds and now waits for the peer: `unfinished` says whether
   * part of a frame is there. The frame's clock starts with its first stretch of waiting.
   */
  frameProgress(unfinished: boolean): void {
    if (!unfinished) {
      this.frameDone();
      return;
    }
    if (this.#done || this.#limits.frameTimeoutMs === 0) return;
    this.#frameOpen = true;
    this.#waitingSince ??= now();
    this.#armFrameTimer();
  }

  /** A frame is complete: the next one gets a clock of its own. */
  frameDone(): void {
    this.#frameOpen = false;
    this.#frameWaited = 0;
    this.#waitingSince = undefined;
  }

  /** The node is busy with what the peer sent, or has paused reading: the frame's clock stops. */
  busy(): void {
    if (this.#waitingSince === undefined) return;
    this.#frameWaited += now() - this.#waitingSince;
    this.#waitingSince = undefined;
  }

  /** Gives back the budget and stops the timers: the connection is closing. Idempotent. */
  release(): void {
    if (this.#done) return;
    this.#done = true;
    this.#stop();
  }

  #stop(): void {
    this.#guard.take(-this.#charged);
    this.#charged = 0;
    clearTimeout(this.#handshakeTimer);
    clearTimeout(this.#firstMessageTimer);
    clearTimeout(this.#frameTimer);
    this.#handshakeTimer = this.#firstMessageTimer = this.#frameTimer = undefined;
  }

  #armFrameTimer(): void {
    if (this.#frameTimer !== undefined || this.#waitingSince === undefined) return;
    const left = this.#limits.frameTimeoutMs - this.#frameWaited - (now() - this.#waitingSince);
    this.#frameTimer = after(Math.max(0, left), this.#onFrameTimer);
  }

  readonly #onFrameTimer = (): void => {
    this.#frameTimer = undefined;
    // Not waiting for the peer (busy, paused, or no frame): the next `frameProgress` re-arms.
    if (this.#done || !this.#frameOpen || this.#waitingSince === undefined) return;
    const waited = this.#frameWaited + (now() - this.#waitingSince);
    if (waited < this.#limits.frameTimeoutMs) this.#armFrameTimer();
    else this.#hit('frame-timeout');
  };

  readonly #onFirstMessageTimer = (): void => {
    this.#firstMessageTimer = undefined;
    if (this.#done) return;
    // A first message still arriving is the frame clock's to judge; look again after it.
    if (this.#frameOpen) {
      const again = this.#limits.frameTimeoutMs || this.#limits.firstMessageTimeoutMs;
      this.#firstMessageTimer = after(again, this.#onFirstMessageTimer);
      return;
    }
    this.#hit('first-message-timeout');
  };

  #hit(limit: InboundLimitName): void {
    if (this.#done) return;
    this.#done = true;
    this.#stop();
    this.#options.onLimit(this.#guard.report(this.#options.peer, limit));
  }
}

function now(): number {
  return performance.now();
}

/** A timer that does not keep a Node.js process alive on its own. */
function after(ms: number, f: () => void): Timer {
  const t = setTimeout(f, ms);
  (t as { unref?: () => void }).unref?.();
  return t;
}

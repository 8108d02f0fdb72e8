/**
 * The channels a listener holds open: how many each connection (the transport connection or
 * channel its msg1 came out of) has, for the listener's caps, and how long each has carried
 * nothing, for its idle timeout.
 *
 * Activity is a counter the channel bumps per frame (cheaper than reading a clock on the data
 * path); a sweep every quarter of the idle timeout (at most every minute) notes which counters
 * moved. A channel is closed once its counter has not moved for `idleTimeoutMs` since a sweep saw
 * it move, so it is never closed before that long after its last frame, and at most one sweep
 * interval later.
 *
 * The sweep timer runs while there are channels, whether or not their listener still accepts new
 * ones: a listener's stop leaves its channels up, and they still time out.
 */

export interface OpenChannelLimits {
  readonly max: number;
  readonly maxPerConnection: number;
  readonly idleTimeoutMs: number;
  readonly now?: () => number;
}

/** What the listener tells about each channel it hands over. */
export interface TrackedChannel {
  /** The connection its msg1 came out of. */
  readonly origin: string;
  /** Frames carried so far; any change counts as activity. */
  readonly activity: () => number;
  /** Closes the channel (sending Close to the peer); the listener then calls `delete`. */
  readonly close: () => Promise<void>;
}

interface Entry extends TrackedChannel {
  seen: number;
  since: number;
  closing: boolean;
}

/** The longest time between two sweeps (1 minute), however long the idle timeout. */
const MAX_SWEEP_INTERVAL_MS = 60_000;

export class OpenChannels<C> {
  readonly #limits: OpenChannelLimits;
  readonly #now: () => number;
  readonly #onIdle: (channel: C, idleMs: number) => void;
  readonly #entries = new Map<C, Entry>();
  readonly #byOrigin = new Map<string, number>();
  readonly #sweepMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #sweeping = false;

  constructor(limits: OpenChannelLimits, onIdle: (channel: C, idleMs: number) => void) {
    for (const [name, v] of [
      ['maxChannels', limits.max],
      ['maxChannelsPerConnection', limits.maxPerConnection],
      ['idleTimeoutMs', limits.idleTimeoutMs],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < 1)
        throw new RangeError(`${name} must be a whole number ≥ 1, not ${v}`);
    }
    this.#limits = limits;
    // A monotonic clock: a wall clock set forward must not close every channel at once.
    this.#now = limits.now ?? (() => performance.now());
    this.#onIdle = onIdle;
    this.#sweepMs = Math.min(Math.max(Math.ceil(limits.idleTimeoutMs / 4), 10), MAX_SWEEP_INTERVAL_MS);
  }

  get limits(): OpenChannelLimits {
    return this.#limits;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Channels open from `origin`. */
  countOf(origin: string): number {
    return this.#byOrigin.get(origin) ?? 0;
  }

  add(channel: C, tracked: TrackedChannel): void {
    if (this.#entries.has(channel)) return;
    this.#entries.set(channel, { ...tracked, seen: tracked.activity(), since: this.#now(), closing: false });
    this.#byOrigin.set(tracked.origin, this.countOf(tracked.origin) + 1);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => void this.sweep(), this.#sweepMs);
      // Idle channels are not worth keeping a process alive for.
      this.#timer.unref?.();
    }
  }

  delete(channel: C): void {
    const entry = this.#entries.get(channel);
    if (entry === undefined) return;
    this.#entries.delete(channel);
    const left = this.countOf(entry.origin) - 1;
    if (left > 0) this.#byOrigin.set(entry.origin, left);
    else this.#byOrigin.delete(entry.origin);
    if (this.#entries.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /**
   * Closes every channel that has carried nothing for the idle timeout, one after the other (a
   * close encrypts a frame and stops two workers: thousands at once would hold the event loop).
   */
  async sweep(): Promise<void> {
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      const now = this.#now();
      const idle: [C, Entry][] = [];
      for (const [channel, entry] of this.#entries) {
        if (entry.closing) continue;
        const activity = entry.activity();
        if (activity !== entry.seen) {
          entry.seen = activity;
          entry.since = now;
        } else if (now - entry.since >= this.#limits.idleTimeoutMs) {
          idle.push([channel, entry]);
        }
      }
      for (const [channel, entry] of idle) {
        // It may have carried a frame since the scan, while earlier ones were being closed.
        if (entry.activity() !== entry.seen || !this.#entries.has(channel)) continue;
        entry.closing = true;
        this.#onIdle(channel, now - entry.since);
        await entry.close().catch(() => {});
      }
    } finally {
      this.#sweeping = false;
    }
  }
}

/**
 * Admission of msg1 by a listener: how many responders may be unfinished at once, in total and
 * per connection (the transport connection or channel a msg1 came out of).
 *
 * A slot is taken when a responder starts and given back when its channel opens. A handshake
 * that fails keeps its slot until the deadline it would have timed out at: failing fast (a
 * garbage msg3 right after msg2) must not buy a peer more responders per second than never
 * answering does, so the work a listener does for unauthenticated peers is at most
 * `max` responders per `timeoutMs`, and `maxPerConnection` for one connection.
 *
 * When every slot is taken, a msg1 from a connection that holds fewer slots than the busiest one
 * evicts the busiest one's oldest handshake: one flooding connection cannot keep the others out.
 */

export interface PendingLimits {
  readonly max: number;
  readonly maxPerConnection: number;
  /** How long a slot lives at most (the responder's handshake timeout). */
  readonly timeoutMs: number;
  readonly now?: () => number;
}

/** One admitted handshake. */
export interface Slot {
  readonly origin: string;
  readonly deadline: number;
  /** Until the handshake failed: its slot then lasts until `deadline`. */
  running: boolean;
  /** Stops the responder holding the slot (used on eviction). */
  stop: (() => void) | undefined;
}

export type Refusal = 'connection' | 'listener';

export class PendingHandshakes {
  readonly #limits: PendingLimits;
  readonly #now: () => number;
  /** Every slot, oldest first (deadlines grow in this order). */
  readonly #all = new Set<Slot>();
  readonly #byOrigin = new Map<string, Set<Slot>>();

  constructor(limits: PendingLimits) {
    for (const [name, v] of [
      ['maxPendingHandshakes', limits.max],
      ['maxPendingHandshakesPerConnection', limits.maxPerConnection],
      ['timeoutMs', limits.timeoutMs],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < 1)
        throw new RangeError(`${name} must be a whole number ≥ 1, not ${v}`);
    }
    this.#limits = limits;
    this.#now = limits.now ?? Date.now;
  }

  get limits(): PendingLimits {
    return this.#limits;
  }

  /** Slots taken (running responders and failed ones before their deadline). */
  get size(): number {
    this.#expire();
    return this.#all.size;
  }

  /** Slots taken by `origin` (its running responders and failed ones before their deadline). */
  countOf(origin: string): number {
    this.#expire();
    return this.#byOrigin.get(origin)?.size ?? 0;
  }

  /** A slot for a msg1 from `origin`, or why there is none. */
  admit(origin: string): Slot | Refusal {
    this.#expire();
    const mine = this.#byOrigin.get(origin)?.size ?? 0;
    if (mine >= this.#limits.maxPerConnection) return 'connection';
    if (this.#all.size >= this.#limits.max) {
      let busiest: Set<Slot> | undefined;
      for (const slots of this.#byOrigin.values())
        if (busiest === undefined || slots.size > busiest.size) busiest = slots;
      // Fair share: only a connection with fewer slots than the busiest one (by two, so that two
      // equally busy connections cannot evict each other back and forth) takes one from it.
      if (busiest === undefined || mine + 1 >= busiest.size) return 'listener';
      const oldest = busiest.values().next().value as Slot;
      this.#remove(oldest);
      if (oldest.running) oldest.stop?.();
    }
    const slot: Slot = {
      origin,
      deadline: this.#now() + this.#limits.timeoutMs,
      running: true,
      stop: undefined,
    };
    this.#all.add(slot);
    let slots = this.#byOrigin.get(origin);
    if (slots === undefined) this.#byOrigin.set(origin, (slots = new Set()));
    slots.add(slot);
    return slot;
  }

  /** The channel opened: the slot is free at once. */
  opened(slot: Slot): void {
    slot.running = false;
    this.#remove(slot);
  }

  /** The handshake failed: the slot stays taken until its deadline. */
  failed(slot: Slot): void {
    slot.running = false;
    this.#expire();
  }

  /** Stops every running responder and forgets every slot. */
  clear(): void {
    const running = [...this.#all];
    this.#all.clear();
    this.#byOrigin.clear();
    for (const slot of running) if (slot.running) slot.stop?.();
  }

  #remove(slot: Slot): void {
    if (!this.#all.delete(slot)) return;
    const slots = this.#byOrigin.get(slot.origin);
    slots?.delete(slot);
    if (slots?.size === 0) this.#byOrigin.delete(slot.origin);
  }

  /** Frees the slots of failed handshakes whose deadline passed. */
  #expire(): void {
    const now = this.#now();
    for (const slot of this.#all) {
      if (slot.deadline > now) break;
      // A responder still running past its deadline frees its slot when its own timer fires.
      if (!slot.running) this.#remove(slot);
    }
  }
}

/**
 * Worker addresses as kinds, for what the node publishes over the network (`/metrics`).
 *
 * A worker's random address is a capability: whoever knows the address of a channel's encryptor, a
 * TCP or WebSocket sender, a portal worker or a relay can name it in a route. So `/metrics` counts
 * messages per kind of worker (`secure_channel`, `tcp_sender`, `outlet_portal`, `relay`, …), never
 * per random address; fixed names that anyone may guess (`echo`, `api`, an outlet's name) stay.
 */

/** `Address.random(prefix)` appends 32 hex digits; secure channels' addresses are only those. */
const RANDOM_PART = /^(.*?)_?[0-9a-f]{16,}/;

/** The kind of the worker at `address` (a LOCAL address value). */
export function workerKind(address: string): string {
  // Relay names are chosen by whoever registers them (or random): never published.
  if (address.startsWith('forward_to_')) return 'relay';
  const random = RANDOM_PART.exec(address);
  if (random !== null) return random[1] === '' ? 'secure_channel' : random[1]!;
  return address;
}

/**
 * Messages delivered per kind of worker, as counters that never go down: workers come and go, so
 * what a stopped worker had received (as of the previous reading) is kept in its kind's total.
 * Messages a worker received after the previous reading and before it stopped are not counted.
 */
export class WorkerMessageTotals {
  /** Each live address's kind and count at the previous reading. */
  #seen = new Map<string, { kind: string; messages: number }>();
  /** Per kind, what workers that have stopped had received. Bounded by the number of kinds. */
  readonly #retired = new Map<string, number>();

  read(counts: ReadonlyArray<{ address: string; messages: number }>): Map<string, number> {
    const now = new Map<string, { kind: string; messages: number }>();
    for (const { address, messages } of counts) now.set(address, { kind: workerKind(address), messages });
    for (const [address, was] of this.#seen) {
      const is = now.get(address);
      // Gone, or a new worker at the same address (its count started again).
      if (is === undefined || is.messages < was.messages)
        this.#retired.set(was.kind, (this.#retired.get(was.kind) ?? 0) + was.messages);
    }
    this.#seen = now;
    const totals = new Map(this.#retired);
    for (const { kind, messages } of now.values()) totals.set(kind, (totals.get(kind) ?? 0) + messages);
    return totals;
  }
}

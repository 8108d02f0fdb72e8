/**
 * A bounded FIFO with back-pressure: `push` succeeds at once while there is room and otherwise
 * returns a promise that resolves once the consumer has taken an item. Memory is bounded by
 * `capacity` queued items plus one parked item per blocked sender.
 */
export class Mailbox<T> {
  readonly capacity: number;
  #items: T[] = [];
  #head = 0;
  #blocked: Array<{ item: T; resolve: () => void }> = [];
  #waiter: ((item: T | undefined) => void) | undefined;
  #closed = false;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`Mailbox capacity must be ≥ 1, got ${capacity}`);
    this.capacity = capacity;
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Enqueues; returns undefined when accepted at once, or a promise that resolves when accepted. */
  push(item: T): Promise<void> | undefined {
    if (this.#closed) return undefined;
    const w = this.#waiter;
    if (w !== undefined) {
      this.#waiter = undefined;
      w(item);
      return undefined;
    }
    if (this.length < this.capacity) {
      this.#items.push(item);
      return undefined;
    }
    return new Promise((resolve) => this.#blocked.push({ item, resolve }));
  }

  #shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head]!;
    this.#items[this.#head] = undefined as T;
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    const b = this.#blocked.shift();
    if (b) {
      this.#items.push(b.item);
      b.resolve();
    }
    return item;
  }

  /** Takes the next item, waiting if empty; undefined once closed and drained. */
  take(): T | undefined | Promise<T | undefined> {
    const item = this.#shift();
    if (item !== undefined) return item;
    if (this.#closed) return undefined;
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  /** Stops accepting; queued and blocked items are dropped and blocked senders released. */
  close(): void {
    this.#closed = true;
    this.#items = [];
    this.#head = 0;
    for (const b of this.#blocked) b.resolve();
    this.#blocked = [];
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.(undefined);
  }
}

/**
 * What the raw peers of the attack tests share: whether the node closed the connection, and a
 * wait for a condition on what came back that wakes as soon as something arrives.
 */
export abstract class WatchedPeer {
  /** Whether the connection is closed (by the node, or by us). */
  closed = false;
  #waiters: Array<() => void> = [];

  /** Waits until `condition()` holds or the connection closes; false after `timeoutMs`. */
  async waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      // Nothing more arrives on a closed connection: the condition cannot change any more.
      if (this.closed) return condition();
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  }

  /** Resolves with true once the connection is closed, false after `timeoutMs`. */
  waitClosed(timeoutMs: number): Promise<boolean> {
    return this.waitFor(() => this.closed, timeoutMs);
  }

  /** Wakes whoever waits: called after anything that may change a condition. */
  protected wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }
}

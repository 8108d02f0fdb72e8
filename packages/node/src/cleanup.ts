/**
 * One stack of disposers: whatever a start step started is pushed right after it started, and
 * `run()` releases everything in reverse order. A start that fails half-way and a `stop()` take
 * the same path, so neither can forget (or repeat) a step.
 *
 * @example
 * ```ts
 * const cleanup = new CleanupStack();
 * try {
 *   const server = await listen();
 *   cleanup.push('server', () => server.close());
 * } catch (e) {
 *   await cleanup.run();
 *   throw e;
 * }
 * ```
 */
import type { Logger } from '@ockam/core';

export class CleanupStack {
  readonly #disposers: Array<{ name: string; dispose: () => unknown }> = [];
  #running: Promise<void> | undefined;

  /** Registers what undoes the step just taken; runs before everything pushed earlier. */
  push(name: string, dispose: () => unknown): void {
    if (this.#running) throw new Error(`Cannot register '${name}': the cleanup stack already ran`);
    this.#disposers.push({ name, dispose });
  }

  /** How many disposers wait (for tests and diagnostics). */
  get size(): number {
    return this.#disposers.length;
  }

  /**
   * Runs every disposer, last pushed first, once. A disposer that throws is logged and the rest
   * still run: one failed release must not leave the others' sockets open.
   */
  run(logger?: Logger): Promise<void> {
    this.#running ??= (async () => {
      for (let d = this.#disposers.pop(); d !== undefined; d = this.#disposers.pop()) {
        try {
          await d.dispose();
        } catch (e) {
          logger?.warn('cleanup step failed', { step: d.name, error: (e as Error).message });
        }
      }
    })();
    return this.#running;
  }
}

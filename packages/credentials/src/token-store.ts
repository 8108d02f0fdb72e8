/**
 * Enrollment tokens (PROTOCOL.md §5.2): a one-time code that turns whoever presents it into a
 * member with the token's attributes, a limited number of times before an expiry.
 */
import type { Awaitable } from '@ockam/core';
import { toHex } from '@ockam/core';

export interface EnrollmentToken {
  /** 32 bytes. */
  readonly oneTimeCode: Uint8Array;
  /** A short random reference for logs (the code itself is never logged). */
  readonly reference: string;
  readonly issuedBy: string;
  /** Unix seconds. */
  readonly createdAt: number;
  /** Unix seconds; the token is unusable from this time on. */
  readonly expiresAt: number;
  /** Uses left. */
  readonly ttlCount: number;
  readonly attributes: ReadonlyMap<string, string>;
}

export interface TokenStore {
  /** Stores a new token (replacing one with the same code). */
  storeToken(token: EnrollmentToken): Awaitable<void>;
  /**
   * Atomically: forgets expired tokens (`expiresAt <= now`), then, if the code names a token,
   * consumes one use (deleting the token at its last) and returns the token as it was.
   */
  useToken(oneTimeCode: Uint8Array, now: number): Awaitable<EnrollmentToken | undefined>;
}

/** A TokenStore in memory. */
export class MemoryTokenStore implements TokenStore {
  readonly #tokens = new Map<string, EnrollmentToken>();

  storeToken(token: EnrollmentToken): void {
    this.#tokens.set(toHex(token.oneTimeCode), token);
  }

  useToken(oneTimeCode: Uint8Array, now: number): EnrollmentToken | undefined {
    for (const [k, t] of this.#tokens) if (t.expiresAt <= now) this.#tokens.delete(k);
    const key = toHex(oneTimeCode);
    const token = this.#tokens.get(key);
    if (token === undefined) return undefined;
    if (token.ttlCount <= 1) this.#tokens.delete(key);
    else this.#tokens.set(key, { ...token, ttlCount: token.ttlCount - 1 });
    return token;
  }

  get size(): number {
    return this.#tokens.size;
  }
}

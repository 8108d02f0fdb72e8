/**
 * The nonces of the `oidc` service (OpenID Connect Core §3.1.2.1, §15.5.2): a fresh random value
 * per login, bound to the identifier of the caller it was issued to, used at most once, valid for
 * `ttlSeconds`. A token is accepted only with a nonce this authority issued to the identity that
 * presents it, so a replayed token, or a token lifted by another identity, is refused. Bounded:
 * a few outstanding nonces per caller (the oldest is dropped) and a total (then new logins wait).
 */
import { randomBytes } from 'node:crypto';
import { OidcRefusal } from './oidc-error.js';

export interface NonceLimits {
  /** Seconds a nonce stays valid (default 600: a device login's usual lifetime). */
  ttlSeconds: number;
  /** Outstanding nonces per caller (default 4). */
  perCaller: number;
  /** Outstanding and recently used nonces in total (default 10 000). */
  total: number;
}

export const DEFAULT_NONCE_LIMITS: NonceLimits = { ttlSeconds: 600, perCaller: 4, total: 10_000 };

interface Entry {
  readonly caller: string;
  readonly expiresAt: number;
  used: boolean;
}

export class NonceBook {
  readonly #limits: NonceLimits;
  readonly #now: () => number;
  /** By nonce, in issue order (so expiry order): used ones stay until they expire, to say "used". */
  readonly #entries = new Map<string, Entry>();
  readonly #outstanding = new Map<string, string[]>();

  constructor(limits: Partial<NonceLimits> = {}, now: () => number = () => Math.floor(Date.now() / 1000)) {
    this.#limits = { ...DEFAULT_NONCE_LIMITS, ...limits };
    this.#now = now;
  }

  /** How many nonces are kept (outstanding or used, unexpired). */
  get size(): number {
    this.#sweep();
    return this.#entries.size;
  }

  /** A fresh nonce for `caller` (256 random bits, base64url). */
  issue(caller: string): { nonce: string; expiresAt: number } {
    this.#sweep();
    const mine = this.#outstanding.get(caller) ?? [];
    while (mine.length >= this.#limits.perCaller) this.#entries.delete(mine.shift()!);
    if (this.#entries.size >= this.#limits.total)
      throw new OidcRefusal('busy', 'too many logins are in progress; try again in a few minutes');
    const nonce = randomBytes(32).toString('base64url');
    const expiresAt = this.#now() + this.#limits.ttlSeconds;
    this.#entries.set(nonce, { caller, expiresAt, used: false });
    mine.push(nonce);
    this.#outstanding.set(caller, mine);
    return { nonce, expiresAt };
  }

  /** Uses `nonce` for `caller`: throws `nonce-unknown` or `nonce-used` unless it is theirs and fresh. */
  consume(caller: string, nonce: string): void {
    this.#sweep();
    const e = this.#entries.get(nonce);
    // Another caller's nonce is "unknown" to this one, and stays usable by its owner.
    if (e === undefined || e.caller !== caller)
      throw new OidcRefusal(
        'nonce-unknown',
        "the token's nonce was not issued to this identity, or it expired",
      );
    if (e.used) throw new OidcRefusal('nonce-used', "the token's nonce was used already (a replayed token)");
    e.used = true;
    this.#forget(caller, nonce);
  }

  #forget(caller: string, nonce: string): void {
    const mine = this.#outstanding.get(caller);
    if (mine === undefined) return;
    const i = mine.indexOf(nonce);
    if (i >= 0) mine.splice(i, 1);
    if (mine.length === 0) this.#outstanding.delete(caller);
  }

  #sweep(): void {
    const now = this.#now();
    for (const [nonce, e] of this.#entries) {
      if (e.expiresAt > now) break;
      this.#entries.delete(nonce);
      if (!e.used) this.#forget(e.caller, nonce);
    }
  }
}

/** At most `limit` requests per caller in each `windowSeconds`; callers tracked are bounded too. */
export class RateLimiter {
  readonly #windows = new Map<string, { start: number; count: number }>();

  constructor(
    readonly limit: number,
    readonly windowSeconds: number,
    readonly maxCallers = 10_000,
    readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  /** Throws `rate-limited` when `caller` used up its window. */
  take(caller: string): void {
    const now = this.now();
    let w = this.#windows.get(caller);
    if (w === undefined || now - w.start >= this.windowSeconds) {
      this.#windows.delete(caller);
      if (this.#windows.size >= this.maxCallers) {
        // Drop the oldest window: insertion order is start order.
        const oldest = this.#windows.keys().next().value;
        if (oldest !== undefined) this.#windows.delete(oldest);
      }
      w = { start: now, count: 0 };
      this.#windows.set(caller, w);
    }
    if (++w.count > this.limit)
      throw new OidcRefusal(
        'rate-limited',
        `more than ${this.limit} requests in ${this.windowSeconds} s; try again later`,
      );
  }
}

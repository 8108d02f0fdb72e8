/**
 * Getting and keeping a fresh credential from an authority (PROTOCOL.md §5.4, Ockam's
 * `RemoteCredentialRetriever`): open a secure channel to the authority (through a function you
 * supply), `POST /` to `credential_issuer`, verify, cache; refresh `proactive_refresh_gap` (60 s)
 * plus `clock_skew_gap` (60 s) before expiry; after a failure, retry, but never sooner than 10 s
 * after the previous attempt; tell subscribers about every new credential (so that secure
 * channels can send `RefreshCredentials`).
 *
 * @example
 * ```ts
 * const retriever = new CredentialRetriever({
 *   subject: me.identifier,
 *   authority,
 *   connect: async () => {
 *     const channel = await createSecureChannel(node, route, { identity: me, vault, trustPolicy: trustIdentifier(authority.identifier) });
 *     const client = node.client();
 *     node.flowControls.addConsumer(client.address, channel.flowControlId);
 *     return { client, via: [channel.encryptorAddress], close: async () => { await client.stop(); await channel.close(); } };
 *   },
 * });
 * const { encoded } = await retriever.start();
 * retriever.subscribe(({ encoded }) => channel.refreshCredentials([encoded]));
 * ```
 */
import { type Client, type Logger, noopLogger, type RouteLike } from '@ockam/core';
import type { Identifier } from '@ockam/identity';
import { requestCredential } from './authority-client.js';
import { CredentialError } from './credential-error.js';
import { type TrustedAuthority, type VerifiedCredential, verifyCredential } from './verify-credential.js';

/** Refresh this long before expiry… (`DEFAULT_PROACTIVE_REFRESH_CREDENTIAL_TIME_GAP`) */
export const DEFAULT_PROACTIVE_REFRESH_GAP = 60;
/** …plus this much for clocks that disagree (`DEFAULT_CREDENTIAL_CLOCK_SKEW_GAP`). */
export const DEFAULT_CLOCK_SKEW_GAP = 60;
/** Attempts are at least this far apart (`DEFAULT_MIN_REFRESH_CREDENTIAL_INTERVAL`). */
export const DEFAULT_MIN_REFRESH_INTERVAL_MS = 10_000;

/** setTimeout's longest delay (2^31 - 1 ms). */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** Time and timers; inject one in tests. */
export interface RetrieverClock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const systemClock: RetrieverClock = {
  now: () => Date.now(),
  setTimeout: (cb, ms) => setTimeout(cb, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** A way to talk to the authority: a client and the route up to the authority node. */
export interface AuthorityConnection {
  readonly client: Client;
  /** e.g. `[channel.encryptorAddress]`; `credential_issuer` is appended. */
  readonly via: RouteLike;
  /** Called after the request (close the channel, stop the client). */
  close?(): Promise<void>;
}

export interface CredentialRetrieverOptions {
  /** Our identifier: the credential must be about it. */
  subject: Identifier;
  /** The authority that must have issued it. */
  authority: TrustedAuthority;
  /** Opens a connection to the authority for one retrieval. */
  connect(signal?: AbortSignal): Promise<AuthorityConnection>;
  proactiveRefreshGapSeconds?: number;
  clockSkewGapSeconds?: number;
  minRefreshIntervalMs?: number;
  /** Timeout of the request to `credential_issuer` (default 30 s). */
  requestTimeoutMs?: number;
  clock?: RetrieverClock;
  logger?: Logger;
}

export interface RetrievedCredential {
  /** CBOR of the CredentialAndPurposeKey, as presented to peers. */
  readonly encoded: Uint8Array;
  readonly verified: VerifiedCredential;
}

export type CredentialListener = (credential: RetrievedCredential) => void | Promise<void>;

export class CredentialRetriever {
  readonly #o: CredentialRetrieverOptions;
  readonly #clock: RetrieverClock;
  readonly #logger: Logger;
  readonly #listeners = new Set<CredentialListener>();
  #current: RetrievedCredential | undefined;
  #inFlight: Promise<RetrievedCredential> | undefined;
  #lastAttemptMs: number | undefined;
  #lastError: unknown;
  #timer: unknown;
  #running = false;
  #abort = new AbortController();
  #nextAt: number | undefined;

  constructor(options: CredentialRetrieverOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? noopLogger;
  }

  /** The cached credential, valid or not. */
  get current(): RetrievedCredential | undefined {
    return this.#current;
  }

  /** When the next attempt is due (ms since the epoch), while one is scheduled. */
  get nextRefreshAt(): number | undefined {
    return this.#nextAt;
  }

  #nowSeconds(): number {
    return Math.floor(this.#clock.now() / 1000);
  }

  #isValid(c: RetrievedCredential | undefined): c is RetrievedCredential {
    return c !== undefined && c.verified.expiresAt >= this.#nowSeconds();
  }

  /**
   * A valid credential: the cached one, or one retrieved now. Rejects with a CredentialError
   * (`retrieval-failed`) when retrieval fails, or when the previous attempt failed less than the
   * minimum interval ago.
   */
  async get(): Promise<RetrievedCredential> {
    if (this.#isValid(this.#current)) return this.#current;
    if (this.#inFlight !== undefined) return this.#inFlight;
    const wait = this.#retryDelay();
    if (wait > 0)
      throw new CredentialError(
        'retrieval-failed',
        `the last attempt failed; retrying in ${Math.ceil(wait / 1000)} s`,
        {
          cause: this.#lastError,
        },
      );
    return this.#retrieve();
  }

  /** Retrieves a credential now and keeps refreshing it until `stop()`. */
  async start(): Promise<RetrievedCredential> {
    if (this.#running) return this.get();
    this.#running = true;
    this.#abort = new AbortController();
    try {
      return await this.get();
    } finally {
      this.#schedule();
    }
  }

  /** Called with every newly retrieved credential; returns an unsubscribe function. */
  subscribe(listener: CredentialListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops refreshing (an attempt under way is cancelled). */
  stop(): void {
    this.#running = false;
    this.#abort.abort();
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#nextAt = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.stop();
  }

  #retryDelay(): number {
    if (this.#lastAttemptMs === undefined || this.#lastError === undefined) return 0;
    return Math.max(
      0,
      this.#lastAttemptMs +
        (this.#o.minRefreshIntervalMs ?? DEFAULT_MIN_REFRESH_INTERVAL_MS) -
        this.#clock.now(),
    );
  }

  #retrieve(): Promise<RetrievedCredential> {
    this.#lastAttemptMs = this.#clock.now();
    const attempt = this.#fetch().then(
      (c) => {
        this.#current = c;
        this.#lastError = undefined;
        this.#inFlight = undefined;
        this.#logger.info('retrieved a credential', {
          issuer: c.verified.issuer,
          expiresAt: c.verified.expiresAt,
        });
        for (const l of this.#listeners) {
          try {
            const r = l(c);
            if (r instanceof Promise)
              r.catch((e) => this.#logger.warn('a credential listener failed', { error: String(e) }));
          } catch (e) {
            this.#logger.warn('a credential listener failed', { error: String(e) });
          }
        }
        return c;
      },
      (e: unknown) => {
        this.#lastError = e;
        this.#inFlight = undefined;
        this.#logger.warn('cannot retrieve a credential', { error: String(e) });
        throw CredentialError.isReason(e)
          ? e
          : new CredentialError(
              'retrieval-failed',
              `cannot retrieve a credential: ${e instanceof Error ? e.message : String(e)}`,
              {
                cause: e,
              },
            );
      },
    );
    this.#inFlight = attempt;
    return attempt;
  }

  async #fetch(): Promise<RetrievedCredential> {
    const signal = this.#abort.signal;
    const connection = await this.#o.connect(signal);
    try {
      const encoded = await requestCredential(connection.client, connection.via, {
        timeoutMs: this.#o.requestTimeoutMs ?? 30_000,
        signal,
      });
      const verified = verifyCredential(encoded, {
        trustedAuthorities: [this.#o.authority],
        expectedSubject: this.#o.subject,
        now: this.#nowSeconds(),
      });
      return { encoded, verified };
    } finally {
      await connection
        .close?.()
        .catch((e) => this.#logger.debug('closing the authority connection failed', { error: String(e) }));
    }
  }

  /** Plans the next attempt: before expiry after a success, after the minimum interval after a failure. */
  #schedule(): void {
    if (!this.#running) return;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    const now = this.#clock.now();
    const minNext =
      (this.#lastAttemptMs ?? now) + (this.#o.minRefreshIntervalMs ?? DEFAULT_MIN_REFRESH_INTERVAL_MS);
    let at: number;
    if (this.#lastError === undefined && this.#current !== undefined) {
      const gap =
        (this.#o.proactiveRefreshGapSeconds ?? DEFAULT_PROACTIVE_REFRESH_GAP) +
        (this.#o.clockSkewGapSeconds ?? DEFAULT_CLOCK_SKEW_GAP);
      at = Math.max((this.#current.verified.expiresAt - gap) * 1000, minNext);
    } else at = minNext;
    this.#nextAt = at;
    if (at - now > MAX_TIMER_DELAY_MS) {
      // Timers cannot wait longer than ~24.8 days (a 30-day credential would fire at once): wait in steps.
      this.#timer = this.#clock.setTimeout(() => {
        this.#timer = undefined;
        this.#schedule();
      }, MAX_TIMER_DELAY_MS);
      return;
    }
    this.#timer = this.#clock.setTimeout(
      () => {
        this.#timer = undefined;
        this.#nextAt = undefined;
        if (!this.#running) return;
        const run = this.#inFlight ?? this.#retrieve();
        run.then(
          () => this.#schedule(),
          () => this.#schedule(),
        );
      },
      Math.max(0, at - now),
    );
  }
}

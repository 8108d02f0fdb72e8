/**
 * A session watches a route and rebuilds it when it dies (PROTOCOL.md §7.4, §8 "Refresh").
 *
 * While the route is up, the session sends Ockam's liveness ping — a CBOR unsigned integer
 * (`Ping(u64)`, random) — to an `echo` service at the far end every `pingIntervalMs`, and counts
 * unanswered pings. After `maxMissedPings` unanswered pings, or as soon as the route's first hop
 * (a TCP connection's sender, a secure channel's encryptor) no longer exists on the node, the
 * route is declared down: `onDown` runs (an inlet closes its portal connections), the old
 * connection is released, and `connect()` is called again with exponential back-off and full
 * jitter (`retryInitialMs` doubling up to `retryMaxMs`) until it succeeds. Never a busy loop.
 *
 * @example
 * ```ts
 * import { Session } from '@ockam/portals';
 * const session = new Session(node, async () => {
 *   const channel = await createSecureChannel(node, ['1#relay.example:4000', 'api'], { identity, vault });
 *   return { route: Route.of(channel.encryptorAddress), flowControlId: channel.flowControlId, close: () => channel.close() };
 * }, { pingIntervalMs: 10_000 });
 * await session.start();
 * session.status; // 'up' | 'down'
 * await session.stop();
 * ```
 */
import {
  Address,
  CborReader,
  CborWriter,
  type FlowControlId,
  type Logger,
  type Node,
  Route,
  type RouteLike,
  randomBytes,
  toRoute,
  type WorkerContext,
} from '@ockam/core';
import { PortalError } from './errors.js';
import { backoffDelay, errorMessage, sleep, within } from './internal/timers.js';

/** Ockam's session defaults (PROTOCOL.md §7.4). */
export const DEFAULT_PING_INTERVAL_MS = 10_000;
export const DEFAULT_MAX_MISSED_PINGS = 3;
export const DEFAULT_RETRY_INITIAL_MS = 100;
export const DEFAULT_RETRY_MAX_MS = 5_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

/** A route that `connect()` built, with what is needed to use and release it. */
export interface RouteConnection {
  /** The route (already resolved: its first hop is a local address). */
  readonly route: Route;
  /**
   * Where liveness pings go; `null` turns pinging off for this connection. By default: an inlet
   * pings `echo` beside its outlet (the route with its last hop replaced), a relay pings `echo`
   * on the relay node.
   */
  readonly pingRoute?: Route | null;
  /**
   * The flow-control id of the producer replies come out of — a secure channel's
   * `flowControlId`. The session's and portals' reply addresses become its consumers. Not needed
   * for a plain outgoing TCP connection (the transport registers repliers itself).
   */
  readonly flowControlId?: FlowControlId;
  /** Releases what `connect()` built (close the secure channel), when replaced or stopped. */
  close?(reason: 'failed' | 'stopped'): Promise<void> | void;
}

/** Builds a route; called again whenever the previous one died. */
export type RouteConnector = (signal: AbortSignal) => Promise<RouteLike | RouteConnection>;

export interface SessionOptions {
  /** Interval between liveness pings (default 10 000 ms). */
  pingIntervalMs?: number;
  /** Unanswered pings after which the route is declared down (default 3). */
  maxMissedPings?: number;
  /** First retry delay ceiling; doubles per failed attempt (default 100 ms). */
  retryInitialMs?: number;
  /** Cap of the retry delay (default 5 000 ms). */
  retryMaxMs?: number;
  /** How long one `connect()` may take before it is abandoned (default 30 000 ms). */
  connectTimeoutMs?: number;
}

export interface SessionHooks {
  logger?: Logger;
  /** A name for log lines (`inlet 127.0.0.1:5000`, `relay default`). */
  name?: string;
  /** The ping route when the connection names none (`null`: no pings). */
  defaultPingRoute?: (route: Route) => Route | null;
  /** Called when a new connection is up. */
  onUp?: (connection: RouteConnection) => void;
  /** Called, before the connection is released, when it is declared down. */
  onDown?: (connection: RouteConnection, reason: string) => void;
}

export type SessionStatus = 'up' | 'down' | 'stopped';

export interface SessionStats {
  /** Calls of `connect()` so far. */
  readonly attempts: number;
  /** Successful connections so far. */
  readonly connects: number;
  readonly pingsSent: number;
  readonly pongsReceived: number;
}

export class Session {
  readonly node: Node;
  readonly #connector: RouteConnector;
  readonly #logger: Logger;
  readonly #name: string;
  readonly #hooks: SessionHooks;
  readonly #pingIntervalMs: number;
  readonly #maxMissed: number;
  readonly #retryInitialMs: number;
  readonly #retryMaxMs: number;
  readonly #connectTimeoutMs: number;
  readonly #abort = new AbortController();

  #status: SessionStatus = 'down';
  #connection: RouteConnection | undefined;
  #pingRoute: Route | null = null;
  #collector: WorkerContext | undefined;
  #outstanding = new Set<bigint>();
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #upWaiters = new Set<() => void>();
  #attempts = 0;
  #connects = 0;
  #pingsSent = 0;
  #pongs = 0;

  constructor(node: Node, connect: RouteConnector, options: SessionOptions = {}, hooks: SessionHooks = {}) {
    this.node = node;
    this.#connector = connect;
    this.#hooks = hooks;
    this.#logger = hooks.logger ?? node.logger;
    this.#name = hooks.name ?? 'session';
    this.#pingIntervalMs = positive(options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS, 'pingIntervalMs');
    this.#maxMissed = positive(options.maxMissedPings ?? DEFAULT_MAX_MISSED_PINGS, 'maxMissedPings');
    this.#retryInitialMs = positive(options.retryInitialMs ?? DEFAULT_RETRY_INITIAL_MS, 'retryInitialMs');
    this.#retryMaxMs = positive(options.retryMaxMs ?? DEFAULT_RETRY_MAX_MS, 'retryMaxMs');
    this.#connectTimeoutMs = positive(
      options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      'connectTimeoutMs',
    );
  }

  get status(): SessionStatus {
    return this.#status;
  }

  /** The live connection, while up. */
  get connection(): RouteConnection | undefined {
    return this.#status === 'up' ? this.#connection : undefined;
  }

  /** The address pongs come back to (a consumer of each connection's flow-control id). */
  get collectorAddress(): Address | undefined {
    return this.#collector?.address;
  }

  stats(): SessionStats {
    return {
      attempts: this.#attempts,
      connects: this.#connects,
      pingsSent: this.#pingsSent,
      pongsReceived: this.#pongs,
    };
  }

  /**
   * Makes the first connection attempt and starts watching. Resolves `true` when the route is
   * up; `false` when the first attempt failed (the session keeps retrying in the background).
   * With `{ required: true }`, a failed first attempt rejects instead and the session stops.
   */
  async start(options: { required?: boolean } = {}): Promise<boolean> {
    if (this.#loop !== undefined || this.#status === 'stopped')
      throw new PortalError('invalid', `${this.#name}: session already started`, { origin: 'application' });
    this.#collector = this.node.startWorker(Address.random('session_'), {
      handleMessage: (_ctx, { message }) => this.#onPong(message.payload),
    });
    let firstError: unknown;
    try {
      await this.#connectOnce();
    } catch (e) {
      firstError = e;
      if (options.required) {
        await this.stop();
        throw e;
      }
      this.#logger.warn(`${this.#name}: route is down; retrying`, { error: errorMessage(e) });
    }
    this.#loop = this.#run(firstError === undefined ? 0 : 1).catch((e: unknown) => {
      this.#logger.error(`${this.#name}: session loop failed`, { error: errorMessage(e) });
    });
    return this.#status === 'up';
  }

  /** Resolves `true` once up, or `false` after `timeoutMs` (or when stopped or aborted). */
  waitUntilUp(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.#status === 'up') return Promise.resolve(true);
    if (this.#status === 'stopped' || timeoutMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#upWaiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve(this.#status === 'up');
      };
      const timer = setTimeout(done, timeoutMs);
      this.#upWaiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Tells the session its route may be broken (a send failed): it checks at once. */
  check(): void {
    this.#wake?.();
  }

  /** Stops watching and releases the connection. Idempotent. */
  async stop(): Promise<void> {
    if (this.#status === 'stopped') return;
    const connection = this.#connection;
    this.#status = 'stopped';
    this.#connection = undefined;
    this.#abort.abort();
    this.#wake?.();
    for (const w of [...this.#upWaiters]) w();
    await this.#loop;
    if (connection !== undefined) await this.#release(connection, 'stopped');
    if (this.#collector !== undefined) await this.node.stopWorker(this.#collector.address);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  // ---- internals ----

  async #run(failedAttempts: number): Promise<void> {
    const signal = this.#abort.signal;
    let failures = failedAttempts;
    while (!signal.aborted) {
      if (this.#status !== 'up') {
        await sleep(backoffDelay(failures, this.#retryInitialMs, this.#retryMaxMs), signal);
        if (signal.aborted) return;
        try {
          await this.#connectOnce();
          failures = 0;
        } catch (e) {
          failures++;
          this.#logger.info(`${this.#name}: reconnection failed`, {
            attempt: failures,
            error: errorMessage(e),
          });
        }
        continue;
      }
      const reason = this.#health();
      if (reason !== undefined) {
        await this.#down(reason);
        continue;
      }
      await this.#ping();
      await this.#sleepInterruptibly(this.#pingIntervalMs);
    }
  }

  /** Why the live route is dead, if it is. */
  #health(): string | undefined {
    const connection = this.#connection;
    if (connection === undefined) return 'no connection';
    const first = connection.route.addresses[0];
    if (first !== undefined && !this.node.has(first)) return `its first hop ${first.value} is gone`;
    if (this.#pingRoute !== null && this.#outstanding.size >= this.#maxMissed)
      return `${this.#outstanding.size} pings went unanswered (along ${this.#pingRoute}: check that the far node runs echo and that it is a flow-control consumer of the connection or channel the pings arrive by)`;
    return undefined;
  }

  async #connectOnce(): Promise<void> {
    this.#attempts++;
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(this.#abort.signal.reason);
    this.#abort.signal.addEventListener('abort', onAbort, { once: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    let result: RouteLike | RouteConnection;
    try {
      const attempt = this.#connector(controller.signal);
      result = await Promise.race([
        attempt,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            controller.abort();
            reject(
              new PortalError('timeout', `${this.#name}: connecting took over ${this.#connectTimeoutMs} ms`),
            );
          }, this.#connectTimeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      this.#abort.signal.removeEventListener('abort', onAbort);
    }
    const connection = toConnection(result);
    if (this.#status === 'stopped') {
      await this.#release(connection, 'stopped');
      throw new PortalError('shutdown', `${this.#name}: stopped while connecting`, { origin: 'application' });
    }
    const collector = this.#collector!.address;
    if (connection.flowControlId !== undefined)
      this.node.flowControls.addConsumer(collector, connection.flowControlId);
    this.#connection = connection;
    this.#pingRoute =
      connection.pingRoute !== undefined
        ? connection.pingRoute
        : (this.#hooks.defaultPingRoute?.(connection.route) ?? null);
    this.#outstanding.clear();
    this.#status = 'up';
    this.#connects++;
    this.#logger.info(`${this.#name}: route is up`, { route: connection.route.toString() });
    try {
      this.#hooks.onUp?.(connection);
    } catch (e) {
      this.#logger.warn(`${this.#name}: onUp failed`, { error: errorMessage(e) });
    }
    for (const w of [...this.#upWaiters]) w();
  }

  async #down(reason: string): Promise<void> {
    const connection = this.#connection;
    this.#status = 'down';
    this.#connection = undefined;
    this.#outstanding.clear();
    this.#logger.warn(`${this.#name}: route is down; reconnecting`, { reason });
    if (connection === undefined) return;
    try {
      this.#hooks.onDown?.(connection, reason);
    } catch (e) {
      this.#logger.warn(`${this.#name}: onDown failed`, { error: errorMessage(e) });
    }
    await this.#release(connection, 'failed');
  }

  async #release(connection: RouteConnection, reason: 'failed' | 'stopped'): Promise<void> {
    if (connection.close === undefined) return;
    try {
      // A close that hangs (a dead peer) must not hold up reconnection.
      await within(Promise.resolve(connection.close(reason)), 5_000);
    } catch (e) {
      this.#logger.debug(`${this.#name}: releasing the old route failed`, { error: errorMessage(e) });
    }
  }

  async #ping(): Promise<void> {
    const route = this.#pingRoute;
    if (route === null || this.#collector === undefined) return;
    const value = randomU64();
    this.#outstanding.add(value);
    this.#pingsSent++;
    try {
      // A ping stuck behind a full mailbox simply counts as unanswered.
      await within(
        this.#collector.send(route, new CborWriter(16).uint(value).finish()),
        this.#pingIntervalMs,
      );
    } catch (e) {
      // Counts as unanswered; a vanished first hop is caught by the next health check.
      this.#logger.debug(`${this.#name}: ping could not be sent`, { error: errorMessage(e) });
    }
  }

  #onPong(payload: Uint8Array): void {
    let value: bigint;
    try {
      const r = new CborReader(payload, 'session ping');
      value = r.uint64();
      r.end();
    } catch {
      return;
    }
    // Like Ockam: any answered ping proves the route, so every outstanding ping is forgiven.
    if (this.#outstanding.has(value)) {
      this.#pongs++;
      this.#outstanding.clear();
    }
  }

  /** Sleeps until the interval ends, `check()` is called, or the session stops. */
  #sleepInterruptibly(ms: number): Promise<void> {
    const signal = this.#abort.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.#wake = done;
    });
  }
}

/** @internal Normalises what a connector returned. */
export function toConnection(result: RouteLike | RouteConnection): RouteConnection {
  if (typeof result === 'object' && result !== null && !(result instanceof Route) && 'route' in result) {
    const c = result as RouteConnection;
    return {
      route: toRoute(c.route),
      ...(c.pingRoute !== undefined ? { pingRoute: c.pingRoute === null ? null : toRoute(c.pingRoute) } : {}),
      ...(c.flowControlId !== undefined ? { flowControlId: c.flowControlId } : {}),
      ...(c.close !== undefined ? { close: c.close.bind(c) } : {}),
    };
  }
  return { route: toRoute(result as RouteLike) };
}

function randomU64(): bigint {
  const b = randomBytes(8);
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

function positive(n: number, name: string): number {
  if (!(n > 0) || !Number.isFinite(n)) throw new RangeError(`${name} must be a positive number, got ${n}`);
  return n;
}

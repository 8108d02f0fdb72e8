/**
 * Which upgrade requests a listener accepts, by their `Origin` (RFC 6455 §10.2, RFC 6454).
 *
 * Browsers send `Origin` on every WebSocket handshake (the Fetch standard's "websocket" requests
 * always carry it) and a page can neither remove nor change it; non-browser clients (`ws`, Ockam
 * Rust's tungstenite, our own nodes) send none unless told to. `Origin` therefore only says which
 * web page asks, and it is what keeps an arbitrary page the user visits from driving a node on
 * the user's machine or network. A request without it is not from a page and is accepted.
 *
 * A request with an `Origin` is accepted when the origin is in the allow-list, or when it is the
 * listener's own origin: `Origin`'s host and port are those of the `Host` the browser connected
 * to, and that host is an IP literal or `localhost`. A DNS name proves nothing there: with DNS
 * rebinding, `http://evil.example:PORT` first serves the attacker's page, then resolves to the
 * node, and the browser sends `Origin: http://evil.example:PORT` and `Host: evil.example:PORT`.
 * An IP literal cannot be rebound, and browsers resolve `localhost` to loopback themselves.
 */
import type { WebSocketUpgradeRequest } from '../websocket-listener.js';

/** The port a browser leaves out of `Host` and `Origin` for each web scheme. */
const DEFAULT_PORTS: Readonly<Record<string, string>> = { 'http:': '80', 'https:': '443' };

/**
 * `scheme://host[:port]` as browsers serialize an origin (RFC 6454 §6.2): lower-case scheme and
 * host, no default port, no path. Throws a `RangeError` for anything else (and for `null`, the
 * opaque origin every sandboxed frame and `file:` page shares, which no allow-list should hold).
 */
export function normalizeOrigin(text: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch (e) {
    throw new RangeError(`Invalid origin '${text}': expected scheme://host[:port]`, { cause: e });
  }
  if (
    u.host === '' ||
    u.username !== '' ||
    u.password !== '' ||
    (u.pathname !== '' && u.pathname !== '/') ||
    u.search !== '' ||
    u.hash !== ''
  )
    throw new RangeError(`Invalid origin '${text}': expected scheme://host[:port], without a path`);
  return `${u.protocol}//${u.host}`;
}

/** A `Host` header value as hostname and explicit port ('' if none), or undefined if malformed. */
function parseHost(host: string): { hostname: string; port: string } | undefined {
  // Only a bare authority: no user info, path or query smuggled through URL parsing.
  if (!/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(:\d{1,5})?$/.test(host)) return undefined;
  try {
    const u = new URL(`http://${host}`);
    // URL drops :80 for http; keep what the client wrote.
    const explicit = /:(\d{1,5})$/.exec(host)?.[1] ?? '';
    return { hostname: u.hostname, port: explicit === '' ? '' : String(Number(explicit)) };
  } catch {
    return undefined;
  }
}

/** Whether DNS rebinding cannot point `hostname` (URL-canonical) at another machine. */
function cannotBeRebound(hostname: string): boolean {
  return hostname === 'localhost' || hostname.startsWith('[') || /^\d+\.\d+\.\d+\.\d+$/.test(hostname);
}

export class OriginPolicy {
  readonly #allowed = new Set<string>();

  /** Throws a `RangeError` naming the first entry that is not an origin. */
  constructor(allowed: readonly string[] = []) {
    for (const o of allowed) this.allow(o);
  }

  allow(origin: string): void {
    if (origin.trim() === 'null')
      throw new RangeError("Invalid origin 'null': every sandboxed page and file: URL has it");
    this.#allowed.add(normalizeOrigin(origin));
  }

  /** Why `request` is refused, or undefined when it may be upgraded. */
  refusal(request: WebSocketUpgradeRequest): string | undefined {
    const { origin, host } = request;
    if (origin === undefined) return undefined;
    let normalized: string;
    try {
      normalized = normalizeOrigin(origin);
    } catch {
      return origin === 'null' ? 'opaque origin (null)' : 'malformed Origin';
    }
    if (this.#allowed.has(normalized)) return undefined;
    const o = new URL(normalized);
    const h = host === undefined ? undefined : parseHost(host);
    const defaultPort = DEFAULT_PORTS[o.protocol];
    if (
      defaultPort !== undefined &&
      h !== undefined &&
      h.hostname === o.hostname &&
      (h.port || defaultPort) === (o.port || defaultPort)
    )
      return cannotBeRebound(o.hostname) ? undefined : 'same-origin by a DNS name, which can be rebound';
    return 'origin not allowed';
  }
}

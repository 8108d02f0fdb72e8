/**
 * The optional HTTP status server of a node (`ockam node create --http-server 127.0.0.1:9000`):
 * `GET /health` (200 with a small JSON body while the node serves), `HEAD /`, `GET /show` (the
 * node's status as JSON) and `GET /metrics` (Prometheus text format 0.0.4).
 *
 * It answers only requests whose `Host` is one of its own addresses: any web page can make the
 * user's browser send requests here, and with DNS rebinding (`evil.example` resolving to this
 * server after the page loaded) the browser would let the page read the answers. A rebound request
 * carries the attacker's name in `Host`; an IP literal or `localhost` cannot be rebound. Others get
 * 421 Misdirected Request. What it publishes names no worker address (see worker-kinds.ts).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { networkInterfaces } from 'node:os';
import { join, normalize, sep } from 'node:path';
import { type Logger, LogLimiter, noopLogger, parseHostPort } from '@ockam/core';
import type { Metric } from '@ockam/node';
import type { NodeStatus } from '@ockam/node/control';

/**
 * Requests refused for their `Host` are logged at most once per this interval, with the count of
 * those not logged since: a page can send them in a loop.
 */
export const REFUSED_HOST_LOG_INTERVAL_MS = 60_000;

export interface StatusServerOptions {
  /**
   * `Host` values (`name[:port]`, as clients send them) accepted besides the server's own
   * addresses: the names an operator's proxy or load balancer reaches it by.
   */
  allowedHosts?: readonly string[];
  /** Where refused requests are logged. */
  logger?: Logger;
}

export interface StatusServer {
  /** The bound `host:port`. */
  readonly address: string;
  /** The origins (`http://host:port`) of pages this server serves: one per name it answers to. */
  readonly origins: readonly string[];
  close(): Promise<void>;
}

export interface StatusSource {
  /** Static files served under /example/ (the browser example page and its bundle). */
  staticDir?: string;
  health(): Record<string, unknown>;
  show(): Promise<unknown> | unknown;
  metrics(): Metric[];
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
};

/** The file under `dir` for a request path below /example/, or undefined (missing, or outside `dir`). */
export function staticFile(dir: string, path: string): { file: string; type: string } | undefined {
  let rel: string;
  try {
    rel = decodeURIComponent(path.slice('/example/'.length));
  } catch {
    return undefined;
  }
  if (rel === '' || rel.endsWith('/')) rel += 'index.html';
  if (rel.includes('\0')) return undefined;
  const root = normalize(dir.endsWith(sep) ? dir : dir + sep);
  const file = normalize(join(root, rel));
  if (!file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) return undefined;
  const ext = file.slice(file.lastIndexOf('.'));
  const type = CONTENT_TYPES[ext];
  return type ? { file, type } : undefined;
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

export function renderMetrics(metrics: Metric[]): string {
  const out: string[] = [];
  for (const m of metrics) {
    out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`);
    for (const s of m.samples) {
      const labels =
        s.labels && Object.keys(s.labels).length
          ? `{${Object.entries(s.labels)
              .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
              .join(',')}}`
          : '';
      out.push(`${m.name}${labels} ${Number.isFinite(s.value) ? s.value : 0}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** A `Host` value in lower case, or undefined if it is not a bare `name[:port]`. */
function normalizeHost(text: string): string | undefined {
  const t = text.trim().toLowerCase();
  return /^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(:\d{1,5})?$/.test(t) ? t : undefined;
}

const isIpLiteral = (hostname: string): boolean =>
  hostname.startsWith('[') || /^\d+\.\d+\.\d+\.\d+$/.test(hostname);

const bracketed = (host: string): string => (host.includes(':') ? `[${host}]` : host);

/**
 * The `Host` values the server bound at `bound` answers to: its address, the loopback names
 * (127.0.0.1, localhost, [::1]) with its port, the interface addresses when it is bound to all of
 * them (and then any IP literal with its port), and `allowed` (normalized).
 */
function hostCheck(
  bound: { address: string; port: number },
  allowed: readonly string[],
): { accepts(host: string | undefined): boolean; origins: string[] } {
  const wildcard = bound.address === '0.0.0.0' || bound.address === '::';
  const own = [`127.0.0.1:${bound.port}`, `localhost:${bound.port}`, `[::1]:${bound.port}`];
  if (!wildcard) own.push(`${bracketed(bound.address)}:${bound.port}`);
  else
    for (const list of Object.values(networkInterfaces()))
      for (const i of list ?? []) own.push(`${bracketed(i.address.split('%')[0]!)}:${bound.port}`);
  const ownNames = own.map((h) => normalizeHost(h)).filter((h): h is string => h !== undefined);
  const exact = new Set([...ownNames, ...allowed]);
  return {
    // Behind a proxy the page may be served over TLS: both schemes for the operator's names.
    origins: [
      ...new Set([
        ...ownNames.map((h) => `http://${h}`),
        ...allowed.flatMap((h) => [`http://${h}`, `https://${h}`]),
      ]),
    ],
    accepts(host) {
      const h = host === undefined ? undefined : normalizeHost(host);
      if (h === undefined) return false;
      if (exact.has(h)) return true;
      if (!wildcard) return false;
      // Bound to every interface: an IP literal with our port reached us and cannot be rebound.
      const m = /^(.*):(\d+)$/.exec(h);
      return m !== null && Number(m[2]) === bound.port && isIpLiteral(m[1]!);
    },
  };
}

/**
 * What `/show` publishes of a node's status: counts, listeners and peers, and no worker address
 * or flow-control id (the control socket's `node show` keeps those for the node's owner).
 */
export function publicStatus(status: NodeStatus): Record<string, unknown> {
  return {
    name: status.name,
    pid: status.pid,
    identifier: status.identifier,
    uptimeMs: status.uptimeMs,
    services: status.services,
    tcpListenerAddress: status.tcpListenerAddress,
    websocketListenerAddress: status.websocketListenerAddress,
    httpServerAddress: status.httpServerAddress,
    tcpConnections: status.tcpConnections.map((c) => ({ peer: c.peer, exposed: c.exposed })),
    secureChannels: status.secureChannels,
    udp:
      status.udp === null
        ? null
        : {
            rendezvous: status.udp.rendezvous,
            rendezvousService: status.udp.rendezvousService,
            stats: status.udp.stats,
          },
  };
}

export async function startStatusServer(
  address: string,
  source: StatusSource & StatusServerOptions,
): Promise<StatusServer> {
  const options: StatusServerOptions = source;
  const { host, port } = parseHostPort(address);
  const allowed = (options.allowedHosts ?? []).map((h) => {
    const n = normalizeHost(h);
    if (n === undefined) throw new RangeError(`Invalid allowed host '${h}': expected NAME[:PORT]`);
    return n;
  });
  let check: ReturnType<typeof hostCheck> | undefined;
  const refusals = new LogLimiter(options.logger ?? noopLogger, REFUSED_HOST_LOG_INTERVAL_MS);
  const refused = (req: { headers: { host?: string | undefined }; socket: { remoteAddress?: string } }) =>
    refusals.warn('host', 'http status request refused: Host is not one of this server', {
      host: req.headers.host?.slice(0, 200),
      peer: req.socket.remoteAddress,
    });
  const server: Server = createServer((req, res) => {
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (check === undefined || !check.accepts(req.headers.host)) {
      refused(req);
      return send(421, 'text/plain', 'Misdirected request: this server does not answer to that Host\n');
    }
    void (async () => {
      try {
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        if (req.method !== 'GET' && req.method !== 'HEAD')
          return send(405, 'text/plain', 'Method not allowed\n');
        if (path === '/' || path === '/health')
          return send(200, 'application/json', JSON.stringify({ status: 'ok', ...source.health() }));
        if (path === '/show') {
          // GET only, as Ockam's server: a HEAD would build the whole status for nothing.
          if (req.method !== 'GET') return send(405, 'text/plain', 'Method not allowed\n');
          return send(200, 'application/json', JSON.stringify(await source.show()));
        }
        if (source.staticDir && (path === '/example' || path.startsWith('/example/'))) {
          if (path === '/example') {
            res.writeHead(301, { location: '/example/' });
            return res.end();
          }
          const f = staticFile(source.staticDir, path);
          if (!f) return send(404, 'text/plain', 'Not found\n');
          const body = readFileSync(f.file);
          res.writeHead(200, {
            'content-type': f.type,
            'content-length': body.length,
            'cache-control': 'no-cache',
          });
          return res.end(req.method === 'HEAD' ? undefined : body);
        }
        if (path === '/metrics')
          return send(200, 'text/plain; version=0.0.4', renderMetrics(source.metrics()));
        return send(404, 'text/plain', 'Not found\n');
      } catch (e) {
        return send(500, 'text/plain', `${e instanceof Error ? e.message : String(e)}\n`);
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as { address: string; port: number };
  check = hostCheck(bound, allowed);
  return {
    address: `${bound.address}:${bound.port}`,
    origins: check.origins,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

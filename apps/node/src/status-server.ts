/**
 * The optional HTTP status server of a node (`ockam node create --http-server 127.0.0.1:9000`):
 * `GET /health` (200 with a small JSON body while the node serves), `HEAD /`, `GET /show` (the
 * node's status as JSON) and `GET /metrics` (Prometheus text format 0.0.4).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, normalize, sep } from 'node:path';
import { parseHostPort } from '@ockam/core';

export interface Metric {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: Array<{ labels?: Record<string, string>; value: number }>;
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

export async function startStatusServer(
  address: string,
  source: StatusSource,
): Promise<{ address: string; close(): Promise<void> }> {
  const { host, port } = parseHostPort(address);
  const server: Server = createServer((req, res) => {
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    void (async () => {
      try {
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        if (req.method !== 'GET' && req.method !== 'HEAD')
          return send(405, 'text/plain', 'Method not allowed\n');
        if (path === '/' || path === '/health')
          return send(200, 'application/json', JSON.stringify({ status: 'ok', ...source.health() }));
        if (path === '/show') return send(200, 'application/json', JSON.stringify(await source.show()));
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
  return {
    address: `${bound.address}:${bound.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

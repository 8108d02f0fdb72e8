/**
 * Plain HTTP requests with any `Host` header: what a browser sends after DNS rebinding, when the
 * attacker's name (`evil.example`) has come to resolve to the node.
 */
import { request } from 'node:http';
import { splitHostPort } from './peer.js';

export interface HttpAnswer {
  status: number;
  body: string;
}

/** `method path` to `hostPort` with `Host: host` (default: `hostPort`). */
export function httpRequest(
  hostPort: string,
  path: string,
  options: { host?: string; method?: string; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  const [host, port] = splitHostPort(hostPort);
  return new Promise((resolve, reject) => {
    const req = request(
      { host, port, path, method: options.method ?? 'GET', headers: { host: options.host ?? hostPort } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    const timeoutMs = options.timeoutMs ?? 10_000;
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${path} got no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * A local HTTP server that serves a fixed random body, and a GET that retries until a portal is up:
 * what the portal tests move through an inlet and check byte for byte.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { until } from './wait.js';

export interface BodyServer {
  readonly port: number;
  readonly sha256: string;
  readonly size: number;
  close(): Promise<void>;
}

/** Serves `size` random bytes on 127.0.0.1 at every path. */
export async function serveBody(size: number): Promise<BodyServer> {
  const body = randomBytes(size);
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    sha256: createHash('sha256').update(body).digest('hex'),
    size,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** GETs `url` until it answers 200 (a portal still connecting refuses or resets); the body's sha256. */
export async function getSha256(url: string, timeoutMs = 120_000): Promise<string> {
  let digest = '';
  let last = '';
  await until(
    async () => {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
        if (res.status !== 200) {
          last = `status ${res.status}`;
          return false;
        }
        digest = createHash('sha256')
          .update(Buffer.from(await res.arrayBuffer()))
          .digest('hex');
        return true;
      } catch (e) {
        last = String((e as Error).cause ?? e);
        return false;
      }
    },
    timeoutMs,
    () => `GET ${url} (last: ${last})`,
  );
  return digest;
}

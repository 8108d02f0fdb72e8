/**
 * Serves the control API on a Unix socket. The socket file is created under a 0177 umask, so it
 * is 0600 from its first instant, inside a 0700 directory.
 */
import { existsSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { OckamError } from '@ockam/core';
import {
  CONTROL_API,
  type EndpointName,
  type RequestOf,
  type ResponseOf,
  type Untrusted,
} from '@ockam/node/control';

/** One handler per endpoint of `CONTROL_API`; each gets what the socket sent, unchecked. */
export type Handlers = {
  [N in EndpointName]: (input: Untrusted<RequestOf<N>>) => Promise<ResponseOf<N>> | ResponseOf<N>;
};

export type Handler = (body: unknown, params: Record<string, string>) => Promise<unknown> | unknown;

interface RouteEntry {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly kind = 'invalid',
  ) {
    super(message);
  }
}

const MAX_BODY = 16 * 1024 * 1024;

const STATUS_BY_KIND: Record<string, number> = {
  invalid: 400,
  serialization: 400,
  'not-found': 404,
  'already-exists': 409,
  conflict: 409,
  permission: 403,
  timeout: 504,
  unsupported: 501,
  cancelled: 499,
};

export class ControlServer {
  readonly #routes: RouteEntry[] = [];
  #server: Server | undefined;

  on(method: string, path: string, handler: Handler): this {
    const keys: string[] = [];
    const pattern = new RegExp(
      `^${path.replace(/:([a-zA-Z]+)/g, (_, k: string) => {
        keys.push(k);
        return '([^/]+)';
      })}$`,
    );
    this.#routes.push({ method, pattern, keys, handler });
    return this;
  }

  /** Serves every endpoint of `CONTROL_API`: a POST's body, or a GET's or DELETE's path and query, is its input. */
  serve(handlers: Handlers): this {
    for (const name of Object.keys(CONTROL_API) as EndpointName[]) {
      const { method, path } = CONTROL_API[name];
      const handle = handlers[name] as (input: Record<string, unknown>) => unknown;
      this.on(method, path, (body, params) =>
        handle(method === 'POST' ? (body as Record<string, unknown>) : params),
      );
    }
    return this;
  }

  async #dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://node');
    let status = 200;
    let payload: unknown;
    try {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > MAX_BODY) throw new HttpError(413, `Request body exceeds ${MAX_BODY} bytes`);
        chunks.push(chunk as Buffer);
      }
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = raw === '' ? {} : JSON.parse(raw);
      } catch {
        throw new HttpError(400, 'Request body is not valid JSON');
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new HttpError(400, 'Request body must be a JSON object');
      }
      const pathMatches = this.#routes.filter((r) => r.pattern.test(url.pathname));
      const route = pathMatches.find((r) => r.method === req.method);
      if (!route) {
        throw pathMatches.length
          ? new HttpError(405, `Method ${req.method} not allowed on ${url.pathname}`)
          : new HttpError(404, `No such endpoint ${url.pathname}`, 'not-found');
      }
      const m = route.pattern.exec(url.pathname)!;
      const params: Record<string, string> = {};
      route.keys.forEach((k, i) => {
        try {
          params[k] = decodeURIComponent(m[i + 1]!);
        } catch {
          throw new HttpError(400, `Malformed percent-encoding in ${url.pathname}`);
        }
      });
      for (const [k, v] of url.searchParams) params[k] ??= v;
      payload = (await route.handler(body, params)) ?? {};
    } catch (e) {
      if (e instanceof HttpError) {
        status = e.status;
        payload = { error: { kind: e.kind, message: e.message } };
      } else if (OckamError.is(e)) {
        status = STATUS_BY_KIND[e.kind] ?? 500;
        payload = { error: { kind: e.kind, message: e.message } };
      } else {
        status = 500;
        payload = { error: { kind: 'internal', message: e instanceof Error ? e.message : String(e) } };
      }
    }
    const text = JSON.stringify(payload);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  async listen(socketPath: string): Promise<void> {
    if (existsSync(socketPath)) {
      if (await socketAnswers(socketPath))
        throw new OckamError('node', 'already-exists', `Another node is already serving ${socketPath}`);
      unlinkSync(socketPath);
    }
    const server = createServer((req, res) => {
      this.#dispatch(req, res).catch(() => res.destroy());
    });
    const previous = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(previous);
    }
    this.#server = server;
  }

  async close(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/** Whether something accepts connections on a Unix socket. */
export function socketAnswers(path: string, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * The `ockam` command's side of the control API: JSON requests over a node's Unix socket, built
 * from `CONTROL_API` (./api.ts).
 *
 * @example
 * ```ts
 * const client = new ControlClient('/home/me/.ockam/nodes/n1/api.sock', 'n1');
 * const { inlets } = await client.call('listInlets', {});
 * ```
 */
import { request } from 'node:http';
import { type ErrorKind, OckamError } from '@ockam/core';
import { CONTROL_API, type EndpointName, endpointUrl, type RequestOf, type ResponseOf } from './api.js';

export class ControlApiError extends OckamError {
  readonly status: number;
  constructor(status: number, kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super('api', kind, message, options);
    this.status = status;
  }
}

export class ControlClient {
  readonly socketPath: string;
  readonly nodeName: string;

  constructor(socketPath: string, nodeName = 'node') {
    this.socketPath = socketPath;
    this.nodeName = nodeName;
  }

  /** Calls one endpoint of `CONTROL_API` by name. */
  call<N extends EndpointName>(
    name: N,
    input: RequestOf<N>,
    options?: { timeoutMs?: number },
  ): Promise<ResponseOf<N>> {
    const endpoint = CONTROL_API[name];
    const fields = input as Record<string, unknown>;
    const url = endpointUrl(endpoint, fields);
    return this.raw<ResponseOf<N>>(
      endpoint.method,
      url,
      endpoint.method === 'POST' ? fields : undefined,
      options,
    );
  }

  /** An untyped GET, for tests and tools that probe the API itself; programs use `call`. */
  get<T>(path: string, options?: { timeoutMs?: number }): Promise<T> {
    return this.raw<T>('GET', path, undefined, options);
  }

  /** An untyped request (see `get`). */
  raw<T>(method: string, path: string, body?: unknown, options: { timeoutMs?: number } = {}): Promise<T> {
    const text = body === undefined ? '' : JSON.stringify(body);
    const timeoutMs = options.timeoutMs ?? 60_000;
    return new Promise<T>((resolve, reject) => {
      const req = request(
        {
          socketPath: this.socketPath,
          method,
          path,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            let parsed: unknown;
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch (cause) {
              reject(
                new ControlApiError(
                  res.statusCode ?? 500,
                  'serialization',
                  `Node ${this.nodeName} sent an invalid response`,
                  { cause },
                ),
              );
              return;
            }
            if ((res.statusCode ?? 500) >= 400) {
              const err = (parsed as { error?: { kind?: string; message?: string } }).error;
              reject(
                new ControlApiError(
                  res.statusCode ?? 500,
                  (err?.kind ?? 'internal') as ErrorKind,
                  err?.message ?? `HTTP ${res.statusCode}`,
                ),
              );
            } else resolve(parsed as T);
          });
        },
      );
      req.setTimeout(timeoutMs, () =>
        req.destroy(
          new ControlApiError(504, 'timeout', `Node ${this.nodeName} did not answer within ${timeoutMs} ms`),
        ),
      );
      req.on('error', (e) => {
        if (OckamError.is(e)) reject(e);
        else {
          const code = (e as NodeJS.ErrnoException).code;
          const notRunning = code === 'ENOENT' || code === 'ECONNREFUSED';
          reject(
            new ControlApiError(
              503,
              notRunning ? 'not-found' : 'io',
              notRunning
                ? `Node ${this.nodeName} is not running (start it with 'ockam node start ${this.nodeName}')`
                : `Cannot reach node ${this.nodeName}: ${e.message}`,
              { cause: e },
            ),
          );
        }
      });
      req.end(text);
    });
  }
}

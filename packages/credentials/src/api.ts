/**
 * Ockam's request/response API framing (PROTOCOL.md §10.3), used by the authority services and
 * by a node's control API: the payload is a BARE `Vec<u8>` wrapping
 * `CBOR(RequestHeader) ‖ CBOR(body)?`, where
 * - RequestHeader = `{1: id u32, 2: path text, 3: method?, 4: has_body bool}` and
 * - ResponseHeader = `{1: id u32, 2: re u32, 3: status?, 4: has_body bool}`;
 * an error body is `{1: path?, 2: method?, 3: message?, 4: cause?}` (or, from old peers, a text).
 * Decoding is strict: size caps first, every field checked, the body exactly one CBOR item.
 *
 * @example
 * ```ts
 * import { callApi } from '@ockam/credentials';
 * import { encodeApiRequest } from '@ockam/credentials/codec';
 * const body = await callApi(client, [channel.encryptorAddress, 'credential_issuer'], 'POST', '/');
 * ```
 */
import {
  CborReader,
  CborWriter,
  type Client,
  DecodeError,
  decodeBareBytes,
  type ErrorKind,
  encodeBareBytes,
  OckamError,
  type OckamErrorOptions,
  type RouteLike,
} from '@ockam/core';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
const METHODS: readonly Method[] = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];

/** The status codes Ockam defines. */
export type Status = 200 | 400 | 401 | 403 | 404 | 405 | 408 | 409 | 500 | 501;
const STATUSES: ReadonlySet<number> = new Set([200, 400, 401, 403, 404, 405, 408, 409, 500, 501]);

/** Larger API messages are refused before decoding. */
export const MAX_API_MESSAGE_SIZE = 1 << 20;

export interface RequestHeader {
  readonly id: number;
  readonly path: string;
  /** Undefined when absent or a method this implementation does not know. */
  readonly method: Method | undefined;
  readonly hasBody: boolean;
}

export interface ResponseHeader {
  readonly id: number;
  /** The id of the request this answers. */
  readonly re: number;
  /** Undefined when absent or unknown. */
  readonly status: Status | undefined;
  readonly hasBody: boolean;
}

export interface ApiRequest {
  readonly header: RequestHeader;
  /** The body's CBOR bytes, if `header.hasBody`. */
  readonly body: Uint8Array | undefined;
}

export interface ApiResponse {
  readonly header: ResponseHeader;
  readonly body: Uint8Array | undefined;
}

/** The error body of a failed response. */
export interface ApiErrorBody {
  readonly path?: string;
  readonly method?: Method;
  readonly message?: string;
  readonly cause?: ApiErrorBody;
}

/** A fresh non-zero request id (Ockam's `Id::fresh`). */
export function freshId(): number {
  const b = new Uint32Array(1);
  crypto.getRandomValues(b);
  return b[0]! === 0xffffffff ? 0xffffffff : b[0]! + 1;
}

function writeMethod(w: CborWriter, method: Method): void {
  w.uint(METHODS.indexOf(method));
}

/** `BARE(CBOR(header) ‖ body)`. `body` is CBOR already. */
export function encodeApiRequest(
  method: Method,
  path: string,
  body?: Uint8Array,
  id: number = freshId(),
): Uint8Array {
  if (!METHODS.includes(method)) throw new TypeError(`unknown method ${String(method)}`);
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new RangeError('a request id is a u32');
  const w = new CborWriter(32 + path.length + (body?.length ?? 0));
  w.map(4).uint(1).uint(id).uint(2).text(path).uint(3);
  writeMethod(w, method);
  w.uint(4).bool(body !== undefined);
  if (body !== undefined) w.raw(body);
  return encodeBareBytes(w.finish());
}

/** `BARE(CBOR(header) ‖ body)` for a response to request `re`. */
export function encodeApiResponse(
  re: number,
  status: Status,
  body?: Uint8Array,
  id: number = freshId(),
): Uint8Array {
  if (!STATUSES.has(status)) throw new RangeError(`unknown status ${status}`);
  const w = new CborWriter(24 + (body?.length ?? 0));
  w.map(4)
    .uint(1)
    .uint(id)
    .uint(2)
    .uint(re)
    .uint(3)
    .uint(status)
    .uint(4)
    .bool(body !== undefined);
  if (body !== undefined) w.raw(body);
  return encodeBareBytes(w.finish());
}

/** The CBOR error body `{1: path?, 2: method?, 3: message?, 4: cause?}`. */
export function encodeApiErrorBody(error: ApiErrorBody): Uint8Array {
  const w = new CborWriter(64);
  const write = (e: ApiErrorBody, depth: number) => {
    if (depth > 8) throw new RangeError('error causes nested too deeply');
    const n =
      +(e.path !== undefined) +
      +(e.method !== undefined) +
      +(e.message !== undefined) +
      +(e.cause !== undefined);
    w.map(n);
    if (e.path !== undefined) w.uint(1).text(e.path);
    if (e.method !== undefined) {
      w.uint(2);
      writeMethod(w, e.method);
    }
    if (e.message !== undefined) w.uint(3).text(e.message);
    if (e.cause !== undefined) {
      w.uint(4);
      write(e.cause, depth + 1);
    }
  };
  write(error, 0);
  return w.finish();
}

/** A response carrying an error body: Ockam's `Response::error(req, msg, status)`. */
export function encodeApiError(
  request: RequestHeader | undefined,
  status: Status,
  message: string,
): Uint8Array {
  const body = encodeApiErrorBody({
    ...(request === undefined ? {} : { path: request.path }),
    ...(request?.method === undefined ? {} : { method: request.method }),
    message,
  });
  return encodeApiResponse(request?.id ?? 0, status, body);
}

/** Reads a map with integer keys, each at most once; unknown keys are skipped (minicbor does so). */
function readFields(r: CborReader, what: string, read: (key: number) => boolean): Set<number> {
  const n = r.map();
  const seen = new Set<number>();
  for (let i = 0; i < n; i++) {
    if (r.peekType() !== 'uint') r.fail(`${what} keys must be unsigned integers`);
    const key = r.uint();
    if (seen.has(key)) r.fail(`duplicate ${what} key ${key}`);
    seen.add(key);
    if (!read(key)) r.skip();
  }
  return seen;
}

function readOptionalEnum(r: CborReader): number | undefined {
  if (r.nullable()) return undefined;
  return r.peekType() === 'uint' ? r.uint() : r.fail('expected an integer');
}

function unwrap(payload: Uint8Array, what: string): Uint8Array {
  if (payload.length > MAX_API_MESSAGE_SIZE + 8)
    throw new DecodeError(what, `message of ${payload.length} bytes exceeds ${MAX_API_MESSAGE_SIZE}`);
  return decodeBareBytes(payload, what);
}

function readBody(r: CborReader, hasBody: boolean): Uint8Array | undefined {
  if (!hasBody) {
    r.end();
    return undefined;
  }
  const body = r.rawItem().slice();
  r.end();
  return body;
}

function requireFields(r: CborReader, seen: Set<number>, keys: number[], what: string): void {
  for (const k of keys) if (!seen.has(k)) r.fail(`${what} is missing field ${k}`);
}

/** Decodes a request payload strictly; throws a DecodeError. */
export function decodeApiRequest(payload: Uint8Array): ApiRequest {
  const what = 'API request';
  const r = new CborReader(unwrap(payload, what), what);
  let id = 0;
  let path = '';
  let method: Method | undefined;
  let hasBody = false;
  const seen = readFields(r, 'request header', (key) => {
    switch (key) {
      case 1:
        id = r.uintMax(0xffffffff, 'request id');
        return true;
      case 2:
        path = r.text();
        return true;
      case 3: {
        const m = readOptionalEnum(r);
        method = m === undefined ? undefined : METHODS[m];
        return true;
      }
      case 4:
        hasBody = r.bool();
        return true;
      default:
        return false;
    }
  });
  requireFields(r, seen, [1, 2, 4], 'request header');
  return { header: { id, path, method, hasBody }, body: readBody(r, hasBody) };
}

/** Decodes a response payload strictly; throws a DecodeError. */
export function decodeApiResponse(payload: Uint8Array): ApiResponse {
  const what = 'API response';
  const r = new CborReader(unwrap(payload, what), what);
  let id = 0;
  let re = 0;
  let status: Status | undefined;
  let hasBody = false;
  const seen = readFields(r, 'response header', (key) => {
    switch (key) {
      case 1:
        id = r.uintMax(0xffffffff, 'response id');
        return true;
      case 2:
        re = r.uintMax(0xffffffff, 'request id');
        return true;
      case 3: {
        const s = readOptionalEnum(r);
        status = s !== undefined && STATUSES.has(s) ? (s as Status) : undefined;
        return true;
      }
      case 4:
        hasBody = r.bool();
        return true;
      default:
        return false;
    }
  });
  requireFields(r, seen, [1, 2, 4], 'response header');
  return { header: { id, re, status, hasBody }, body: readBody(r, hasBody) };
}

/** Decodes an error body (a map, or the plain text some peers send). */
export function decodeApiErrorBody(body: Uint8Array): ApiErrorBody {
  const what = 'API error';
  const r = new CborReader(body, what);
  const read = (depth: number): ApiErrorBody => {
    if (depth > 8) r.fail('error causes nested too deeply');
    if (r.peekType() === 'text') return { message: r.text() };
    const out: { path?: string; method?: Method; message?: string; cause?: ApiErrorBody } = {};
    readFields(r, 'error', (key) => {
      if (key >= 1 && key <= 4 && r.nullable()) return true;
      switch (key) {
        case 1:
          out.path = r.text();
          return true;
        case 2: {
          const m = METHODS[r.uint()];
          if (m !== undefined) out.method = m;
          return true;
        }
        case 3:
          out.message = r.text();
          return true;
        case 4:
          out.cause = read(depth + 1);
          return true;
        default:
          return false;
      }
    });
    return out;
  };
  const e = read(0);
  r.end();
  return e;
}

const KIND_BY_STATUS: Partial<Record<number, ErrorKind>> = {
  400: 'invalid',
  401: 'permission',
  403: 'permission',
  404: 'not-found',
  405: 'unsupported',
  408: 'timeout',
  409: 'conflict',
  501: 'unsupported',
};

/** A request answered with a status other than 200 (origin `api`). */
export class ApiError extends OckamError {
  readonly status: number | undefined;
  readonly body: ApiErrorBody | undefined;

  constructor(status: number | undefined, message: string, body?: ApiErrorBody, options?: OckamErrorOptions) {
    super('api', (status === undefined ? undefined : KIND_BY_STATUS[status]) ?? 'internal', message, options);
    this.status = status;
    this.body = body;
  }

  static isStatus(value: unknown, status?: number): value is ApiError {
    return (
      OckamError.is(value) &&
      value.name === 'ApiError' &&
      (status === undefined || (value as ApiError).status === status)
    );
  }
}

export interface CallApiOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Sends one request along `route` (through a secure channel's encryptor, typically) and waits
 * for the response; resolves to it whatever its status.
 */
export async function sendApiRequest(
  client: Client,
  route: RouteLike,
  method: Method,
  path: string,
  body?: Uint8Array,
  options: CallApiOptions = {},
): Promise<ApiResponse> {
  const id = freshId();
  const reply = await client.request(route, encodeApiRequest(method, path, body, id), options);
  const response = decodeApiResponse(reply.payload);
  if (response.header.re !== id)
    throw new ApiError(
      undefined,
      `${method} ${path}: the response answers request ${response.header.re}, not ${id}`,
    );
  return response;
}

/**
 * Sends one request and returns the response body (CBOR) when the status is 200; throws an
 * ApiError with the status and the error body's message otherwise.
 */
export async function callApi(
  client: Client,
  route: RouteLike,
  method: Method,
  path: string,
  body?: Uint8Array,
  options: CallApiOptions = {},
): Promise<Uint8Array | undefined> {
  const response = await sendApiRequest(client, route, method, path, body, options);
  const { status } = response.header;
  if (status === 200) return response.body;
  let error: ApiErrorBody | undefined;
  if (response.body !== undefined) {
    try {
      error = decodeApiErrorBody(response.body);
    } catch {
      error = undefined;
    }
  }
  throw new ApiError(
    status,
    `${method} ${path} failed with status ${status ?? 'unknown'}${error?.message ? `: ${error.message}` : ''}`,
    error,
  );
}

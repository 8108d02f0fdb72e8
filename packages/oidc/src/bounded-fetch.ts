/**
 * A `fetch` for talking to an OpenID provider, whose answers are hostile input like any other:
 * a deadline for the whole exchange and a cap on the body, read before the JSON parser sees it
 * (neither `jose` nor `openid-client` bounds the size of what they download).
 */
export interface BoundedFetchOptions {
  /** Bytes a response body may hold (default 256 KiB: discovery documents and JWKS are a few KiB). */
  maxBytes?: number;
  /** Milliseconds for the request and its body (default 10 000). */
  timeoutMs?: number;
}

export function boundedFetch(options: BoundedFetchOptions = {}) {
  const maxBytes = options.maxBytes ?? 256 * 1024;
  const timeoutMs = options.timeoutMs ?? 10_000;
  return async (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    const response = await fetch(url, { ...init, signal, redirect: 'manual' });
    const declared = Number(response.headers.get('content-length') ?? 0);
    if (declared > maxBytes) {
      await response.body?.cancel();
      throw new RangeError(`${String(url)} answered ${declared} bytes; the limit is ${maxBytes}`);
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    if (response.body !== null) {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.length;
        if (total > maxBytes) {
          await reader.cancel();
          throw new RangeError(`${String(url)} answered more than ${maxBytes} bytes`);
        }
        chunks.push(value);
      }
    }
    const body = Buffer.concat(chunks);
    return new Response(response.status === 204 || response.status === 304 ? null : body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

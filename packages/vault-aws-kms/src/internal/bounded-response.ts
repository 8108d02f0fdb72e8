/**
 * Caps the size of every response body the AWS SDK reads. The SDK collects a whole body into memory
 * before parsing it, so a hostile or broken endpoint could otherwise make us allocate whatever it
 * sends; the largest answer we ask for (DescribeKey-sized JSON) is about 2 KiB.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { KMSClient } from '@aws-sdk/client-kms';
import { VaultError } from '@ockam/vault';

/** Far above any KMS answer to the calls we make, far below anything that hurts. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

class ByteLimit extends Transform {
  #seen = 0;
  readonly #limit: number;
  constructor(limit: number) {
    super();
    this.#limit = limit;
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#limit)
      done(new VaultError('protocol', `AWS KMS answered with more than ${this.#limit} bytes`));
    else done(null, chunk);
  }
}

interface RawResponse {
  headers?: Record<string, string | undefined>;
  body?: unknown;
}

const isReadable = (body: unknown): body is NodeJS.ReadableStream & { destroy(): void } =>
  typeof body === 'object' && body !== null && typeof (body as { pipe?: unknown }).pipe === 'function';

/** Installs the cap on `client`, between the HTTP handler and the deserializer. */
export function boundResponses(client: KMSClient, limit = MAX_RESPONSE_BYTES): void {
  type Middleware = Parameters<KMSClient['middlewareStack']['addRelativeTo']>[0];
  type Next = (args: unknown) => Promise<{ response: unknown }>;
  client.middlewareStack.addRelativeTo(
    ((next: Next) => async (args: unknown) => {
      const result = await next(args);
      const response = result.response as RawResponse;
      const declared = Number(response.headers?.['content-length'] ?? 0);
      if (declared > limit) {
        if (isReadable(response.body)) response.body.destroy();
        throw new VaultError('protocol', `AWS KMS answered with ${declared} bytes, more than ${limit}`);
      }
      if (isReadable(response.body)) {
        const source = response.body;
        const capped = new ByteLimit(limit);
        // A source error must reach the reader of the capped stream, and a cap error stop the source.
        source.once('error', (e: Error) => capped.destroy(e));
        capped.once('error', () => source.destroy());
        source.pipe(capped);
        response.body = capped;
      }
      return result;
    }) as unknown as Middleware,
    { relation: 'after', toMiddleware: 'deserializerMiddleware', name: 'ockamBoundedResponse' },
  );
}

/**
 * Names more than one package needs, defined once here so that they cannot drift apart.
 *
 * @example
 * ```ts
 * import { type Awaitable, IDENTITY_SECURE_CHANNEL_IDENTIFIER, MAX_MESSAGE_SIZE } from '@ockam/core';
 * const lookup = (id: string): Awaitable<boolean> => id.length > 0;
 * const peer = node.metadata(channel.encryptorAddress)?.attributes?.[IDENTITY_SECURE_CHANNEL_IDENTIFIER];
 * if (frame.length > MAX_MESSAGE_SIZE) throw new RangeError('too large');
 * ```
 */

/** Something that may be synchronous or asynchronous (stores backed by memory or by a database). */
export type Awaitable<T> = T | Promise<T>;

/**
 * The metadata attribute Ockam puts on a secure channel's encryptor address, naming the peer's
 * identifier: the secure channel writes it, access controls read it.
 */
export const IDENTITY_SECURE_CHANNEL_IDENTIFIER = 'IDENTITY_SECURE_CHANNEL_IDENTIFIER';

/**
 * The largest routing message a transport carries, 16 MiB (`MAX_MESSAGE_SIZE` of Ockam's TCP and UDP
 * transports): a frame or a reassembled message above it is refused before it is buffered.
 */
export const MAX_MESSAGE_SIZE = 16 * 1024 * 1024;

/** How long a stream transport's (TCP, WebSocket) `connect` waits for its connection by default. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** Inbound bytes a stream transport connection buffers while the node is busy before it pauses reading. */
export const DEFAULT_RECEIVE_BUFFER_BYTES = 256 * 1024;

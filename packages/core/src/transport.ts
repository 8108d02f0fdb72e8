/**
 * The Transport interface: what a node needs from a transport package (TCP, UDP, WebSocket, BLE)
 * to turn a transport address in a route into the local address of a connection's sender.
 *
 * Resolution happens only when local code asks for it (`node.resolveRoute`), never for a message
 * that arrived from the network: a node never opens a connection because a remote peer asked it to.
 */
import type { Address } from './address.js';

export interface Transport {
  /** The transport type this transport handles (TCP = 1, …). */
  readonly type: number;
  /** Connects (or reuses a connection) and returns the LOCAL address of its sender worker. */
  resolve(address: Address, options?: { signal?: AbortSignal }): Promise<Address>;
  /** Closes every listener and connection. */
  stop(): Promise<void>;
}

/** A bound WebSocket server registered as a flow-control spawner (PROTOCOL.md §1.5, §2.4). */
import { StreamListener, type StreamListenerInit } from '@ockam/core';
import type { WebSocketPeer } from '../websocket-connection.js';
import type { WebSocketListener, WebSocketServerHandle } from '../websocket-listener.js';
import type { Connection } from './connection.js';
import type { OriginPolicy } from './origin-policy.js';

export class Listener extends StreamListener<Connection> implements WebSocketListener {
  readonly address: WebSocketPeer;
  readonly url: string;
  readonly #server: WebSocketServerHandle;
  readonly #origins: OriginPolicy;

  constructor(init: StreamListenerInit, server: WebSocketServerHandle, url: string, origins: OriginPolicy) {
    super(init);
    this.#server = server;
    this.address = server.address;
    this.url = url;
    this.#origins = origins;
  }

  allowOrigin(origin: string): void {
    this.#origins.allow(origin);
  }

  protected stopAccepting(): Promise<void> {
    return this.#server.close();
  }
}

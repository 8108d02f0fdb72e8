/** A bound `net.Server` registered as a flow-control spawner (PROTOCOL.md §1.5, §2.1). */
import type { Server } from 'node:net';
import { StreamListener, type StreamListenerInit } from '@ockam/core';
import type { TcpPeer } from '../tcp-connection.js';
import type { TcpListener } from '../tcp-listener.js';
import type { Connection } from './connection.js';

export class Listener extends StreamListener<Connection> implements TcpListener {
  readonly address: TcpPeer;
  readonly #server: Server;

  constructor(init: StreamListenerInit, server: Server, address: TcpPeer) {
    super(init);
    this.#server = server;
    this.address = address;
  }

  protected async stopAccepting(): Promise<void> {
    // The listening handle is released at once; the callback would wait for accepted sockets.
    this.#server.close();
  }
}

/** A BLE advertisement registered as a flow-control spawner (PROTOCOL.md §1.5, §2.3). */
import { StreamListener, type StreamListenerInit } from '@ockam/core';
import type { BleAdvertisement } from '../ble-adapter.js';
import type { BleListener } from '../ble-connection.js';
import type { Connection } from './connection.js';

export class Listener extends StreamListener<Connection> implements BleListener {
  readonly name: string;
  #advertisement: BleAdvertisement | undefined;

  constructor(init: StreamListenerInit, name: string) {
    super(init);
    this.name = name;
  }

  started(advertisement: BleAdvertisement): void {
    this.#advertisement = advertisement;
  }

  protected async stopAccepting(): Promise<void> {
    await this.#advertisement?.stop();
  }
}

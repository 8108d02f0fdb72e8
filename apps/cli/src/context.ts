/**
 * What every command needs: the state directory, the database, and the nodes in it, including
 * the default node that is created (or started) on demand.
 */

import { OckamError } from '@ockam/core';
import { isNodeRunning, spawnNode } from '@ockam/daemon';
import { ControlClient } from '@ockam/node/control';
import { Identities, type NodeRecord, OckamHome, State, validateNodeName } from '@ockam/state';
import type { Output } from './output.js';

export const DEFAULT_NODE_NAME = 'default';

export class CliContext {
  readonly home: OckamHome;
  readonly out: Output;
  #state: State | undefined;

  constructor(out: Output, home = new OckamHome()) {
    this.out = out;
    this.home = home;
  }

  get state(): State {
    if (this.#state === undefined) {
      this.#state = new State(this.home);
      for (const warning of this.home.warnings()) this.out.warn(warning);
    }
    return this.#state;
  }

  get identities(): Identities {
    return new Identities(this.state);
  }

  close(): void {
    this.#state?.close();
    this.#state = undefined;
  }

  client(name: string): ControlClient {
    return new ControlClient(this.home.socketPath(name), name);
  }

  /** The named node, or the default node; the default is created or started when needed. */
  async runningNode(name?: string): Promise<NodeRecord> {
    if (name !== undefined) {
      const record = this.state.requireNode(validateNodeName(name));
      if (!(await isNodeRunning(this.home, record))) {
        throw new OckamError(
          'node',
          'not-found',
          `Node ${name} is not running (start it with 'ockam node start ${name}')`,
        );
      }
      return record;
    }
    let record = this.state.defaultNode();
    if (!record) {
      this.out.info(`Creating the default node '${DEFAULT_NODE_NAME}'...`);
      this.state.createNode(DEFAULT_NODE_NAME);
      record = this.state.requireNode(DEFAULT_NODE_NAME);
    }
    if (!(await isNodeRunning(this.home, record))) {
      await spawnNode(
        this.home,
        record.name,
        record.tcpListenerAddress ? { tcpListenerAddress: record.tcpListenerAddress } : {},
      );
      record = this.state.requireNode(record.name);
    }
    return record;
  }
}

/**
 * What every command needs: the state directory, the database, and the nodes in it, including
 * the default node that is created (or started) on demand.
 */

import { createRequire } from 'node:module';
import { MultiAddr, OckamError } from '@ockam/core';
import { isNodeRunning, spawnNode } from '@ockam/daemon';
import { ControlClient } from '@ockam/node/control';
import type { Identities, NodeRecord, Projects } from '@ockam/state';
import { OckamHome, State, validateNodeName } from '@ockam/state';
import type * as LazyState from './lazy-state.js';
import type { Output } from './output.js';

let lazy: typeof LazyState | undefined;
/** See lazy-state.ts: loaded the first time a command asks for identities or projects. */
function lazyState(): typeof LazyState {
  lazy ??= createRequire(import.meta.url)('./lazy-state.js') as typeof LazyState;
  return lazy;
}

export const DEFAULT_NODE_NAME = 'default';

/**
 * A node name as Ockam takes one wherever a node is expected (`--at`, `--from`, `--to`, positional
 * names): `n1`, or a multiaddr whose first part is `/node/n1` (Ockam's `extract_address_value`),
 * so `--at /node/n1` and `--from /node/n1` work as in Ockam's docs.
 */
export function nodeName(text: string): string {
  if (!text.includes('/')) return validateNodeName(text);
  let first: { protocol: string; value: string } | undefined;
  try {
    first = MultiAddr.parse(text).components[0];
  } catch (cause) {
    throw new OckamError('node', 'invalid', `Invalid node '${text}': expected a name or /node/NAME`, {
      cause,
    });
  }
  if (first?.protocol !== 'node')
    throw new OckamError('node', 'invalid', `Invalid node '${text}': expected a name or /node/NAME`);
  return validateNodeName(first.value);
}

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
    return new (lazyState().Identities)(this.state);
  }

  get projects(): Projects {
    return new (lazyState().Projects)(this.state);
  }

  close(): void {
    this.#state?.close();
    this.#state = undefined;
  }

  client(name: string): ControlClient {
    return new ControlClient(this.home.socketPath(name), name);
  }

  /** The node named `name` (`n1` or `/node/n1`), running or not; it must exist. */
  requireNode(name: string): NodeRecord {
    return this.state.requireNode(nodeName(name));
  }

  /**
   * The named node (`n1` or `/node/n1`), which must be running, or the default node, which is
   * created or started when needed.
   */
  async runningNode(name?: string): Promise<NodeRecord> {
    if (name !== undefined) {
      const record = this.requireNode(name);
      if (!(await isNodeRunning(this.home, record))) {
        throw new OckamError(
          'node',
          'not-found',
          `Node ${record.name} is not running (start it with 'ockam node start ${record.name}')`,
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

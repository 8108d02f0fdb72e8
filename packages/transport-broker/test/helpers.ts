/**
 * Nodes for the broker tests: a core `Node` with a `BrokerTransport` over a real broker, an
 * identity, a secure channel listener at `api` exposed to the inbox, and echo/uppercase exposed
 * only through the channel (as a node's services are).
 */
import {
  decodeBareString,
  encodeBareString,
  type FlowControlId,
  type LogLine,
  Node,
  type RouteLike,
  recordingLogger,
  startEcho,
  startUppercase,
  type Vault,
} from '@ockam/core';
import { waitFor } from '@ockam/core/testing';
import { createIdentity, type Identity } from '@ockam/identity';
import {
  createSecureChannel,
  createSecureChannelListener,
  type SecureChannel,
  type SecureChannelListener,
  trustEveryone,
} from '@ockam/secure-channel';
import { createVault } from '@ockam/vault';
import type { BrokerClient } from '../src/broker-client.js';
import { type BrokerListener, BrokerTransport, type BrokerTransportOptions } from '../src/index.js';

export interface BrokerNode {
  readonly node: Node;
  readonly broker: BrokerTransport;
  readonly inbox: BrokerListener;
  readonly lines: LogLine[];
  readonly identity: Identity;
  readonly vault: Vault;
  stop(): Promise<void>;
}

/** A node listening on `inbox` through `client`. */
export async function brokerNode(
  name: string,
  client: BrokerClient,
  inbox: string,
  options: BrokerTransportOptions = {},
): Promise<BrokerNode> {
  const { logger, lines } = recordingLogger('debug');
  const node = new Node({ name, logger });
  const broker = new BrokerTransport(node, client, options);
  node.registerTransport(broker);
  const vault = createVault('node');
  const identity = await createIdentity(vault);
  const listener = await broker.listen(inbox);
  return {
    node,
    broker,
    inbox: listener,
    lines,
    identity,
    vault,
    stop: async () => {
      await broker.stop();
      await node.stop();
    },
  };
}

/** Starts a secure channel listener at `api` for `sources`, with echo and uppercase behind it. */
export async function serveChannels(
  n: { node: Node; identity: Identity; vault: Vault },
  sources: readonly FlowControlId[],
): Promise<SecureChannelListener> {
  const listener = await createSecureChannelListener(n.node, {
    identity: n.identity,
    vault: n.vault,
    trustPolicy: trustEveryone,
    consumerOf: [...sources],
  });
  startEcho(n.node);
  startUppercase(n.node);
  n.node.flowControls.addConsumer('echo', listener.flowControlId);
  n.node.flowControls.addConsumer('uppercase', listener.flowControlId);
  return listener;
}

/** Opens a channel from `n` along `route` (ending at a listener). */
export function openChannel(
  n: { node: Node; identity: Identity; vault: Vault },
  route: RouteLike,
): Promise<SecureChannel> {
  return createSecureChannel(n.node, route, {
    identity: n.identity,
    vault: n.vault,
    trustPolicy: trustEveryone,
    timeoutMs: 20_000,
  });
}

/** Sends `text` through `channel` to `service` and returns the reply's text. */
export async function requestText(
  node: Node,
  channel: SecureChannel,
  service: string,
  text: string,
  timeoutMs = 20_000,
): Promise<string> {
  const client = node.client();
  node.flowControls.addConsumer(client.address, channel.flowControlId);
  try {
    // echo returns what it got; uppercase wants (and answers) a BARE string.
    const reply = await client.request([channel.encryptorAddress, service], encodeBareString(text), {
      timeoutMs,
    });
    return decodeBareString(reply.payload);
  } finally {
    await client.stop();
  }
}

export { waitFor };

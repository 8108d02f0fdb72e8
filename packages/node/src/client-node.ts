/**
 * A short-lived node inside the `ockam` command itself, for commands that talk to a project's
 * authority on behalf of an identity (enroll, ticket): no daemon needed, and the identity's keys
 * never leave this process's vault.
 */
import { type Client, Node, noopLogger } from '@ockam/core';
import type { State } from '@ockam/state';
import { Identities, Projects } from '@ockam/state';
import { TcpTransport } from '@ockam/transport-tcp';
import { type ResolveOptions, type RouteContext, resolveMultiaddr } from './route-resolver.js';
import { SecureChannels } from './secure-channels.js';

export interface ClientNode {
  readonly node: Node;
  /** Resolves a multiaddr (`/project/NAME`, `/ip4/…/tcp/…/secure/api`) and returns a client that can receive replies through it. */
  connect(
    route: string,
    options?: ResolveOptions,
  ): Promise<{ client: Client; via: import('@ockam/core').Route }>;
}

export async function withClientNode<T>(
  state: State,
  identityName: string | undefined,
  fn: (c: ClientNode) => Promise<T>,
): Promise<T> {
  // The command reports what fails itself; its short-lived node's warnings would only interleave.
  const node = new Node({ name: 'ockam-command', logger: noopLogger });
  const tcp = new TcpTransport(node);
  node.registerTransport(tcp);
  const identities = new Identities(state);
  const channels = new SecureChannels({
    node,
    identities,
    defaultIdentity: (await identities.ensureIdentity(identityName)).name,
    listenerSources: [],
    services: [],
  });
  const projects = new Projects(state);
  const ctx: RouteContext = {
    nodeName: 'ockam-command',
    state,
    tcp,
    channels,
    project: (p) => {
      const r = projects.require(p);
      return { route: r.route, identifier: r.identifier };
    },
  };
  try {
    return await fn({
      node,
      async connect(route, options = {}) {
        const c = await resolveMultiaddr(ctx, route, { timeoutMs: 15_000, ...options });
        const client = node.client();
        if (c.flowControlId) node.flowControls.addConsumer(client.address, c.flowControlId);
        return { client, via: c.route };
      },
    });
  } finally {
    await channels.stop();
    await node.stop();
  }
}

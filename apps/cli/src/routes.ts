/**
 * Turns a multiaddr typed by the user into a route the sending node can use, with the node's own
 * resolver (`buildRoute` from `@ockam/node`): the command only says how to build each part, through
 * the control APIs of its local nodes.
 *
 * Each `/node/N` (or `/ip4|ip6|dnsaddr/…/tcp/P`) hop is a TCP connection created BY THE NODE
 * BEFORE IT: for `/node/a/node/b/node/c/service/x` sent from `a`, node `a` connects to `b` and node
 * `b` connects to `c`. Connections made by intermediate nodes are exposed to their listener, so
 * traffic that arrived from the previous hop may use them. A leading `/node/<from>` is where the
 * message starts, not a hop.
 */
import { Address, OckamError } from '@ockam/core';
import { buildRoute, type RouteBuilder } from '@ockam/node';
import type { CliContext } from './context.js';

export interface SecureHopOptions {
  identity?: string;
  authorized?: string[];
  timeoutMs?: number;
  /** Collects the addresses of channels created for `/secure` hops, so the caller can close them. */
  created?: string[];
}

export async function resolveRoute(
  ctx: CliContext,
  fromNode: string,
  text: string,
  secureOptions: SecureHopOptions = {},
): Promise<string[]> {
  const from = ctx.client(fromNode);
  const builder: RouteBuilder = {
    nodeName: fromNode,
    nodeListener(name) {
      const target = ctx.state.requireNode(name);
      if (!target.tcpListenerAddress)
        throw new OckamError('node', 'not-found', `Node ${name} has no TCP listener (is it running?)`);
      return target.tcpListenerAddress;
    },
    async connect(to, via) {
      const conn = await ctx
        .client(via ?? fromNode)
        .call('createTcpConnection', { to, expose: via !== undefined && via !== fromNode });
      return Address.local(conn.senderAddress);
    },
    async brokerHop(kind, name, via) {
      // Made by the start node, or (exposed) by the local node of the hop before, as TCP hops are.
      const conn = await ctx.client(via ?? fromNode).call('createBrokerConnection', {
        kind,
        target: name,
        expose: via !== undefined && via !== fromNode,
      });
      return Address.local(conn.senderAddress);
    },
    async createChannel(o) {
      const channel = await from.call('createSecureChannel', {
        route: o.route.addresses.map((a) => a.toString()),
        ...(o.authorized ? { authorized: o.authorized } : {}),
        ...(o.identity ? { identity: o.identity } : {}),
        ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
      });
      secureOptions.created?.push(channel.address);
      return { address: channel.address };
    },
    deleteChannel: async (address) => {
      await from.call('deleteSecureChannel', { address });
    },
    project: (name) => {
      const p = ctx.projects.require(name);
      return { route: p.route, identifier: p.identifier };
    },
  };
  const { route } = await buildRoute(builder, text, {
    ...(secureOptions.identity ? { identity: secureOptions.identity } : {}),
    ...(secureOptions.authorized ? { authorized: secureOptions.authorized } : {}),
    ...(secureOptions.timeoutMs ? { timeoutMs: secureOptions.timeoutMs } : {}),
  });
  return route.addresses.map((a) => a.toString());
}

/**
 * Turns a multiaddr typed by the user into a route the sending node can use (PROTOCOL.md §12).
 *
 * Each `/node/N` (or `/ip4|ip6|dnsaddr/…/tcp/P`) hop is a TCP connection created BY THE NODE
 * BEFORE IT, on our request through that node's control API: for `/node/a/node/b/node/c/service/x`
 * sent from `a`, node `a` connects to `b` and node `b` connects to `c`. Connections made by
 * intermediate nodes are exposed to their listener, so traffic that arrived from the previous hop
 * may use them. A leading `/node/<from>` is where the message starts, not a hop.
 */
import { MultiAddr, type MultiAddrComponent, OckamError } from '@ockam/core';
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
  const ma = MultiAddr.parse(text);
  const c = ma.components;
  const route: string[] = [];
  let current = fromNode;
  for (let i = 0; i < c.length; i++) {
    const { protocol, value } = c[i]!;
    switch (protocol) {
      case 'node': {
        if (i === 0 && value === fromNode) break;
        const target = ctx.state.requireNode(value);
        if (!target.tcpListenerAddress)
          throw new OckamError('node', 'not-found', `Node ${value} has no TCP listener (is it running?)`);
        route.push(await connect(ctx, current, fromNode, target.tcpListenerAddress));
        current = value;
        break;
      }
      case 'ip4':
      case 'ip6':
      case 'dnsaddr': {
        const port = (c[++i] as MultiAddrComponent).value;
        const host = protocol === 'ip6' ? `[${value}]` : value;
        route.push(await connect(ctx, current, fromNode, `${host}:${port}`));
        current = `${host}:${port}`;
        break;
      }
      case 'service':
      case 'worker':
        route.push(`0#${value}`);
        break;
      case 'secure': {
        // A secure channel from the sending node to the listener at this point of the route; the
        // rest of the route continues through the channel.
        const channel = await ctx.client(fromNode).call('createSecureChannel', {
          route: [...route, `0#${value}`],
          ...(secureOptions.identity ? { identity: secureOptions.identity } : {}),
          ...(secureOptions.authorized ? { authorized: secureOptions.authorized } : {}),
          ...(secureOptions.timeoutMs ? { timeoutMs: secureOptions.timeoutMs } : {}),
        });
        secureOptions.created?.push(channel.address);
        route.length = 0;
        route.push(`0#${channel.address}`);
        break;
      }
      case 'project':
      case 'space':
        throw new OckamError(
          'node',
          'unsupported',
          `'/${protocol}/${value}' needs a project; run 'ockam enroll' first (not supported yet by this ockam)`,
        );
      case 'tcp':
        throw new OckamError('node', 'invalid', `'/tcp' must follow a host in ${text}`);
    }
  }
  if (route.length === 0) throw new OckamError('node', 'invalid', `Route ${text} has no destination`);
  return route;
}

async function connect(ctx: CliContext, current: string, fromNode: string, to: string): Promise<string> {
  // Only nodes we run locally can be asked to connect onwards.
  if (ctx.state.getNode(current) === undefined) {
    throw new OckamError(
      'node',
      'unsupported',
      `Cannot ask ${current} to connect to ${to}: only local nodes can create hops`,
    );
  }
  const conn = await ctx.client(current).call('createTcpConnection', { to, expose: current !== fromNode });
  return `0#${conn.senderAddress}`;
}

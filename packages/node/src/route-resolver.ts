/**
 * Turns a multiaddr into a route on this node, building what it needs on the way (PROTOCOL.md
 * §12): one TCP connection (`/node/N`, `/ip4|ip6|dnsaddr/…/tcp/P`), secure channels (`/secure/X`:
 * a channel to the listener X at that point of the route; the rest of the route goes through
 * it), and local addresses (`/service/X`, `/worker/X`). Inlets and relays call it again whenever
 * their route dies, so it runs in the node, not in the CLI.
 *
 * Like Ockam, a route has at most one TCP hop made by this node; hops further on are the business
 * of the nodes there.
 */
import { Address, type Logger, MultiAddr, OckamError, Route, TCP } from '@ockam/core';
import type { RouteConnection } from '@ockam/portals';
import type { State } from '@ockam/state';
import type { TcpTransport } from '@ockam/transport-tcp';
import type { SecureChannels } from './secure-channels.js';

export interface ResolveOptions {
  /** Identifiers the LAST secure channel of the route must authenticate (`--authorized`). */
  authorized?: string[];
  /** Identity to present in channels (the node's identity if omitted). */
  identity?: string;
  timeoutMs?: number;
}

export interface RouteContext {
  readonly nodeName: string;
  readonly state: State;
  readonly tcp: TcpTransport;
  readonly channels: SecureChannels;
  readonly logger?: Logger;
  /** Resolves `/project/NAME` to the multiaddr of the project node and its identifier. */
  readonly project?: (name: string) => { route: string; identifier: string };
}

function invalid(message: string): OckamError {
  return new OckamError('node', 'invalid', message);
}

/** Expands `/project/NAME` prefixes into the project's route and required identity. */
function expandProject(
  ctx: RouteContext,
  text: string,
  options: ResolveOptions,
): { text: string; options: ResolveOptions } {
  const m = /^\/project\/([^/]+)(\/.*)?$/.exec(text);
  if (!m) return { text, options };
  if (!ctx.project)
    throw invalid(
      `'/project/${m[1]}' needs a project; run 'ockam enroll' or 'ockam project enroll TICKET' first`,
    );
  const p = ctx.project(m[1]!);
  // A channel to the project node, authorized to the project's identity, then the rest.
  const rest = m[2] ?? '';
  return {
    text: `${p.route}/secure/api${rest}`,
    options: { ...options, projectIdentifier: p.identifier } as ResolveOptions,
  };
}

export async function resolveMultiaddr(
  ctx: RouteContext,
  text: string,
  options: ResolveOptions = {},
): Promise<RouteConnection> {
  const expanded = expandProject(ctx, text, options);
  const projectIdentifier = (expanded.options as { projectIdentifier?: string }).projectIdentifier;
  const components = MultiAddr.parse(expanded.text).components;
  const lastSecure = components.map((c) => c.protocol).lastIndexOf('secure');
  const firstSecure = components.findIndex((c) => c.protocol === 'secure');
  const route: Address[] = [];
  const opened: string[] = [];
  let flowControlId: string | undefined;
  let tcpHop = false;
  const closeAll = async () => {
    for (const a of opened.reverse()) await ctx.channels.deleteChannel(a).catch(() => {});
  };
  try {
    for (let i = 0; i < components.length; i++) {
      const { protocol, value } = components[i]!;
      switch (protocol) {
        case 'node':
        case 'ip4':
        case 'ip6':
        case 'dnsaddr': {
          let hostPort: string;
          if (protocol === 'node') {
            if (i === 0 && value === ctx.nodeName) break;
            const n = ctx.state.getNode(value);
            if (!n?.tcpListenerAddress) throw invalid(`Node ${value} does not exist or has no TCP listener`);
            hostPort = n.tcpListenerAddress;
          } else {
            const port = components[++i]!.value;
            hostPort = protocol === 'ip6' ? `[${value}]:${port}` : `${value}:${port}`;
          }
          if (tcpHop || route.length > 0) {
            throw invalid(`Route ${text}: only the first hop may be a TCP connection made by this node`);
          }
          tcpHop = true;
          route.push(await ctx.tcp.resolve(new Address(TCP, hostPort)));
          break;
        }
        case 'service':
        case 'worker':
          route.push(Address.local(value));
          break;
        case 'secure': {
          // The channel to a project is authorized to the project's identity; the last channel of
          // the route to the identities the caller named.
          const required =
            projectIdentifier && i === firstSecure
              ? [projectIdentifier]
              : i === lastSecure
                ? options.authorized
                : undefined;

          const info = await ctx.channels.createChannel({
            route: new Route([...route, Address.local(value)]),
            ...(required?.length ? { authorized: required } : {}),
            ...(options.identity ? { identity: options.identity } : {}),
            ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
            ...(flowControlId ? { consumerOf: [flowControlId] } : {}),
          });
          opened.push(info.address);
          flowControlId = ctx.channels.handle(info.address).flowControlId;
          route.length = 0;
          route.push(Address.local(info.address));
          break;
        }
        case 'project':
        case 'space':
          throw invalid(`'/${protocol}/${value}' may only start a route`);
        case 'tcp':
          throw invalid(`'/tcp' must follow a host in ${text}`);
      }
    }
  } catch (e) {
    await closeAll();
    throw e;
  }
  if (route.length === 0) throw invalid(`Route ${text} has no destination`);
  return {
    route: new Route(route),
    ...(flowControlId ? { flowControlId } : {}),
    close: closeAll,
  };
}

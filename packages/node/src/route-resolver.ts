/**
 * The one multiaddr resolver (PROTOCOL.md §12): turns `/node/N`, `/ip4|ip6|dnsaddr/…/tcp/P`,
 * `/project/P`, `/secure/X`, `/service/X` and `/worker/X` into a route, building what it needs on
 * the way: TCP connections, secure channels (`/secure/X`: a channel to the listener X at that
 * point of the route; the rest of the route goes through it), local addresses.
 *
 * What it builds, it builds through a `RouteBuilder`: a node builds in-process (`resolveMultiaddr`,
 * which inlets and relays call again whenever their route dies); the `ockam` command builds
 * through the control APIs of its local nodes. Both therefore read a multiaddr the same way.
 *
 * The first TCP hop is made by the node the route starts at. A later TCP hop is made by the node
 * of the hop before it, which only a builder that can ask other nodes (the command's, for its own
 * local nodes) supports; a node on its own makes one TCP hop, like Ockam.
 */
import { Address, type Logger, MultiAddr, OckamError, Route, TCP } from '@ockam/core';
import type { RouteConnection } from '@ockam/portals';
import type { TcpTransport } from '@ockam/transport-tcp';
import type { BrokerKind, NodeBrokers } from './brokers.js';
import type { NodeRecords } from './memory-state.js';
import type { SecureChannels } from './secure-channels.js';

export interface ResolveOptions {
  /** Identifiers the LAST secure channel of the route must authenticate (`--authorized`). */
  authorized?: string[];
  /** Identity to present in channels (the node's identity if omitted). */
  identity?: string;
  timeoutMs?: number;
}

/** What resolving a multiaddr does on the way; see the module comment. */
export interface RouteBuilder {
  /** The node the route starts at: a leading `/node/<this name>` names it, not a hop. */
  readonly nodeName: string;
  /** The TCP listener (HOST:PORT) of the node named `name` in the state, if it has one. */
  nodeListener(name: string): string | undefined;
  /**
   * A TCP connection to `hostPort`, made by the node the route starts at (`from` undefined) or
   * by the local node `from` for the hop after it; returns the address to route through.
   */
  connect(hostPort: string, from: string | undefined): Promise<Address>;
  /**
   * A connection that publishes to the Kafka topic or RabbitMQ queue `name` (`/kafka/NAME`,
   * `/amqp/NAME`), made by the route's start node (`from` undefined) or, exposed, by the local
   * node `from` for the hop after it; returns the address to route through. Absent: no broker hops.
   */
  brokerHop?(kind: BrokerKind, name: string, from: string | undefined): Promise<Address>;
  /** Opens a secure channel from the route's start node; its flow-control id when the builder knows it. */
  createChannel(options: {
    route: Route;
    authorized?: string[];
    identity?: string;
    timeoutMs?: number;
    consumerOf?: string[];
  }): Promise<{ address: string; flowControlId?: string }>;
  deleteChannel(address: string): Promise<void>;
  /**
   * The flow-control id of an existing secure channel of the start node at `address` (a route
   * that starts `/service/<channel>`, as `secure-channel create | tcp-inlet create --to -/…` makes):
   * what comes back through it reaches only that flow's consumers.
   */
  channelFlowControl?(address: string): string | undefined;
  /** Resolves `/project/NAME` to the multiaddr of the project node and its identifier. */
  project?(name: string): { route: string; identifier: string };
}

/** What a node's own resolution needs (its TCP transport and secure channels). */
export interface RouteContext {
  readonly nodeName: string;
  readonly state: NodeRecords;
  readonly tcp: TcpTransport;
  /** The node's Kafka and RabbitMQ hops, if any. */
  readonly brokers?: NodeBrokers;
  readonly channels: SecureChannels;
  readonly logger?: Logger;
  /** Resolves `/project/NAME` to the multiaddr of the project node and its identifier. */
  readonly project?: (name: string) => { route: string; identifier: string };
}

function invalid(message: string): OckamError {
  return new OckamError('node', 'invalid', message);
}

/** The builder of a node resolving in-process: one TCP hop, channels of its own. */
function nodeBuilder(ctx: RouteContext, text: string): RouteBuilder {
  return {
    nodeName: ctx.nodeName,
    nodeListener: (name) => ctx.state.getNode(name)?.tcpListenerAddress ?? undefined,
    async connect(hostPort, from) {
      if (from !== undefined)
        throw invalid(`Route ${text}: only the first hop may be a TCP connection made by this node`);
      return ctx.tcp.resolve(new Address(TCP, hostPort));
    },
    async brokerHop(kind, name, from) {
      if (from !== undefined)
        throw invalid(`Route ${text}: only the first hop may be a ${kind} connection made by this node`);
      if (!ctx.brokers) throw invalid(`Route ${text}: this node has no ${kind} transport`);
      return ctx.brokers.resolve(kind, name);
    },
    async createChannel(options) {
      const info = await ctx.channels.createChannel(options);
      return { address: info.address, flowControlId: ctx.channels.handle(info.address).flowControlId };
    },
    deleteChannel: (address) => ctx.channels.deleteChannel(address),
    channelFlowControl: (address) => {
      try {
        return ctx.channels.handle(address).flowControlId;
      } catch {
        return undefined;
      }
    },
    ...(ctx.project ? { project: ctx.project } : {}),
  };
}

/** Resolves a multiaddr on a node, building the connection and channels it names. */
export function resolveMultiaddr(
  ctx: RouteContext,
  text: string,
  options: ResolveOptions = {},
): Promise<RouteConnection> {
  return buildRoute(nodeBuilder(ctx, text), text, options);
}

/**
 * Resolves a multiaddr through `builder`; on failure, closes the channels it opened.
 *
 * @example
 * ```ts
 * // The command: every part is built by its local nodes, through their control APIs.
 * const { route, close } = await buildRoute(commandBuilder, '/node/n1/node/n2/secure/api/service/echo');
 * ```
 */
export async function buildRoute(
  builder: RouteBuilder,
  text: string,
  options: ResolveOptions = {},
): Promise<RouteConnection> {
  // `/project/NAME…`: a channel to the project node, authorized to the project's identity, then the rest.
  let projectIdentifier: string | undefined;
  const m = /^\/project\/([^/]+)(\/.*)?$/.exec(text);
  if (m) {
    if (!builder.project)
      throw invalid(
        `'/project/${m[1]}' needs a project; run 'ockam enroll' or 'ockam project enroll TICKET' first`,
      );
    const p = builder.project(m[1]!);
    projectIdentifier = p.identifier;
    text = `${p.route}/secure/api${m[2] ?? ''}`;
  }
  const components = MultiAddr.parse(text).components;
  const lastSecure = components.map((c) => c.protocol).lastIndexOf('secure');
  const firstSecure = components.findIndex((c) => c.protocol === 'secure');
  const route: Address[] = [];
  const opened: string[] = [];
  let flowControlId: string | undefined;
  let tcpHops = 0;
  // The local node at this point of the route (after `/node/N`), which may make the next TCP hop.
  let current: string | undefined = builder.nodeName;
  const closeAll = async () => {
    for (const a of opened.reverse()) await builder.deleteChannel(a).catch(() => {});
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
            if (i === 0 && value === builder.nodeName) break;
            const listener = builder.nodeListener(value);
            if (!listener) throw invalid(`Node ${value} does not exist or has no TCP listener`);
            hostPort = listener;
          } else {
            const port = components[++i]!.value;
            hostPort = protocol === 'ip6' ? `[${value}]:${port}` : `${value}:${port}`;
          }
          if (tcpHops === 0 && route.length > 0)
            throw invalid(`Route ${text}: a TCP hop must come first, or follow another TCP hop`);
          if (tcpHops > 0 && current === undefined)
            throw invalid(`Route ${text}: only a local node (/node/N) can make the TCP hop to ${hostPort}`);
          route.push(await builder.connect(hostPort, tcpHops === 0 ? undefined : current));
          tcpHops++;
          current = protocol === 'node' ? value : undefined;
          break;
        }
        case 'kafka':
        case 'amqp': {
          // Like a TCP hop: first, or right after `/node/N`, whose node then publishes.
          if (route.length > 0 && !(tcpHops > 0 && current !== undefined && route.length === tcpHops))
            throw invalid(`Route ${text}: a /${protocol} hop must come first, or right after /node/NAME`);
          if (!builder.brokerHop) throw invalid(`Route ${text}: /${protocol} hops are not supported here`);
          route.push(await builder.brokerHop(protocol, value, route.length === 0 ? undefined : current));
          current = undefined;
          break;
        }
        case 'service':
        case 'worker':
          if (route.length === 0 && flowControlId === undefined)
            flowControlId = builder.channelFlowControl?.(value);
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
          const channel = await builder.createChannel({
            route: new Route([...route, Address.local(value)]),
            ...(required?.length ? { authorized: required } : {}),
            ...(options.identity ? { identity: options.identity } : {}),
            ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
            ...(flowControlId ? { consumerOf: [flowControlId] } : {}),
          });
          opened.push(channel.address);
          flowControlId = channel.flowControlId;
          route.length = 0;
          route.push(Address.local(channel.address));
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

/**
 * The control API between the `ockam` command and a node daemon: HTTP/1.1 with JSON bodies on a
 * Unix socket (`nodes/<name>/api.sock`, mode 0600). This protocol is ours, not Ockam's (DESIGN.md
 * §5). `CONTROL_API` is its one definition: the daemon serves its routes from it and
 * `ControlClient.call` builds its requests from it, so neither side spells a URL.
 *
 * An endpoint's input is one object: for POST it is the JSON body; for GET and DELETE, the keys
 * named in the path (`:address`) fill the path and the others go into the query string.
 *
 * @example
 * ```ts
 * import { ControlClient } from '@ockam/node/control';
 * const client = new ControlClient('/home/me/.ockam/nodes/n1/api.sock', 'n1');
 * const status = await client.call('status', {});
 * await client.call('deleteInlet', { name: 'db' });
 * ```
 */
import type { BrokerConnectionInfo, BrokerKind, BrokerListenerInfo } from '../brokers.js';
import type {
  KafkaInletConfig,
  KafkaInletInfo,
  KafkaOutletConfig,
  KafkaOutletInfo,
} from '../kafka-services.js';
import type {
  NodeStatus as LocalNodeStatus,
  PolicyList,
  PolicyTarget,
  ServiceInfo,
  TcpConnectionInfo,
  TcpListenerInfo,
  TrustInfo,
} from '../node.js';
import type { InletConfig, InletInfo, OutletInfo, RelayInfo } from '../portals.js';
import type { ChannelInfo, ListenerInfo } from '../secure-channels.js';

export type {
  BrokerConnectionInfo,
  BrokerKind,
  BrokerListenerInfo,
  ChannelInfo,
  InletInfo,
  KafkaInletConfig,
  KafkaInletInfo,
  KafkaOutletConfig,
  KafkaOutletInfo,
  ListenerInfo,
  OutletInfo,
  RelayInfo,
  ServiceInfo,
  TcpConnectionInfo,
  TcpListenerInfo,
};

/** `GET /node`: the node's status and the daemon's HTTP status server. */
export interface NodeStatus extends LocalNodeStatus {
  httpServerAddress: string | null;
}

export interface CreateTcpConnectionRequest {
  /** HOST:PORT to connect to. */
  to: string;
  /** Make the connection reachable from this node's listener (for multi-hop routes). */
  expose?: boolean;
}

export interface SendMessageRequest {
  /** Route as a list of address texts: `0#echo`, `1#127.0.0.1:4000`. */
  route: string[];
  payloadHex: string;
  timeoutMs?: number;
}

export interface SendMessageResponse {
  payloadHex: string;
  returnRoute: string[];
}

/** Which policy: `resource` (a name) or `resourceType` (`tcp-inlet`, `tcp-outlet`, ...). */
export type PolicyQuery = { resource: string } | { resourceType: string };

export interface ApiErrorBody {
  error: { kind: string; message: string };
}

/** The HTTP methods of the control API. */
export type Method = 'GET' | 'POST' | 'DELETE';
/** The input of an endpoint that takes none. */
export type NoInput = Record<string, never>;

/** One endpoint: where it is, and (as types only) what it takes and returns. */
export interface Endpoint<Req, Res> {
  readonly method: Method;
  readonly path: string;
  /** Never set: carries the request and response types for `RequestOf` and `ResponseOf`. */
  readonly types?: { request: Req; response: Res };
}

const endpoint = <Req, Res>(method: Method, path: string): Endpoint<Req, Res> => ({ method, path });

/** Every endpoint of the control API, by name. */
export const CONTROL_API = {
  status: endpoint<NoInput, NodeStatus>('GET', '/node'),
  workers: endpoint<NoInput, { workers: string[] }>('GET', '/workers'),
  stop: endpoint<NoInput, { stopping: string }>('POST', '/stop'),

  createTcpConnection: endpoint<CreateTcpConnectionRequest, TcpConnectionInfo>('POST', '/tcp-connections'),
  listTcpConnections: endpoint<NoInput, { connections: TcpConnectionInfo[] }>('GET', '/tcp-connections'),
  deleteTcpConnection: endpoint<{ address: string }, { deleted: string }>(
    'DELETE',
    '/tcp-connections/:address',
  ),
  createTcpListener: endpoint<{ address: string }, TcpListenerInfo>('POST', '/tcp-listeners'),
  listTcpListeners: endpoint<NoInput, { listeners: TcpListenerInfo[] }>('GET', '/tcp-listeners'),
  deleteTcpListener: endpoint<{ address: string }, TcpListenerInfo>('DELETE', '/tcp-listeners/:address'),

  /** Kafka (`kind` `kafka`, `broker` the bootstrap servers) and RabbitMQ (`amqp`, `broker` the URL) inboxes. */
  createBrokerListener: endpoint<{ kind: BrokerKind; broker: string; inbox: string }, BrokerListenerInfo>(
    'POST',
    '/broker-listeners',
  ),
  listBrokerListeners: endpoint<{ kind?: BrokerKind }, { listeners: BrokerListenerInfo[] }>(
    'GET',
    '/broker-listeners',
  ),
  deleteBrokerListener: endpoint<{ kind: BrokerKind; inbox: string }, BrokerListenerInfo>(
    'DELETE',
    '/broker-listeners/:kind/:inbox',
  ),
  createBrokerConnection: endpoint<
    { kind: BrokerKind; target: string; broker?: string; expose?: boolean },
    BrokerConnectionInfo
  >('POST', '/broker-connections'),
  listBrokerConnections: endpoint<{ kind?: BrokerKind }, { connections: BrokerConnectionInfo[] }>(
    'GET',
    '/broker-connections',
  ),
  deleteBrokerConnection: endpoint<{ kind: BrokerKind; address: string }, { deleted: string }>(
    'DELETE',
    '/broker-connections/:kind/:address',
  ),

  /** Starts a service (`kind`: only `hop`) at `address`; only the node's owner, on this socket, may. */
  startService: endpoint<{ kind: string; address: string }, ServiceInfo>('POST', '/services'),
  listServices: endpoint<NoInput, { services: ServiceInfo[] }>('GET', '/services'),

  sendMessage: endpoint<SendMessageRequest, SendMessageResponse>('POST', '/messages'),

  createSecureChannel: endpoint<
    {
      route: string[];
      authorized?: string[];
      identity?: string;
      timeoutMs?: number;
      /** Hex: presented in this handshake instead of the node's credential. */
      credential?: string;
      /** Hex: the exported identity of the authority the peer's credentials are checked against. */
      authorityIdentity?: string;
    },
    ChannelInfo
  >('POST', '/secure-channels'),
  listSecureChannels: endpoint<NoInput, { channels: ChannelInfo[] }>('GET', '/secure-channels'),
  getSecureChannel: endpoint<{ address: string }, ChannelInfo>('GET', '/secure-channels/:address'),
  deleteSecureChannel: endpoint<{ address: string }, { deleted: string }>(
    'DELETE',
    '/secure-channels/:address',
  ),
  createSecureChannelListener: endpoint<
    { address: string; authorized?: string[]; identity?: string },
    ListenerInfo
  >('POST', '/secure-channel-listeners'),
  listSecureChannelListeners: endpoint<NoInput, { listeners: ListenerInfo[] }>(
    'GET',
    '/secure-channel-listeners',
  ),
  deleteSecureChannelListener: endpoint<{ address: string }, { deleted: string }>(
    'DELETE',
    '/secure-channel-listeners/:address',
  ),

  createOutlet: endpoint<{ address?: string; to: string; allow?: string }, OutletInfo>(
    'POST',
    '/tcp-outlets',
  ),
  listOutlets: endpoint<NoInput, { outlets: OutletInfo[] }>('GET', '/tcp-outlets'),
  getOutlet: endpoint<{ address: string }, OutletInfo>('GET', '/tcp-outlets/:address'),
  deleteOutlet: endpoint<{ address: string }, { deleted: string }>('DELETE', '/tcp-outlets/:address'),

  createInlet: endpoint<InletConfig, InletInfo>('POST', '/tcp-inlets'),
  listInlets: endpoint<NoInput, { inlets: InletInfo[] }>('GET', '/tcp-inlets'),
  getInlet: endpoint<{ name: string }, InletInfo>('GET', '/tcp-inlets/:name'),
  deleteInlet: endpoint<{ name: string }, { deleted: string }>('DELETE', '/tcp-inlets/:name'),

  createRelay: endpoint<
    { name: string; at: string; authorized?: string[]; noConnectionWait?: boolean },
    RelayInfo
  >('POST', '/relays'),
  listRelays: endpoint<NoInput, { relays: RelayInfo[]; served: string[] }>('GET', '/relays'),
  getRelay: endpoint<{ name: string }, RelayInfo>('GET', '/relays/:name'),
  deleteRelay: endpoint<{ name: string }, { deleted: string }>('DELETE', '/relays/:name'),

  createKafkaOutlet: endpoint<KafkaOutletConfig, KafkaOutletInfo>('POST', '/kafka-outlets'),
  listKafkaOutlets: endpoint<NoInput, { outlets: KafkaOutletInfo[] }>('GET', '/kafka-outlets'),
  getKafkaOutlet: endpoint<{ addr: string }, KafkaOutletInfo>('GET', '/kafka-outlets/:addr'),
  deleteKafkaOutlet: endpoint<{ addr: string }, { deleted: string }>('DELETE', '/kafka-outlets/:addr'),

  createKafkaInlet: endpoint<KafkaInletConfig, KafkaInletInfo>('POST', '/kafka-inlets'),
  listKafkaInlets: endpoint<NoInput, { inlets: KafkaInletInfo[] }>('GET', '/kafka-inlets'),
  getKafkaInlet: endpoint<{ addr: string }, KafkaInletInfo>('GET', '/kafka-inlets/:addr'),
  deleteKafkaInlet: endpoint<{ addr: string }, { deleted: string }>('DELETE', '/kafka-inlets/:addr'),

  setPolicy: endpoint<PolicyQuery & { expression: string }, PolicyTarget & { expression: string }>(
    'POST',
    '/policies',
  ),
  listPolicies: endpoint<NoInput, PolicyList>('GET', '/policies'),
  getPolicy: endpoint<PolicyQuery, PolicyTarget & { expression: string }>('GET', '/policy'),
  deletePolicy: endpoint<PolicyQuery, { deleted: PolicyTarget }>('DELETE', '/policy'),

  trust: endpoint<NoInput, TrustInfo>('GET', '/trust'),
  /** Presents this credential (hex) from now on: verified against the node's authority, for its identity. */
  presentCredential: endpoint<{ credential: string }, { presented: true }>('POST', '/credentials'),
} as const;

export type ControlApi = typeof CONTROL_API;
export type EndpointName = keyof ControlApi;
export type RequestOf<N extends EndpointName> = NonNullable<ControlApi[N]['types']>['request'];
export type ResponseOf<N extends EndpointName> = NonNullable<ControlApi[N]['types']>['response'];

/**
 * What a handler receives: the claimed request, every field unchecked. It came over a socket:
 * the handler validates each field before using it.
 */
export type Untrusted<T> = { readonly [K in keyof T]?: unknown };

/** The path of `endpoint` with `input`'s path parameters filled in and the rest as a query string. */
export function endpointUrl(endpoint: Endpoint<unknown, unknown>, input: Record<string, unknown>): string {
  const rest = new URLSearchParams();
  const used = new Set<string>();
  const path = endpoint.path.replace(/:([a-zA-Z]+)/g, (_, key: string) => {
    used.add(key);
    const value = input[key];
    if (typeof value !== 'string' || value === '') throw new TypeError(`Missing path parameter '${key}'`);
    return encodeURIComponent(value);
  });
  if (endpoint.method === 'POST') return path;
  for (const [key, value] of Object.entries(input))
    if (!used.has(key) && value !== undefined) rest.set(key, String(value));
  const query = rest.toString();
  return query === '' ? path : `${path}?${query}`;
}

/** In-process nodes on real TCP sockets with real secure channels, for the authority tests. */
import { type Client, Node, type Vault } from '@ockam/core';
import { createIdentity, type Identity } from '@ockam/identity';
import {
  createSecureChannel,
  createSecureChannelListener,
  type SecureChannel,
  type SecureChannelListener,
  secureChannelIdentity,
  trustIdentifier,
} from '@ockam/secure-channel';
import { TcpTransport } from '@ockam/transport-tcp';
import { createVault } from '@ockam/vault';
import {
  type Authority,
  type AuthorityOptions,
  MemoryMemberStore,
  MemoryTokenStore,
  startAuthority,
} from '../src/index.js';
import { nowSeconds } from './helpers.js';

export interface Actor {
  readonly vault: Vault;
  readonly identity: Identity;
}

export async function actor(): Promise<Actor> {
  const vault = createVault('node');
  return { vault, identity: await createIdentity(vault) };
}

export interface Listening {
  readonly node: Node;
  readonly port: number;
  readonly channels: SecureChannelListener;
}

/** A node with a TCP listener and a secure channel listener at `api`. */
export async function listeningNode(
  name: string,
  me: Actor,
  options: {
    verifyCredentials?: (c: { peerIdentifier: string; credentials: readonly Uint8Array[] }) => Promise<void>;
  } = {},
): Promise<Listening> {
  const node = new Node({ name });
  const tcp = new TcpTransport(node);
  node.registerTransport(tcp);
  const listener = await tcp.listen('127.0.0.1:0');
  const channels = await createSecureChannelListener(node, {
    identity: me.identity,
    vault: me.vault,
    consumerOf: [listener.flowControlId],
    ...(options.verifyCredentials === undefined ? {} : { verifyCredentials: options.verifyCredentials }),
  });
  return { node, port: listener.address.port, channels };
}

export interface AuthorityHarness extends Listening {
  readonly authority: Actor;
  readonly admin: Actor;
  readonly members: MemoryMemberStore;
  readonly tokens: MemoryTokenStore;
  readonly services: Authority;
  /** The authority's clock, in Unix seconds; tests move it. */
  clock: number;
}

export async function authorityHarness(options: Partial<AuthorityOptions> = {}): Promise<AuthorityHarness> {
  const authority = await actor();
  const admin = await actor();
  const listening = await listeningNode('authority', authority);
  const members = new MemoryMemberStore();
  const tokens = new MemoryTokenStore();
  const h = { ...listening, authority, admin, members, tokens, clock: nowSeconds() } as AuthorityHarness;
  (h as { services: Authority }).services = await startAuthority(listening.node, {
    vault: authority.vault,
    identity: authority.identity,
    projectId: 'p1',
    members,
    tokens,
    trustedIdentities: new Map([[admin.identity.identifier, new Map([['ockam-role', 'enroller']])]]),
    flowControlId: listening.channels.flowControlId,
    now: () => h.clock,
    ...options,
  });
  return h;
}

export interface Connection {
  readonly client: Client;
  readonly via: string[];
  readonly channel: SecureChannel;
  close(): Promise<void>;
}

/** Opens a secure channel from `node` to `port`'s `api`, trusting only `peer`, optionally presenting credentials. */
export async function connect(
  node: Node,
  port: number,
  me: Actor,
  peer: Identity,
  credentials?: readonly Uint8Array[],
): Promise<Connection> {
  if (node.transport(1) === undefined) node.registerTransport(new TcpTransport(node));
  const identity =
    credentials === undefined
      ? me.identity
      : await secureChannelIdentity(me.vault, me.identity, { credentials });
  const channel = await createSecureChannel(node, [`1#127.0.0.1:${port}`, 'api'], {
    identity,
    vault: me.vault,
    trustPolicy: trustIdentifier(peer.identifier),
    timeoutMs: 10_000,
  });
  const client = node.client();
  node.flowControls.addConsumer(client.address, channel.flowControlId);
  return {
    client,
    via: [channel.encryptorAddress.value],
    channel,
    async close() {
      await client.stop();
      await channel.close();
    },
  };
}

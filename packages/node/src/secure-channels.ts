/**
 * A node's secure channels and secure-channel listeners (PROTOCOL.md §3), on behalf of the control
 * API. Each identity's secure-channel purpose key is kept (its attestation in the state database,
 * its X25519 secret in the identity's vault), so peers see the same static key across restarts.
 */
import {
  type Address,
  type FlowControlId,
  type Logger,
  type Node,
  OckamError,
  type Route,
  type Vault,
} from '@ockam/core';
import type { Identity } from '@ockam/identity';
import {
  type CredentialsHook,
  createSecureChannel,
  createSecureChannelListener,
  DEFAULT_MAX_CHANNELS,
  identityVerifier,
  type KeyExchangeAccepted,
  type PeerVerifier,
  type SecureChannel,
  type SecureChannelIdentity,
  type SecureChannelListener,
  secureChannelIdentity,
  type TrustPolicy,
  trustEveryone,
  trustMultiIdentifiers,
} from '@ockam/secure-channel';
import type { NodeIdentities } from './memory-state.js';

export interface ChannelInfo {
  address: string;
  peerIdentifier: string;
  route: string[];
  identity: string;
  authorized: string[] | null;
  isOpen: boolean;
}

export interface ListenerInfo {
  address: string;
  identity: string;
  authorized: string[] | null;
  channels: number;
  /** Handshake slots taken: running responders, and failed ones until their deadline. */
  pendingHandshakes: number;
  /** msg1 dropped since the listener started (malformed, or over a pending-handshake or channel cap). */
  droppedHandshakes: number;
  /** Channels the listener holds at most (handshakes under way included). */
  maxChannels: number;
  /** Channels closed since the listener started for carrying nothing for the idle timeout. */
  idleClosedChannels: number;
}

/**
 * What each secure channel listener may spend on handshakes nobody has authenticated yet, and on
 * the channels they open (`@ockam/secure-channel`'s defaults where unset: 10 s, 256, 32, 10 s, 16;
 * 4096 channels, 256 per connection, 2 hours idle).
 */
export interface HandshakeLimits {
  /** How long a responder waits for msg3. */
  timeoutMs?: number;
  /** Unfinished handshakes per listener. */
  maxPendingHandshakes?: number;
  /** Unfinished handshakes per connection (TCP or WebSocket connection, UDP puncture, channel). */
  maxPendingHandshakesPerConnection?: number;
  /** Interval of the rate-limited lines a peer can cause (failed handshakes, dropped msg1 and frames). */
  logIntervalMs?: number;
  /** Changes a peer's identity may have (each costs signature checks before the peer is known). */
  maxPeerIdentityChanges?: number;
  /** Channels a listener holds open (handshakes under way included). */
  maxChannels?: number;
  /** Channels a listener holds open for one connection (a relay's connection counts as one). */
  maxChannelsPerConnection?: number;
  /** A channel a listener accepted that carries nothing for this long is closed. */
  idleTimeoutMs?: number;
}

/** The environment variables an operator sets them with, and the field each one sets. */
export const HANDSHAKE_LIMIT_VARIABLES = {
  OCKAM_SECURE_CHANNEL_HANDSHAKE_TIMEOUT_MS: 'timeoutMs',
  OCKAM_SECURE_CHANNEL_MAX_PENDING_HANDSHAKES: 'maxPendingHandshakes',
  OCKAM_SECURE_CHANNEL_MAX_PENDING_HANDSHAKES_PER_CONNECTION: 'maxPendingHandshakesPerConnection',
  OCKAM_SECURE_CHANNEL_LOG_INTERVAL_MS: 'logIntervalMs',
  OCKAM_SECURE_CHANNEL_MAX_PEER_IDENTITY_CHANGES: 'maxPeerIdentityChanges',
  OCKAM_SECURE_CHANNEL_MAX_CHANNELS: 'maxChannels',
  OCKAM_SECURE_CHANNEL_MAX_CHANNELS_PER_CONNECTION: 'maxChannelsPerConnection',
  OCKAM_SECURE_CHANNEL_IDLE_TIMEOUT_MS: 'idleTimeoutMs',
} as const satisfies Record<string, keyof HandshakeLimits>;

/** Reads `HANDSHAKE_LIMIT_VARIABLES`; throws on a value that is not a whole number ≥ 1. */
export function handshakeLimitsFromEnv(
  env: Record<string, string | undefined> = process.env,
): HandshakeLimits {
  const limits: HandshakeLimits = {};
  for (const [variable, field] of Object.entries(HANDSHAKE_LIMIT_VARIABLES)) {
    const v = env[variable];
    if (v === undefined || v === '') continue;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`Invalid ${variable} '${v}': a whole number ≥ 1`);
    limits[field] = n;
  }
  return limits;
}

interface LoadedIdentity {
  name: string;
  identity: Identity;
  vault: { vault: Vault; close(): void };
  channelIdentity: SecureChannelIdentity;
}

function policy(authorized: readonly string[] | undefined): TrustPolicy {
  return authorized?.length ? trustMultiIdentifiers(authorized as string[]) : trustEveryone;
}

export class SecureChannels {
  readonly #node: Node;
  readonly #identities: NodeIdentities;
  readonly #defaultIdentity: string;
  readonly #logger: Logger | undefined;
  readonly #loaded = new Map<string, Promise<LoadedIdentity>>();
  readonly #channels = new Map<
    string,
    { channel: SecureChannel; route: Route; identity: string; authorized: string[] | null }
  >();
  readonly #listeners = new Map<
    string,
    { listener: SecureChannelListener; identity: string; authorized: string[] | null }
  >();
  /** Flow-control ids whose messages may reach new listeners (the node's TCP listener). */
  readonly #listenerSources: FlowControlId[];
  /** Services exposed to every listener's channels. */
  readonly #services: string[];
  #logger2: Logger | undefined;
  /** What this node presents with its identity (a project credential), read at every handshake. */
  #credentials: () => readonly Uint8Array[] = () => [];
  #verifyCredentials: CredentialsHook | undefined;

  /** Sets the credential source and the check of what peers present (a node in a project). */
  setTrust(credentials: () => readonly Uint8Array[], verify: CredentialsHook | undefined): void {
    this.#credentials = credentials;
    this.#verifyCredentials = verify;
  }

  #withCredentials(ci: SecureChannelIdentity): SecureChannelIdentity {
    const get = () => this.#credentials();
    return {
      identifier: ci.identifier,
      changeHistory: ci.changeHistory,
      secureChannelKey: ci.secureChannelKey,
      purposeKeyAttestation: ci.purposeKeyAttestation,
      get credentials() {
        return get();
      },
    };
  }

  /** Pushes new credentials to every open channel (RefreshCredentials, PROTOCOL.md §3.3). */
  async refreshAll(credentials: readonly Uint8Array[]): Promise<void> {
    const all = [
      ...[...this.#channels.values()].map((c) => c.channel),
      ...[...this.#listeners.values()].flatMap((l) => [...l.listener.channels]),
    ];
    for (const c of all) {
      if (!c.isOpen) continue;
      await c
        .refreshCredentials(credentials)
        .catch((e) =>
          this.#logger2?.warn('could not refresh credentials on a channel', { error: (e as Error).message }),
        );
    }
  }

  readonly #handshakeLimits: Omit<HandshakeLimits, 'maxPeerIdentityChanges'>;
  /** Verifies the peers of every channel and listener (bounded by `maxPeerIdentityChanges`). */
  readonly #verifier: PeerVerifier;

  /** Handshake counters for metrics. */
  readonly handshakes = { initiated: 0, failed: 0, accepted: 0 };

  constructor(options: {
    node: Node;
    identities: NodeIdentities;
    defaultIdentity: string;
    listenerSources: FlowControlId[];
    services: string[];
    logger?: Logger;
    handshakeLimits?: HandshakeLimits;
  }) {
    const { maxPeerIdentityChanges, ...limits } = options.handshakeLimits ?? {};
    this.#handshakeLimits = limits;
    this.#verifier = identityVerifier(
      maxPeerIdentityChanges === undefined ? {} : { maxChanges: maxPeerIdentityChanges },
    );
    this.#node = options.node;
    this.#logger2 = options.logger;
    this.#identities = options.identities;
    this.#defaultIdentity = options.defaultIdentity;
    this.#listenerSources = options.listenerSources;
    this.#services = options.services;
    this.#logger = options.logger;
  }

  /** The identity (with its vault and purpose key) a channel or listener presents. */
  identity(name?: string): Promise<LoadedIdentity> {
    const key = name ?? this.#defaultIdentity;
    let p = this.#loaded.get(key);
    if (!p) {
      p = this.#load(key);
      this.#loaded.set(key, p);
      p.catch(() => this.#loaded.delete(key));
    }
    return p;
  }

  async #load(name: string): Promise<LoadedIdentity> {
    const { record, identity, vault } = await this.#identities.loadIdentity(name);
    const purposeKey = await this.#identities.ensurePurposeKey(
      identity,
      vault.vault,
      'secure-channel',
      this.#logger,
    );
    return {
      name: record.name,
      identity,
      vault,
      channelIdentity: this.#withCredentials(
        await secureChannelIdentity(vault.vault, identity, { purposeKey }),
      ),
    };
  }

  async createListener(options: {
    address: string;
    identity?: string;
    authorized?: string[];
    /** A key-exchange-only listener (Ockam's `key_exchanger`, KAFKA.md §2.5): each exchange goes here. */
    onKeyExchange?: (exchange: KeyExchangeAccepted) => void;
    /** With `onKeyExchange`: each key exchange under way (see the listener's option). */
    onKeyExchangeStarted?: (decryptorAddress: Address, settled: Promise<unknown>) => void;
  }): Promise<ListenerInfo> {
    if (this.#listeners.has(options.address) || this.#node.has(options.address)) {
      throw new OckamError(
        'channel',
        'already-exists',
        `Address ${options.address} is already in use on this node`,
      );
    }
    const id = await this.identity(options.identity);
    const listener = await createSecureChannelListener(this.#node, {
      identity: id.channelIdentity,
      vault: id.vault.vault,
      address: options.address,
      trustPolicy: policy(options.authorized),
      ...(this.#verifyCredentials ? { verifyCredentials: this.#verifyCredentials } : {}),
      consumerOf: this.#listenerSources,
      verifier: this.#verifier,
      ...this.#handshakeLimits,
      ...(options.onKeyExchange
        ? {
            keyExchangeOnly: true,
            onKeyExchange: (k: KeyExchangeAccepted) => {
              this.handshakes.accepted++;
              options.onKeyExchange!(k);
            },
            ...(options.onKeyExchangeStarted ? { onKeyExchangeStarted: options.onKeyExchangeStarted } : {}),
          }
        : {}),
      onChannel: (c) => {
        this.handshakes.accepted++;
        // Debug: the channel already logged 'secure channel established' (rate-limited, as anyone
        // can complete a handshake when every identity is trusted).
        this.#logger?.debug('secure channel accepted', { listener: options.address, peer: c.peerIdentifier });
      },
    });
    for (const s of this.#services) this.#node.flowControls.addConsumer(s, listener.flowControlId);
    // A channel may run inside another (Ockam's UDP inlets open a second channel to `api` through
    // their first one, PROTOCOL.md §2.2): every listener accepts handshakes that come out of any
    // listener's channels, this one's included. A peer gains nothing it could not get over TCP;
    // the handshake limits hold as for any other.
    const fc = this.#node.flowControls;
    for (const [address, { listener: other }] of [
      ...this.#listeners,
      [options.address, { listener }] as const,
    ]) {
      fc.addConsumer(options.address, other.flowControlId);
      fc.addConsumer(address, listener.flowControlId);
    }
    this.#listeners.set(options.address, {
      listener,
      identity: id.name,
      authorized: options.authorized?.length ? options.authorized : null,
    });
    return this.#listenerInfo(options.address)!;
  }

  /** Exposes a service (an outlet, a relay) to every listener's channels, now and later. */
  exposeService(address: string): void {
    this.#services.push(address);
    for (const { listener } of this.#listeners.values())
      this.#node.flowControls.addConsumer(address, listener.flowControlId);
  }

  /** Flow-control ids of all listeners (what an exposed TCP connection should also accept). */
  listenerFlowControlIds(): FlowControlId[] {
    return [...this.#listeners.values()].map((l) => l.listener.flowControlId);
  }

  #listenerInfo(address: string): ListenerInfo | undefined {
    const l = this.#listeners.get(address);
    return (
      l && {
        address,
        identity: l.identity,
        authorized: l.authorized,
        channels: [...l.listener.channels].filter((c) => c.isOpen).length,
        pendingHandshakes: l.listener.pendingHandshakes,
        droppedHandshakes: l.listener.droppedHandshakes,
        maxChannels: this.#handshakeLimits.maxChannels ?? DEFAULT_MAX_CHANNELS,
        idleClosedChannels: l.listener.idleClosedChannels,
      }
    );
  }

  listListeners(): ListenerInfo[] {
    return [...this.#listeners.keys()].map((a) => this.#listenerInfo(a)!);
  }

  async deleteListener(address: string): Promise<void> {
    const l = this.#listeners.get(address);
    if (!l) throw new OckamError('channel', 'not-found', `No secure channel listener at ${address}`);
    this.#listeners.delete(address);
    await l.listener.stop();
  }

  async createChannel(options: {
    route: Route;
    identity?: string;
    authorized?: string[];
    timeoutMs?: number;
    consumerOf?: string[];
    /** Presented in this channel's handshake instead of the node's (`secure-channel create --credential`). */
    credentials?: readonly Uint8Array[];
    /** Checks what the peer presents on this channel instead of the node's check (`--authority-identity`). */
    verifyCredentials?: CredentialsHook;
  }): Promise<ChannelInfo> {
    const id = await this.identity(options.identity);
    const given = options.credentials;
    const identity: SecureChannelIdentity = given
      ? {
          identifier: id.channelIdentity.identifier,
          changeHistory: id.channelIdentity.changeHistory,
          secureChannelKey: id.channelIdentity.secureChannelKey,
          purposeKeyAttestation: id.channelIdentity.purposeKeyAttestation,
          credentials: given,
        }
      : id.channelIdentity;
    const verify = options.verifyCredentials ?? this.#verifyCredentials;
    let channel: SecureChannel;
    try {
      channel = await createSecureChannel(this.#node, options.route, {
        identity,
        vault: id.vault.vault,
        trustPolicy: policy(options.authorized),
        verifier: this.#verifier,
        ...(verify ? { verifyCredentials: verify } : {}),
        ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
        // A channel through another channel: its handshake replies come out of that one.
        ...(options.consumerOf?.length ? { consumerOf: options.consumerOf } : {}),
      });
      this.handshakes.initiated++;
    } catch (e) {
      this.handshakes.failed++;
      throw e;
    }
    const address = channel.encryptorAddress.value;
    this.#channels.set(address, {
      channel,
      route: options.route,
      identity: id.name,
      authorized: options.authorized?.length ? options.authorized : null,
    });
    this.#logger?.info('secure channel created', {
      address,
      peer: channel.peerIdentifier,
      route: options.route.toString(),
    });
    return this.#channelInfo(address)!;
  }

  #channelInfo(address: string): ChannelInfo | undefined {
    const c = this.#channels.get(address);
    return (
      c && {
        address,
        peerIdentifier: c.channel.peerIdentifier,
        route: c.route.addresses.map((a) => a.toString()),
        identity: c.identity,
        authorized: c.authorized,
        isOpen: c.channel.isOpen,
      }
    );
  }

  /** The live channel at `address` (its flow-control id, `close()`), for routes the node builds itself. */
  handle(address: string): SecureChannel {
    const c = this.#channels.get(address);
    if (!c) throw new OckamError('channel', 'not-found', `No secure channel at ${address}`);
    return c.channel;
  }

  getChannel(address: string): ChannelInfo {
    const info = this.#channelInfo(address);
    if (!info) throw new OckamError('channel', 'not-found', `No secure channel at ${address}`);
    return info;
  }

  /** Unfinished handshakes, dropped msg1 and channels closed as idle over every listener, for metrics. */
  handshakeCounts(): { pending: number; dropped: number; idleClosed: number } {
    let pending = 0;
    let dropped = 0;
    let idleClosed = 0;
    for (const { listener } of this.#listeners.values()) {
      pending += listener.pendingHandshakes;
      dropped += listener.droppedHandshakes;
      idleClosed += listener.idleClosedChannels;
    }
    return { pending, dropped, idleClosed };
  }

  /** Open channels this node initiated, and channels accepted by its listeners. */
  openCounts(): { initiated: number; accepted: number } {
    let accepted = 0;
    for (const l of this.#listeners.values()) for (const c of l.listener.channels) if (c.isOpen) accepted++;
    return { initiated: [...this.#channels.values()].filter((c) => c.channel.isOpen).length, accepted };
  }

  listChannels(): ChannelInfo[] {
    for (const [a, c] of this.#channels) if (!c.channel.isOpen) this.#channels.delete(a);
    return [...this.#channels.keys()].map((a) => this.#channelInfo(a)!);
  }

  async deleteChannel(address: string): Promise<void> {
    const c = this.#channels.get(address);
    if (!c) throw new OckamError('channel', 'not-found', `No secure channel at ${address}`);
    this.#channels.delete(address);
    await c.channel.close();
  }

  /**
   * Lets `client` receive replies that come out of the channels its route goes through (a channel's
   * decryptor is a flow-control producer; Ockam's send_and_receive registers the same way).
   */
  admitReplies(client: Address, route: Route): void {
    for (const a of route.addresses) {
      const c = this.#channels.get(a.value);
      if (a.isLocal && c) this.#node.flowControls.addConsumer(client, c.channel.flowControlId);
    }
  }

  async stop(): Promise<void> {
    // Every channel, the accepted ones too, tells its peer with a Close before the transports go,
    // as Ockam's nodes do when they stop (PROTOCOL.md §3.3).
    const accepted = [...this.#listeners.values()].flatMap(({ listener }) => [...listener.channels]);
    await Promise.all([
      ...[...this.#channels.values()].map((c) => c.channel.close().catch(() => {})),
      ...accepted.map((c) => c.close().catch(() => {})),
    ]);
    for (const l of this.#listeners.values()) await l.listener.stop().catch(() => {});
    for (const p of this.#loaded.values()) (await p.catch(() => undefined))?.vault.close();
    this.#channels.clear();
    this.#listeners.clear();
  }
}

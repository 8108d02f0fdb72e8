/**
 * The secure channel listener (PROTOCOL.md §3.5): a worker (at `api` by default) that spawns one
 * responder per incoming msg1 and forwards msg1 to it, replacing its own address at the front of
 * the onward route with the responder's decryptor.
 *
 * msg1 comes from anyone, so what a listener spends on it is bounded: a responder generates a key
 * and does two DH for msg2, all of which msg2 needs (nothing can wait for msg3 without changing
 * the protocol), so the bounds are on how many and how long. At most `maxPendingHandshakes`
 * handshakes are unfinished at once, `maxPendingHandshakesPerConnection` of them from one
 * connection; each has `timeoutMs` (10 s) to finish, and one that fails keeps its slot until then.
 * msg1 over a cap is dropped; what a peer makes the listener log is rate-limited.
 *
 * A completed handshake is a channel that holds two workers, keys and flow-control entries, and
 * when the trust policy lets everyone in, anyone can complete one with a throwaway identity. So
 * the channels are bounded too: at most `maxChannels` open at once, `maxChannelsPerConnection` of
 * them from one connection (a handshake under way counts as a channel: msg1 is refused before a
 * key is generated when the cap would be exceeded), and a channel that carries nothing for
 * `idleTimeoutMs` is closed (Close is sent to the peer, PROTOCOL.md §3.3).
 *
 * Flow control: the listener is a spawner; each channel's decryptor is a producer spawned by it.
 * Services reachable through any channel of this listener must be consumers of its
 * `flowControlId`.
 *
 * @example
 * ```ts
 * import { startEcho } from '@ockam/core';
 * import { createSecureChannelListener } from '@ockam/secure-channel';
 * const listener = await createSecureChannelListener(node, { identity, vault });
 * startEcho(node);
 * node.flowControls.addConsumer('echo', listener.flowControlId);
 * ```
 */
import {
  type Address,
  type AddressLike,
  type FlowControlId,
  type Node,
  toAddress,
  type Vault,
} from '@ockam/core';
import type { Identity } from '@ockam/identity';
import type { CredentialsHook, PeerVerifier, SecureChannelIdentity } from './channel-identity.js';
import { SecureChannelError } from './errors.js';
import { identityVerifier, toSecureChannelIdentity } from './identity-verifier.js';
import { ChannelEnd, channelLogLimiter } from './internal/channel-worker.js';
import { OpenChannels } from './internal/open-channels.js';
import { PendingHandshakes } from './internal/pending-handshakes.js';
import { yieldToEventLoop } from './internal/yield-to-event-loop.js';
import type { KeyExchangeAccepted } from './key-exchange.js';
import { DHLEN, NOISE_MAX_MESSAGE_SIZE } from './noise-handshake-state.js';
import { channelHandle, type SecureChannel } from './secure-channel.js';
import { type TrustPolicy, trustEveryone } from './trust-policy.js';

/** Ockam's default listener address (`SECURE_CHANNEL_LISTENER`). */
export const DEFAULT_LISTENER_ADDRESS = 'api';

/**
 * How long a responder waits for msg3 (10 s). Far shorter than an initiator's 120 s (Ockam's
 * `DEFAULT_TIMEOUT`, which covers resolving a route and waiting for the listener): a responder has
 * sent msg2 and needs only one more round trip, and every unfinished one costs memory and, until
 * its deadline, one of the listener's pending slots.
 */
export const DEFAULT_RESPONDER_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Unfinished handshakes one listener holds at most (256). Each costs about 25 KiB and, on msg1,
 * an X25519 key generation and two DH; a failed handshake keeps its slot until its deadline, so
 * this also bounds unauthenticated handshakes per `timeoutMs`. msg1 beyond it is dropped.
 */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 256;

/**
 * Unfinished handshakes one connection may hold at once (32): a connection is what delivered msg1
 * (its `localInfo.flowControlId`): one TCP or WebSocket connection, one UDP puncture, one
 * secure channel; a UDP bind without a fixed peer counts as one (source addresses can be forged).
 * Every initiator behind one relay shares the relay's connection, so raise it on nodes reached
 * through busy relays.
 */
export const DEFAULT_MAX_PENDING_HANDSHAKES_PER_CONNECTION = 32;

/**
 * Channels one listener holds open at once (4096), counting handshakes under way. Each costs two
 * workers, two AES keys in the vault and flow-control entries (measured: about 12 KiB of heap,
 * 30-60 KiB of resident memory): a node serving a few thousand peers (a project's relay) fits,
 * and what throwaway identities can make it hold stays under about 250 MiB. msg1 beyond it is
 * dropped.
 */
export const DEFAULT_MAX_CHANNELS = 4096;

/**
 * Channels open at once from one connection (256), counting handshakes under way. A connection is
 * what delivered msg1 (see `DEFAULT_MAX_PENDING_HANDSHAKES_PER_CONNECTION`): every initiator that
 * reaches this node through one relay shares the relay's connection, so this is far above what one
 * peer needs (a node opens one channel per peer and multiplexes its portals over it); raise it on
 * nodes reached by more than a couple of hundred peers through one relay.
 */
export const DEFAULT_MAX_CHANNELS_PER_CONNECTION = 256;

/**
 * How long a channel accepted by a listener may carry no frame before it is closed (2 hours,
 * the idle time after which TCP keepalive starts probing, RFC 1122 §4.2.3.6). Portal inlets and
 * relay registrations ping through their channel every 10 s, so only channels nobody uses are
 * closed: those of peers that went away without Close, and those opened just to be held.
 */
export const DEFAULT_CHANNEL_IDLE_TIMEOUT_MS = 2 * 60 * 60 * 1000;

export { DEFAULT_LOG_INTERVAL_MS } from './internal/channel-worker.js';

/** The origin of msg1 that came from no producer (a worker on this node). */
const LOCAL_ORIGIN = 'local';

export interface SecureChannelListenerOptions {
  /** Who we are (see `SecureChannelOptions.identity`). */
  identity: Identity | SecureChannelIdentity;
  vault: Vault;
  /** Verifies peers (default: `identityVerifier()`). */
  verifier?: PeerVerifier;
  /** Listener address (default `api`). */
  address?: AddressLike;
  /** Whom to accept (default: anyone with a valid identity). */
  trustPolicy?: TrustPolicy;
  verifyCredentials?: CredentialsHook;
  /** Handshake timeout for each responder (default `DEFAULT_RESPONDER_HANDSHAKE_TIMEOUT_MS`, 10 s). */
  timeoutMs?: number;
  /** Unfinished handshakes at most (default `DEFAULT_MAX_PENDING_HANDSHAKES`, 256). */
  maxPendingHandshakes?: number;
  /**
   * Unfinished handshakes per connection at most (default
   * `DEFAULT_MAX_PENDING_HANDSHAKES_PER_CONNECTION`, 32).
   */
  maxPendingHandshakesPerConnection?: number;
  /** Open channels at most, handshakes under way included (default `DEFAULT_MAX_CHANNELS`, 4096). */
  maxChannels?: number;
  /**
   * Open channels per connection at most, handshakes under way included (default
   * `DEFAULT_MAX_CHANNELS_PER_CONNECTION`, 256).
   */
  maxChannelsPerConnection?: number;
  /**
   * A channel that carries no frame, either way, for this long is closed (default
   * `DEFAULT_CHANNEL_IDLE_TIMEOUT_MS`, 2 hours; a whole number of milliseconds, so set it very
   * high to keep idle channels). Channels the node initiates are not subject to it.
   */
  idleTimeoutMs?: number;
  /** Interval of the rate-limited log lines (default `DEFAULT_LOG_INTERVAL_MS`, 10 s). */
  logIntervalMs?: number;
  /** Flow-control ids (a TCP listener's spawner id) whose producers may reach the listener and its channels. */
  consumerOf?: readonly FlowControlId[];
  /** Called for every channel that completes its handshake. */
  onChannel?: (channel: SecureChannel) => void;
  /**
   * Accept key-exchange-only channels (Ockam's `key_exchanger`, KAFKA.md §2.5): after each
   * handshake no worker stays up and `onKeyExchange` gets the decryptor (a channel open for no
   * time counts against no channel cap; the handshake caps hold as for any listener).
   */
  keyExchangeOnly?: boolean;
  /** With `keyExchangeOnly`: called with every completed key exchange; the callee owns the decryptor. */
  onKeyExchange?: (exchange: KeyExchangeAccepted) => void;
  /**
   * With `keyExchangeOnly`: called when a responder starts, with the decryptor address its key
   * will have and a promise that settles when its handshake does. The initiator is done once it
   * sent msg3, so a record under the new key may reach the consumer before msg3 does.
   */
  onKeyExchangeStarted?: (decryptorAddress: Address, settled: Promise<unknown>) => void;
}

export interface SecureChannelListener {
  readonly address: Address;
  /** The spawner id: make services consumers of it to expose them through this listener's channels. */
  readonly flowControlId: FlowControlId;
  /** The channels currently open. */
  readonly channels: ReadonlySet<SecureChannel>;
  /** Handshake slots taken: running responders, and failed ones until their deadline. */
  readonly pendingHandshakes: number;
  /** msg1 dropped so far, because it was malformed or over a cap (pending handshakes or channels). */
  readonly droppedHandshakes: number;
  /** Channels closed so far for carrying nothing for `idleTimeoutMs`. */
  readonly idleClosedChannels: number;
  /**
   * Stops the listener and its unfinished handshakes (open channels stay up, and still time out
   * when idle; close them through `channels`).
   */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function createSecureChannelListener(
  node: Node,
  options: SecureChannelListenerOptions,
): Promise<SecureChannelListener> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_RESPONDER_HANDSHAKE_TIMEOUT_MS;
  const pending = new PendingHandshakes({
    max: options.maxPendingHandshakes ?? DEFAULT_MAX_PENDING_HANDSHAKES,
    maxPerConnection:
      options.maxPendingHandshakesPerConnection ?? DEFAULT_MAX_PENDING_HANDSHAKES_PER_CONNECTION,
    timeoutMs,
  });
  const log = channelLogLimiter(node.logger, options.logIntervalMs);
  const identity = await toSecureChannelIdentity(options.vault, options.identity);
  const verifier = options.verifier ?? identityVerifier();
  const address = toAddress(options.address ?? DEFAULT_LISTENER_ADDRESS);
  const flowControlId = node.flowControls.generateId();
  const consumerOf = [...(options.consumerOf ?? [])];
  const keyExchangeOnly = options.keyExchangeOnly === true;
  const channels = new Set<SecureChannel>();
  let idleClosed = 0;
  const open = new OpenChannels<SecureChannel>(
    {
      max: options.maxChannels ?? DEFAULT_MAX_CHANNELS,
      maxPerConnection: options.maxChannelsPerConnection ?? DEFAULT_MAX_CHANNELS_PER_CONNECTION,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_CHANNEL_IDLE_TIMEOUT_MS,
    },
    (channel, idleMs) => {
      idleClosed++;
      log.log('info', 'idle', 'secure channel closed: idle', {
        listener: address.value,
        peer: channel.peerIdentifier,
        idleMs,
        idleTimeoutMs: open.limits.idleTimeoutMs,
      });
    },
  );
  let dropped = 0;
  const drop = (reason: string, fields: Record<string, unknown>): void => {
    dropped++;
    log.log('warn', `drop:${reason}`, 'secure channel listener dropped a msg1', {
      listener: address.value,
      reason,
      ...fields,
    });
  };
  node.startWorker(address, {
    async handleMessage(ctx, { message, source }) {
      // Refuse what cannot be a msg1 before anything is allocated (PROTOCOL.md §3.1: msg1 is `e`,
      // 32 bytes, and a payload, empty in Ockam; the responder answers along the return route).
      const length = message.payloadLength;
      if (length < DHLEN || length > NOISE_MAX_MESSAGE_SIZE) {
        drop('malformed', {
          error: `msg1 of ${length} bytes (a handshake message has ${DHLEN} to ${NOISE_MAX_MESSAGE_SIZE})`,
        });
        return;
      }
      if (message.returnRoute.isEmpty) {
        drop('malformed', { error: 'msg1 without a return route' });
        return;
      }
      // The responder keeps hearing from whatever delivered msg1 (a TCP connection, or a channel
      // or relay on the way), as Ockam's listener does: later handshake and data frames come out
      // of the same producer, not only from the flows this listener was configured with.
      const producer = node.flowControls.producer(source);
      const origin = message.localInfo.flowControlId ?? producer?.flowControlId ?? LOCAL_ORIGIN;
      // A handshake under way will be a channel: count it against the channel caps now, so that
      // msg1 over them is refused before a key is generated.
      if (open.countOf(origin) + pending.countOf(origin) >= open.limits.maxPerConnection) {
        drop('channels:connection', {
          error: `this connection already has ${open.limits.maxPerConnection} channels (open or in handshake)`,
          connection: origin,
        });
        return;
      }
      if (open.size + pending.size >= open.limits.max) {
        drop('channels:listener', {
          error: `this listener already has ${open.limits.max} channels (open or in handshake)`,
          connection: origin,
        });
        return;
      }
      const slot = pending.admit(origin);
      if (typeof slot === 'string') {
        drop(`cap:${slot}`, {
          error:
            slot === 'connection'
              ? `this connection already has ${pending.limits.maxPerConnection} unfinished handshakes`
              : `this listener already has ${pending.limits.max} unfinished handshakes`,
          connection: origin,
        });
        return;
      }
      // The channel's remote end accepts what its listener accepts now (the listener may have been
      // exposed to more since it started, e.g. to UDP punctures), as Ockam does: the initiator may
      // move the channel onto another path later (PROTOCOL.md §3.3, responder route update).
      const now = node.flowControls.consumerIds(address);
      const responderConsumerOf = producer
        ? [...now, producer.flowControlId, ...(producer.spawnerId ? [producer.spawnerId] : [])]
        : now;
      const end = new ChannelEnd({
        node,
        vault: options.vault,
        role: 'responder',
        identity,
        verifier,
        trustPolicy: options.trustPolicy ?? trustEveryone,
        verifyCredentials: options.verifyCredentials,
        timeoutMs,
        consumerOf: responderConsumerOf,
        spawnerId: flowControlId,
        log,
        keyExchangeOnly,
      });
      slot.stop = () =>
        end.abort(
          new SecureChannelError(
            'resource',
            'Secure channel handshake evicted: the listener is full and another connection holds more unfinished handshakes',
          ),
        );
      if (keyExchangeOnly) options.onKeyExchangeStarted?.(end.decryptorRemote, end.ready);
      end.ready.then(
        (info) => {
          pending.opened(slot);
          if (info.keyExchange !== undefined) {
            const k = info.keyExchange;
            const exchange = {
              peerIdentifier: info.peerIdentifier,
              peerCredentials: k.peerCredentials,
              decryptorAddress: k.decryptorAddress,
              decryptor: k.decryptor!,
            };
            if (options.onKeyExchange === undefined) exchange.decryptor.destroy();
            else options.onKeyExchange(exchange);
            return;
          }
          const channel = channelHandle(end, info);
          channels.add(channel);
          open.add(channel, { origin, activity: () => end.carried, close: () => end.stop() });
          void end.closed.then(() => {
            channels.delete(channel);
            open.delete(channel);
          });
          options.onChannel?.(channel);
        },
        () => pending.failed(slot),
      );
      try {
        await end.start();
        await ctx.forward(message.withOnward(message.onwardRoute.modifyNext(end.decryptorRemote)));
      } catch (e) {
        log.log('warn', 'handoff', 'secure channel listener could not hand msg1 to its responder', {
          listener: address.value,
          error: (e as Error).message,
        });
        await end.stop();
      }
      // A responder's msg2 (a key generation, two DH) runs without awaiting anything that is not
      // already settled: let timers and sockets in between two of them, however many are queued.
      await yieldToEventLoop();
    },
  });
  node.flowControls.addSpawner(address, flowControlId);
  for (const id of consumerOf) node.flowControls.addConsumer(address, id);
  const stop = async (): Promise<void> => {
    await node.stopWorker(address);
    pending.clear();
    log.flush();
  };
  return {
    address,
    flowControlId,
    channels,
    get pendingHandshakes() {
      return pending.size;
    },
    get droppedHandshakes() {
      return dropped;
    },
    get idleClosedChannels() {
      return idleClosed;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * The secure channel listener (PROTOCOL.md §3.5): a worker (at `api` by default) that spawns one
 * responder per incoming msg1 and forwards msg1 to it, replacing its own address at the front of
 * the onward route with the responder's decryptor.
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
import { identityVerifier, toSecureChannelIdentity } from './identity-verifier.js';
import { ChannelEnd } from './internal/channel-worker.js';
import { channelHandle, DEFAULT_HANDSHAKE_TIMEOUT_MS, type SecureChannel } from './secure-channel.js';
import { type TrustPolicy, trustEveryone } from './trust-policy.js';

/** Ockam's default listener address (`SECURE_CHANNEL_LISTENER`). */
export const DEFAULT_LISTENER_ADDRESS = 'api';

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
  /** Handshake timeout for each responder (default 120 s). */
  timeoutMs?: number;
  /** Flow-control ids (a TCP listener's spawner id) whose producers may reach the listener and its channels. */
  consumerOf?: readonly FlowControlId[];
  /** Called for every channel that completes its handshake. */
  onChannel?: (channel: SecureChannel) => void;
}

export interface SecureChannelListener {
  readonly address: Address;
  /** The spawner id: make services consumers of it to expose them through this listener's channels. */
  readonly flowControlId: FlowControlId;
  /** The channels currently open. */
  readonly channels: ReadonlySet<SecureChannel>;
  /** Stops the listener (open channels stay up; close them through `channels`). */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function createSecureChannelListener(
  node: Node,
  options: SecureChannelListenerOptions,
): Promise<SecureChannelListener> {
  const identity = await toSecureChannelIdentity(options.vault, options.identity);
  const verifier = options.verifier ?? identityVerifier();
  const address = toAddress(options.address ?? DEFAULT_LISTENER_ADDRESS);
  const flowControlId = node.flowControls.generateId();
  const consumerOf = [...(options.consumerOf ?? [])];
  const channels = new Set<SecureChannel>();
  node.startWorker(address, {
    async handleMessage(ctx, { message, source }) {
      // The responder keeps hearing from whatever delivered msg1 (a TCP connection, or a channel
      // or relay on the way), as Ockam's listener does: later handshake and data frames come out
      // of the same producer, not only from the flows this listener was configured with.
      const producer = node.flowControls.producer(source);
      const responderConsumerOf = producer
        ? [...consumerOf, producer.flowControlId, ...(producer.spawnerId ? [producer.spawnerId] : [])]
        : consumerOf;
      const end = new ChannelEnd({
        node,
        vault: options.vault,
        role: 'responder',
        identity,
        verifier,
        trustPolicy: options.trustPolicy ?? trustEveryone,
        verifyCredentials: options.verifyCredentials,
        timeoutMs: options.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
        consumerOf: responderConsumerOf,

        spawnerId: flowControlId,
      });
      await end.start();
      end.ready.then(
        (info) => {
          const channel = channelHandle(end, info);
          channels.add(channel);
          void end.closed.then(() => channels.delete(channel));
          options.onChannel?.(channel);
        },
        () => {},
      );
      try {
        await ctx.forward(message.withOnward(message.onwardRoute.modifyNext(end.decryptorRemote)));
      } catch (e) {
        ctx.logger.warn('secure channel listener could not hand msg1 to its responder', {
          error: (e as Error).message,
        });
        await end.stop();
      }
    },
  });
  node.flowControls.addSpawner(address, flowControlId);
  for (const id of consumerOf) node.flowControls.addConsumer(address, id);
  return {
    address,
    flowControlId,
    channels,
    stop: async () => {
      await node.stopWorker(address);
    },
    [Symbol.asyncDispose]: async () => {
      await node.stopWorker(address);
    },
  };
}

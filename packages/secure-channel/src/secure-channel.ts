/**
 * Creating a secure channel as the initiator (PROTOCOL.md §3.1, §3.4): a Noise XX handshake in
 * Ockam's variant along `route` to a listener, mutual identity verification, then an encryptor
 * address that local code sends through.
 *
 * @example
 * ```ts
 * import { Node, startEcho } from '@ockam/core';
 * import { createSecureChannel } from '@ockam/secure-channel';
 * const channel = await createSecureChannel(node, ['1#127.0.0.1:4000', 'api'], { identity, vault });
 * node.flowControls.addConsumer(client.address, channel.flowControlId);
 * const reply = await client.request([channel.encryptorAddress, 'echo'], payload);
 * await channel.close();
 * ```
 */
import {
  type Address,
  CancelledError,
  type FlowControlId,
  type Node,
  OckamError,
  type RouteLike,
  type Vault,
} from '@ockam/core';
import type { Identity } from '@ockam/identity';
import type { CredentialsHook, PeerVerifier, SecureChannelIdentity } from './channel-identity.js';
import { SecureChannelError } from './errors.js';
import { identityVerifier, toSecureChannelIdentity } from './identity-verifier.js';
import { ChannelEnd, type ChannelInfo } from './internal/channel-worker.js';
import type { KeyExchangeInitiated } from './key-exchange.js';
import { type TrustPolicy, trustEveryone } from './trust-policy.js';

/** Ockam's `DEFAULT_TIMEOUT` for channel creation (PROTOCOL.md §3.5). */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 120_000;

export interface SecureChannelOptions {
  /**
   * Who we are: an `Identity` whose primary key is in `vault` (its secure-channel purpose key is
   * created once and reused), or a `SecureChannelIdentity` with the purpose key already made.
   */
  identity: Identity | SecureChannelIdentity;
  /** The vault holding our keys; channel keys are created in it too. */
  vault: Vault;
  /** Verifies the peer's change history and purpose-key attestation (default: `identityVerifier()`). */
  verifier?: PeerVerifier;
  /** Whom to accept (default: anyone with a valid identity). */
  trustPolicy?: TrustPolicy;
  /** Called with the peer's credentials once trusted; failures are logged, not fatal. */
  verifyCredentials?: CredentialsHook;
  /** Handshake timeout (default 120 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * Flow-control ids whose producers may deliver to this channel's decryptor (the transport
   * connection's). When the route's first hop is itself a registered producer, its id is added.
   */
  consumerOf?: readonly FlowControlId[];
}

/** An established channel end. */
export interface SecureChannel {
  /** Send through the channel by putting this address first in the onward route. */
  readonly encryptorAddress: Address;
  /** Where the peer's frames arrive (decryptor_remote). */
  readonly decryptorAddress: Address;
  /** The peer's verified identifier. */
  readonly peerIdentifier: string;
  /** The peer's latest credentials (CBOR `CredentialAndPurposeKey`s), unverified by the channel itself. */
  readonly peerCredentials: readonly Uint8Array[];
  /**
   * The producer id of messages coming out of this channel: local workers that should receive
   * them (a client's reply address, a service) must be consumers of it.
   */
  readonly flowControlId: FlowControlId;
  /** True until the channel is closed by either side. */
  readonly isOpen: boolean;
  /** Sends our change history with new credentials to the peer. */
  refreshCredentials(credentials: readonly Uint8Array[]): Promise<void>;
  /** Sends Close to the peer and stops both workers. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export function channelHandle(end: ChannelEnd, info: Awaited<ChannelEnd['ready']>): SecureChannel {
  return {
    encryptorAddress: info.encryptorAddress,
    decryptorAddress: info.decryptorRemoteAddress,
    peerIdentifier: info.peerIdentifier,
    flowControlId: info.flowControlId,
    get peerCredentials() {
      return end.peerCredentials;
    },
    get isOpen() {
      return end.isOpen;
    },
    refreshCredentials: (credentials) => end.refreshCredentials(credentials),
    close: () => end.stop(),
    [Symbol.asyncDispose]: () => end.stop(),
  };
}

/**
 * Runs the initiator side of the handshake. Rejects with a SecureChannelError — `permission`
 * when our trust policy rejects the peer, `protocol` when its identity, purpose key or messages do
 * not verify, `io` as soon as the connection (or channel) it goes through closes, `timeout` (its
 * message names the route and what to check), `cancelled` — leaving no workers behind.
 */
export async function createSecureChannel(
  node: Node,
  route: RouteLike,
  options: SecureChannelOptions,
): Promise<SecureChannel> {
  const { end, info } = await initiate(node, route, options, false);
  return channelHandle(end, info);
}

/**
 * Runs a key-exchange-only handshake (KAFKA.md §2.3 step 3, §2.11) as the initiator along `route`
 * to a listener created with `keyExchangeOnly` (Ockam's `key_exchanger`), and returns the
 * encryptor it leaves; no worker stays up. Rejects as `createSecureChannel` does.
 */
export async function createKeyExchangeChannel(
  node: Node,
  route: RouteLike,
  options: SecureChannelOptions,
): Promise<KeyExchangeInitiated> {
  const { info } = await initiate(node, route, options, true);
  const k = info.keyExchange!;
  return {
    peerIdentifier: info.peerIdentifier,
    peerCredentials: k.peerCredentials,
    consumerDecryptorAddress: k.decryptorAddress,
    encryptor: k.encryptor!,
  };
}

async function initiate(
  node: Node,
  route: RouteLike,
  options: SecureChannelOptions,
  keyExchangeOnly: boolean,
): Promise<{ end: ChannelEnd; info: ChannelInfo }> {
  const { signal } = options;
  if (signal?.aborted)
    throw new CancelledError('Secure channel creation cancelled', 'channel', { cause: signal.reason });
  const resolved = await node.resolveRoute(route, { signal });
  const consumerOf = [...(options.consumerOf ?? [])];
  const first = resolved.addresses[0];
  // Through another channel (its encryptor first), replies come out of that channel's decryptor.
  const producer = first === undefined ? undefined : node.flowControls.producerFor(first);
  if (producer !== undefined) consumerOf.push(producer.flowControlId);
  const end = new ChannelEnd({
    node,
    vault: options.vault,
    role: 'initiator',
    identity: await toSecureChannelIdentity(options.vault, options.identity),
    verifier: options.verifier ?? identityVerifier(),
    trustPolicy: options.trustPolicy ?? trustEveryone,
    verifyCredentials: options.verifyCredentials,
    timeoutMs: options.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    consumerOf,
    keyExchangeOnly,
  });
  const onAbort = () =>
    end.abort(
      new SecureChannelError('cancelled', 'Secure channel creation cancelled', { cause: signal?.reason }),
    );
  signal?.addEventListener('abort', onAbort, { once: true });
  let unwatch: (() => void) | undefined;
  try {
    await end.start();
    // The first hop is what carries the handshake: a connection's sender, or another channel's
    // encryptor. If it stops, no answer can come back, so fail now rather than at the timeout.
    if (first !== undefined)
      unwatch = node.whenStopped(first, () =>
        end.abort(
          new SecureChannelError(
            'io',
            `Secure channel handshake along ${resolved} failed: ${first.value}, the connection or channel it went through, closed before the handshake completed`,
          ),
        ),
      );
    try {
      await end.initiate(resolved);
    } catch (cause) {
      end.abort(
        new SecureChannelError(
          OckamError.is(cause) && cause.kind === 'permission' ? 'permission' : 'protocol',
          `Cannot send the first handshake message along ${resolved}: ${cause instanceof Error ? cause.message : String(cause)}`,
          { cause },
        ),
      );
    }
    const info = await end.ready;
    return { end, info };
  } catch (e) {
    await end.stop();
    throw e;
  } finally {
    unwatch?.();
    signal?.removeEventListener('abort', onAbort);
  }
}

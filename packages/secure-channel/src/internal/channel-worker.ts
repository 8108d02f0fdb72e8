/**
 * The two workers of one secure channel end (PROTOCOL.md §3.1 transport, §3.3, §3.4):
 *
 * - the *decryptor* owns `decryptor_remote` (where handshake messages and encrypted frames
 *   arrive) and `decryptor_internal` (the producer address decrypted messages are forwarded
 *   from). It runs the handshake first, then decrypts.
 * - the *encryptor* owns `encryptor`: it pops itself from the onward route, wraps the rest and the
 *   return route in a `Payload` plaintext, and sends the frame to the peer's decryptor with an
 *   empty return route.
 *
 * Either worker stopping stops the other; the encryptor sends `Close` on its way out unless the
 * peer closed first.
 */
import {
  Address,
  bytesEqual,
  CborWriter,
  denyAll,
  type FlowControlId,
  IDENTITY_SECURE_CHANNEL_IDENTIFIER,
  type IncomingAccessControl,
  LocalMessage,
  type Logger,
  LogLimiter,
  type Node,
  OckamError,
  Route,
  type RoutedMessage,
  type Vault,
  type Worker,
  type WorkerContext,
} from '@ockam/core';
import type { CredentialsHook, PeerVerifier, SecureChannelIdentity } from '../channel-identity.js';
import { Decryptor } from '../decryptor.js';
import { Encryptor } from '../encryptor.js';
import { SecureChannelError } from '../errors.js';
import {
  decodeIdentityAndCredentials,
  encodeIdentityAndCredentials,
  MAX_PEER_CREDENTIALS,
} from '../identity-and-credentials.js';
import { KeyExchangeDecryptor, KeyExchangeEncryptor } from '../key-exchange.js';
import { HandshakeState } from '../noise-handshake-state.js';
import { OCKAM_PROTOCOL_NAME } from '../noise-protocol.js';
import {
  decodeSecureChannelMessage,
  encodePayloadMessageParts,
  encodeSecureChannelMessage,
} from '../secure-channel-message.js';
import type { TrustPolicy } from '../trust-policy.js';
import { yieldToEventLoop } from './yield-to-event-loop.js';

const EMPTY = new Uint8Array(0);

/**
 * Log lines a peer can cause (a failed handshake, a dropped msg1 or frame) are written once per
 * reason and this interval (10 s); a line at the end of each interval that saw repeats carries
 * their count (`suppressed`). A million forged frames cost two lines per interval and reason.
 */
export const DEFAULT_LOG_INTERVAL_MS = 10_000;

/** A limiter for the rate-limited lines of channel ends: per-interval summaries, 64 reasons at most. */
export function channelLogLimiter(logger: Logger, intervalMs: number = DEFAULT_LOG_INTERVAL_MS): LogLimiter {
  return new LogLimiter(logger, { intervalMs, summaries: true });
}

const byLogger = new WeakMap<Logger, LogLimiter>();

/** One limiter per logger (per node), for channel ends that no listener gave one. */
function sharedLogLimiter(logger: Logger): LogLimiter {
  let limiter = byLogger.get(logger);
  if (limiter === undefined) byLogger.set(logger, (limiter = channelLogLimiter(logger)));
  return limiter;
}

export type Role = 'initiator' | 'responder';

/** Everything one channel end needs. */
export interface ChannelParams {
  readonly node: Node;
  readonly vault: Vault;
  readonly role: Role;
  readonly identity: SecureChannelIdentity;
  readonly verifier: PeerVerifier;
  readonly trustPolicy: TrustPolicy;
  readonly verifyCredentials?: CredentialsHook;
  readonly timeoutMs: number;
  /** Flow-control ids the decryptor_remote must accept messages from (the transport's). */
  readonly consumerOf: readonly FlowControlId[];
  /** The listener's id, for responders. */
  readonly spawnerId?: FlowControlId;
  /**
   * Where the lines a peer can cause go (failed handshakes, dropped frames): a listener's limiter
   * for its responders, by default one per node logger.
   */
  readonly log?: LogLimiter;
  /**
   * A key-exchange-only channel (KAFKA.md §2.5): after the handshake no worker stays up; the
   * initiator keeps an encryptor with its send key, the responder a naive decryptor with its
   * receive key (`ChannelInfo.keyExchange`).
   */
  readonly keyExchangeOnly?: boolean;
}

/** What the handshake settles, shared by the two workers. */
export interface ChannelInfo {
  readonly peerIdentifier: string;
  readonly encryptorAddress: Address;
  readonly decryptorRemoteAddress: Address;
  readonly flowControlId: FlowControlId;
  /** The key a key-exchange-only channel leaves (see `ChannelParams.keyExchangeOnly`). */
  readonly keyExchange?: {
    readonly peerCredentials: readonly Uint8Array[];
    /** The peer's decryptor_remote (initiator) or ours (responder): the address records carry. */
    readonly decryptorAddress: Address;
    readonly encryptor?: KeyExchangeEncryptor;
    readonly decryptor?: KeyExchangeDecryptor;
  };
}

type State = 'handshake' | 'open' | 'closed';

/**
 * What the encryptor accepts: whatever it encrypts, the peer takes as said by this node's identity,
 * so plaintext that came in from the network (a message with an origin, PROTOCOL.md §1.5) is
 * accepted only from producers the encryptor was made a consumer of (a relay forwarding into this
 * channel makes it one of the sender's flow). Messages local workers build have no origin.
 */
function encryptorAccessControl(node: Node, encryptor: Address): IncomingAccessControl {
  return {
    isAuthorized: ({ message }) => {
      const origin = message.origin;
      return origin === undefined || node.flowControls.accepts(encryptor, origin);
    },
  };
}

/**
 * One channel end. Owns the handshake, the data-phase ciphers and the two workers. `ready`
 * settles when the handshake completes or fails.
 */
export class ChannelEnd {
  readonly params: ChannelParams;
  readonly decryptorRemote = Address.random();
  readonly decryptorInternal = Address.random();
  readonly encryptorAddress = Address.random();
  readonly flowControlId: FlowControlId;
  readonly ready: Promise<ChannelInfo>;
  /** Settles once both workers have stopped. */
  readonly closed: Promise<void>;
  #closedResolve!: () => void;
  readonly #logger: Logger;
  /** Lines the peer (or anyone who can reach our decryptor) can cause, rate-limited. */
  readonly #log: LogLimiter;
  #resolve!: (info: ChannelInfo) => void;
  #reject!: (error: SecureChannelError) => void;
  #state: State = 'handshake';
  #handshake: HandshakeState | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #encryptor: Encryptor | undefined;
  /** Where each outgoing payload message's CBOR head is written (read by the cipher at once). */
  readonly #scratch = new CborWriter(256);
  #decryptor: Decryptor | undefined;
  #remoteRoute = Route.empty();
  /** Initiator: the route msg1 went along, for the timeout's error. */
  #initiatedAlong: Route | undefined;
  /** The peer's decryptor_remote: the last hop of every route to it. */
  #theirDecryptor: Address | undefined;
  #info: ChannelInfo | undefined;
  #closedByPeer = false;
  #stopping: Promise<void> | undefined;
  #encryptorStarted = false;
  #handshakeMessagesReceived = 0;
  #peerCredentials: readonly Uint8Array[] = [];
  #encryptorContext: WorkerContext | undefined;
  /** Frames carried since the channel opened (authenticated in, encrypted out): its activity. */
  #carried = 0;

  constructor(params: ChannelParams) {
    this.params = params;
    this.#logger = params.node.logger;
    this.#log = params.log ?? sharedLogLimiter(params.node.logger);
    this.flowControlId = params.node.flowControls.generateId();
    this.ready = new Promise<ChannelInfo>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.closed = new Promise<void>((resolve) => {
      this.#closedResolve = resolve;
    });
    // Callers that never await `ready` (responders) must not see an unhandled rejection.
    this.ready.catch(() => {});
  }

  get role(): Role {
    return this.params.role;
  }

  get isOpen(): boolean {
    return this.#state === 'open';
  }

  /** Frames carried so far, both ways; a listener's idle timeout watches it move. */
  get carried(): number {
    return this.#carried;
  }

  /** Creates the handshake state and starts the decryptor worker; the handshake timer starts now. */
  async start(): Promise<void> {
    const { node, vault, identity } = this.params;
    const handshake = await HandshakeState.initialize({
      vault,
      protocol: OCKAM_PROTOCOL_NAME,
      initiator: this.role === 'initiator',
      s: identity.secureChannelKey,
    });
    if (this.#state !== 'handshake') {
      // Stopped (aborted, evicted) while the key was being generated: start nothing.
      handshake.destroy();
      return;
    }
    this.#handshake = handshake;
    const worker: Worker = {
      handleMessage: (ctx, message) => this.#onMessage(ctx, message),
      shutdown: () => this.#onDecryptorShutdown(),
    };
    node.startWorker(
      [
        { address: this.decryptorRemote },
        // Nothing may send to decryptor_internal: it only forwards decrypted messages.
        { address: this.decryptorInternal, incoming: denyAll },
      ],
      worker,
    );
    for (const id of this.params.consumerOf) node.flowControls.addConsumer(this.decryptorRemote, id);
    node.flowControls.addProducer(this.decryptorInternal, this.flowControlId, this.params.spawnerId);
    node.flowControls.addProducerAlias(this.encryptorAddress, this.decryptorInternal);
    this.#timer = setTimeout(() => {
      this.#fail(new SecureChannelError('timeout', this.#timeoutMessage()));
    }, this.params.timeoutMs);
  }

  /** What a handshake that timed out says: for an initiator, where msg1 went and what to check. */
  #timeoutMessage(): string {
    const within = `did not complete within ${this.params.timeoutMs} ms`;
    const route = this.#initiatedAlong;
    if (route === undefined) return `Secure channel handshake ${within}`;
    const listener = route.isEmpty ? 'api' : route.recipient().value;
    if (this.#handshakeMessagesReceived > 0)
      return `Secure channel handshake along ${route} ${within}: the responder answered, then nothing more came`;
    return (
      `Secure channel handshake along ${route} ${within}: no answer to the first message ` +
      `(first hop ${route.next().value}). Check that a secure channel listener runs at '${listener}' ` +
      'on the node at the end of the route, that it is a flow-control consumer of the connection or ' +
      "relay the message arrives by (its consumerOf: the TCP listener's flowControlId), and that every " +
      'relay name on the route is registered.'
    );
  }

  /** Initiator: sends msg1 (empty payload, PROTOCOL.md §3.1) along `route` from decryptor_remote. */
  async initiate(route: Route): Promise<void> {
    this.#initiatedAlong = route;
    const msg1 = this.#handshake!.writeMessage(EMPTY);
    // Strict: a refusal on this node (flow control, access control) is an error now, not a timeout.
    await this.params.node.route(
      this.decryptorRemote,
      new LocalMessage(route, [this.decryptorRemote], msg1),
      true,
    );
  }

  /** Fails the handshake from outside (abort signal). */
  abort(error: SecureChannelError): void {
    this.#fail(error);
  }

  async #onMessage(ctx: WorkerContext, routed: RoutedMessage): Promise<void> {
    switch (this.#state) {
      case 'handshake':
        return this.#onHandshakeMessage(ctx, routed.message);
      case 'open':
        return this.#onFrame(ctx, routed.message);
      case 'closed':
        return;
    }
  }

  // --- handshake ----------------------------------------------------------------------------

  async #onHandshakeMessage(ctx: WorkerContext, message: LocalMessage): Promise<void> {
    const hs = this.#handshake!;
    try {
      const ownPayload = (): Uint8Array =>
        encodeIdentityAndCredentials({
          changeHistory: this.params.identity.changeHistory,
          purposeKeyAttestation: this.params.identity.purposeKeyAttestation,
          credentials: this.params.identity.credentials ?? [],
        });
      this.#handshakeMessagesReceived++;
      if (this.role === 'responder' && this.#handshakeMessagesReceived === 1) {
        // msg1: e; its payload is empty in Ockam and is ignored.
        hs.readMessage(message.payload);
        const msg2 = hs.writeMessage(ownPayload());
        this.#theirDecryptor = lastHop(message.returnRoute);
        await ctx.send(message.returnRoute, msg2, { from: this.decryptorRemote });
        return;
      }
      // Initiator: msg2; responder: msg3. Both carry the peer's identity.
      const payload = hs.readMessage(message.payload);
      const peer = await this.#verifyPeer(payload, hs);
      if (this.#state !== 'handshake') return; // timed out or aborted while verifying
      if (this.role === 'initiator') {
        const msg3 = hs.writeMessage(ownPayload());
        this.#theirDecryptor = lastHop(message.returnRoute);
        this.#remoteRoute = message.returnRoute;
        await ctx.send(message.returnRoute, msg3, { from: this.decryptorRemote });
      } else {
        this.#remoteRoute = message.returnRoute.isEmpty ? this.#remoteRoute : message.returnRoute;
      }
      this.#open(peer);
    } catch (e) {
      this.#fail(
        OckamError.is(e) && e.origin === 'channel'
          ? (e as SecureChannelError)
          : new SecureChannelError(
              'protocol',
              `Secure channel handshake failed: ${e instanceof Error ? e.message : String(e)}`,
              { cause: e },
            ),
      );
    }
  }

  async #verifyPeer(
    payload: Uint8Array,
    hs: HandshakeState,
  ): Promise<{ identifier: string; credentials: readonly Uint8Array[] }> {
    let decoded: ReturnType<typeof decodeIdentityAndCredentials>;
    try {
      decoded = decodeIdentityAndCredentials(payload);
    } catch (cause) {
      throw new SecureChannelError(
        'protocol',
        'Secure channel handshake: the peer sent a malformed identity payload',
        { cause },
      );
    }
    let verified: Awaited<ReturnType<PeerVerifier['verifyPeer']>>;
    try {
      verified = await this.params.verifier.verifyPeer(decoded.changeHistory, decoded.purposeKeyAttestation);
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new SecureChannelError(
        'protocol',
        `Secure channel handshake: the peer's identity or purpose key does not verify: ${reason}`,
        { cause },
      );
    }
    const rs = hs.remoteStaticPublicKey;
    if (rs === undefined || !bytesEqual(verified.secureChannelPublicKey, rs)) {
      throw new SecureChannelError(
        'protocol',
        `Secure channel handshake: the Noise static key of ${verified.identifier} is not its attested secure-channel purpose key`,
      );
    }
    const context = { peerIdentifier: verified.identifier, credentials: decoded.credentials };
    let trusted: boolean;
    try {
      trusted = await this.params.trustPolicy(context);
    } catch (cause) {
      throw new SecureChannelError(
        'permission',
        `Secure channel trust policy failed for ${verified.identifier}`,
        { cause },
      );
    }
    if (!trusted)
      throw new SecureChannelError(
        'permission',
        `Secure channel trust policy rejected ${verified.identifier}`,
      );
    if (this.params.verifyCredentials !== undefined) {
      try {
        await this.params.verifyCredentials(context);
      } catch (e) {
        // PROTOCOL.md §3.2 step 5: credential failures are logged and the channel still comes up.
        this.#log.log('warn', 'credentials', 'secure channel: peer credentials did not verify', {
          peer: verified.identifier,
          error: e instanceof Error ? e.message : String(e),
        });
      }
    }
    return { identifier: verified.identifier, credentials: decoded.credentials };
  }

  #open(peer: { identifier: string; credentials: readonly Uint8Array[] }): void {
    const hs = this.#handshake!;
    this.#handshake = undefined;
    clearTimeout(this.#timer);
    // Ockam's reversed split is applied by HandshakeState for the Ockam protocol name.
    const { send, receive } = hs.split();
    const { vault, node } = this.params;
    if (this.params.keyExchangeOnly === true) {
      this.#openKeyExchange(peer, send, receive);
      return;
    }
    this.#encryptor = new Encryptor(vault, send.takeKey());
    // In place: frames reach the decryptor as buffers nobody else reads (a TCP frame, a copy a
    // decoder made, or a local encryptor's output, whose pooled memory only a transport's write
    // gives back), so their ciphertext becomes their plaintext. A frame still in the parts TCP
    // read it in is decrypted from them into a new buffer instead, never joined first.
    this.#decryptor = new Decryptor(vault, receive.takeKey(), { inPlace: true });
    const info = this.#settle(peer);
    this.#encryptorContext = node.startWorker(
      this.encryptorAddress,
      {
        handleMessage: (ctx, message) => this.#onPlaintext(ctx, message),
        shutdown: (ctx) => this.#onEncryptorShutdown(ctx),
      },
      {
        incoming: encryptorAccessControl(node, this.encryptorAddress),
        metadata: { terminal: true, attributes: { [IDENTITY_SECURE_CHANNEL_IDENTIFIER]: peer.identifier } },
      },
    );
    this.#encryptorStarted = true;
    this.#state = 'open';
    const established = { role: this.role, peer: peer.identifier, encryptor: this.encryptorAddress.value };
    // Anyone may complete a handshake with a fresh identity when the trust policy lets everyone
    // in: what a listener accepts is rate-limited, what we initiate is not.
    if (this.role === 'responder')
      this.#log.log('info', 'established', 'secure channel established', established);
    else this.#logger.info('secure channel established', established);
    this.#resolve(info);
  }

  /** What the handshake settled: the peer and, for a key-exchange-only channel, its key. */
  #settle(
    peer: { identifier: string; credentials: readonly Uint8Array[] },
    keyExchange?: ChannelInfo['keyExchange'],
  ): ChannelInfo {
    this.#peerCredentials = peer.credentials;
    this.#info = Object.freeze({
      peerIdentifier: peer.identifier,
      encryptorAddress: this.encryptorAddress,
      decryptorRemoteAddress: this.decryptorRemote,
      flowControlId: this.flowControlId,
      ...(keyExchange ? { keyExchange } : {}),
    });
    return this.#info;
  }

  /**
   * A key-exchange-only channel is done once the handshake is: the initiator keeps its send key
   * (k2), the responder its receive key (the same k2), and both workers stop (no data ever flows,
   * KAFKA.md §2.11: Ockam's channel accepts only its local encrypt/decrypt API from then on).
   */
  #openKeyExchange(
    peer: { identifier: string; credentials: readonly Uint8Array[] },
    send: ReturnType<HandshakeState['split']>['send'],
    receive: ReturnType<HandshakeState['split']>['receive'],
  ): void {
    const { vault } = this.params;
    const initiator = this.role === 'initiator';
    const theirs = this.#theirDecryptor;
    if (initiator && theirs === undefined) {
      send.destroy();
      receive.destroy();
      this.#fail(new SecureChannelError('protocol', 'Key exchange: msg2 came without a return route'));
      return;
    }
    const keyExchange = initiator
      ? {
          peerCredentials: peer.credentials,
          decryptorAddress: theirs!,
          encryptor: new KeyExchangeEncryptor(vault, send.takeKey()),
        }
      : {
          peerCredentials: peer.credentials,
          decryptorAddress: this.decryptorRemote,
          decryptor: new KeyExchangeDecryptor(vault, receive.takeKey()),
        };
    // The key in the other direction is never used: nothing flows back over this channel.
    send.destroy();
    receive.destroy();
    const info = this.#settle(peer, keyExchange);
    this.#state = 'closed';
    const established = { role: this.role, peer: peer.identifier, keyExchangeOnly: true };
    if (this.role === 'responder')
      this.#log.log('info', 'established', 'key exchange completed', established);
    else this.#logger.info('key exchange completed', established);
    this.#resolve(info);
    // Detached: this runs inside the decryptor's own handler, which stopWorker would wait for.
    this.stop().catch(() => {});
  }

  #fail(error: SecureChannelError): void {
    if (this.#state !== 'handshake') return;
    this.#state = 'closed';
    clearTimeout(this.#timer);
    this.#handshake?.destroy();
    this.#handshake = undefined;
    if (this.role === 'responder') {
      this.#log.log('warn', `handshake:${error.kind}`, 'secure channel handshake failed', {
        role: this.role,
        error: error.message,
      });
    }
    this.#reject(error);
    // Detached: this may run inside the decryptor's own handler, which stopWorker would wait for.
    this.stop().catch(() => {});
  }

  // --- data phase ---------------------------------------------------------------------------

  async #onFrame(ctx: WorkerContext, message: LocalMessage): Promise<void> {
    const decryptor = this.#decryptor!;
    const highestBefore = decryptor.highestNonce;
    let plaintext: Uint8Array;
    let nonce: bigint;
    try {
      ({ plaintext, nonce } = decryptor.decryptFrame(message.payloadParts));
    } catch (e) {
      // Anyone who can reach decryptor_remote can send frames: one line per reason and interval.
      const error = (e as Error).message;
      this.#log.log('warn', `frame:${reasonOf(error)}`, 'secure channel dropped a frame', {
        decryptor: this.decryptorRemote.value,
        error,
      });
      // Forged frames can come back to back; honest traffic never pays for this.
      await yieldToEventLoop();
      return;
    }
    this.#carried++;
    // PROTOCOL.md §3.3: the responder follows the initiator's route whenever a newer frame arrives.
    if (this.role === 'responder' && nonce > highestBefore && this.#theirDecryptor !== undefined) {
      this.#remoteRoute = message.returnRoute.append(this.#theirDecryptor);
    }
    let decoded: ReturnType<typeof decodeSecureChannelMessage>;
    try {
      decoded = decodeSecureChannelMessage(plaintext);
    } catch (e) {
      const error = (e as Error).message;
      this.#log.log(
        'warn',
        `plaintext:${reasonOf(error)}`,
        'secure channel dropped an undecodable plaintext',
        {
          error,
        },
      );
      return;
    }
    switch (decoded.kind) {
      case 'payload': {
        const info = this.#info!;
        const inner = new LocalMessage(
          decoded.onwardRoute,
          decoded.returnRoute.prepend(this.encryptorAddress),
          decoded.payload,
          {
            secureChannelIdentifier: info.peerIdentifier,
            secureChannelEncryptor: this.encryptorAddress.value,
            flowControlId: this.flowControlId,
          },
        );
        if (inner.onwardRoute.isEmpty) return;
        try {
          await ctx.forward(inner, { from: this.decryptorInternal });
        } catch (e) {
          this.#log.log('warn', 'deliver', 'secure channel could not deliver a decrypted message', {
            to: inner.onwardRoute.toString(),
            error: (e as Error).message,
          });
        }
        return;
      }
      case 'close':
        this.#closedByPeer = true;
        this.#log.log('info', 'closed', 'secure channel closed by peer', {
          encryptor: this.encryptorAddress.value,
        });
        // Detached: stopping waits for this handler to return.
        this.stop().catch(() => {});
        return;
      case 'refresh-credentials':
        return this.#onRefreshCredentials(decoded.changeHistory, decoded.credentials);
    }
  }

  async #onRefreshCredentials(changeHistory: Uint8Array, credentials: readonly Uint8Array[]): Promise<void> {
    // PROTOCOL.md §3.3: re-verify the sender against the identifier the handshake established.
    const peerIdentifier = this.#info!.peerIdentifier;
    try {
      if (credentials.length > MAX_PEER_CREDENTIALS)
        throw new Error(`${credentials.length} credentials, more than the ${MAX_PEER_CREDENTIALS} accepted`);
      const identifier = await this.params.verifier.verifyIdentity(changeHistory);
      if (identifier !== peerIdentifier) throw new Error(`it proves ${identifier}, not ${peerIdentifier}`);
    } catch (e) {
      this.#log.log('warn', 'refresh', 'secure channel ignored a credential refresh', {
        peer: peerIdentifier,
        error: (e as Error).message,
      });
      return;
    }
    this.#peerCredentials = credentials.map((c) => c.slice());
    if (this.params.verifyCredentials === undefined) return;
    try {
      await this.params.verifyCredentials({ peerIdentifier, credentials: this.#peerCredentials });
    } catch (e) {
      this.#log.log('warn', 'refresh-credentials', 'secure channel: refreshed credentials did not verify', {
        peer: peerIdentifier,
        error: (e as Error).message,
      });
    }
  }

  /** The peer's latest credentials (from the handshake or a refresh). */
  get peerCredentials(): readonly Uint8Array[] {
    return this.#peerCredentials;
  }

  /**
   * Sends `RefreshCredentials` with our change history and `credentials` (PROTOCOL.md §3.3,
   * credential refresh).
   */
  async refreshCredentials(credentials: readonly Uint8Array[]): Promise<void> {
    if (this.#state !== 'open') throw new SecureChannelError('shutdown', 'Secure channel is not open');
    const plaintext = encodeSecureChannelMessage({
      kind: 'refresh-credentials',
      changeHistory: this.params.identity.changeHistory,
      credentials,
    });
    const ctx = this.#encryptorContext!;
    await this.#sendFrame(ctx, plaintext);
  }

  async #onPlaintext(ctx: WorkerContext, routed: RoutedMessage): Promise<void> {
    if (this.#state !== 'open') return;
    this.#carried++;
    const { message } = routed;
    // Encrypted in parts: the payload is read once, by the cipher, and never copied into a plaintext.
    // The head goes into this worker's scratch writer, which the cipher has read before the next message.
    const plaintext = encodePayloadMessageParts(
      message.onwardRoute.popFront(),
      message.returnRoute,
      message.payloadParts,
      this.#scratch,
    );
    await this.#sendFrame(ctx, plaintext);
  }

  async #sendFrame(ctx: WorkerContext, plaintext: Uint8Array | readonly Uint8Array[]): Promise<void> {
    // The frame is written into pooled memory, which TCP gives back once its write completed.
    const { frame, release } = this.#encryptor!.encryptPooled(
      plaintext instanceof Uint8Array ? [plaintext] : plaintext,
    );
    try {
      await ctx.forward(new LocalMessage(this.#remoteRoute, Route.empty(), frame).withRelease(release));
    } catch (e) {
      this.#log.log('warn', 'send', 'secure channel could not send a frame', {
        to: this.#remoteRoute.toString(),
        error: (e as Error).message,
      });
    }
  }

  // --- shutdown -----------------------------------------------------------------------------

  /** Stops both workers (sending Close first unless the peer closed). Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      if (this.#state === 'handshake')
        this.#fail(new SecureChannelError('shutdown', 'Secure channel stopped during the handshake'));
      if (this.#encryptorStarted) await this.params.node.stopWorker(this.encryptorAddress);
      await this.params.node.stopWorker(this.decryptorRemote);
    })();
    return this.#stopping;
  }

  async #onEncryptorShutdown(ctx: WorkerContext): Promise<void> {
    if (this.#state === 'open' && !this.#closedByPeer) {
      await this.#sendFrame(ctx, encodeSecureChannelMessage({ kind: 'close' }));
    }
    this.#state = 'closed';
    this.#encryptor?.destroy();
    this.#encryptor = undefined;
    // Not awaited: the decryptor may be the one stopping us.
    this.params.node.stopWorker(this.decryptorRemote).catch(() => {});
  }

  async #onDecryptorShutdown(): Promise<void> {
    if (this.#state === 'handshake')
      this.#fail(new SecureChannelError('shutdown', 'Secure channel stopped during the handshake'));
    clearTimeout(this.#timer);
    this.#handshake?.destroy();
    this.#handshake = undefined;
    this.#decryptor?.destroy();
    this.#decryptor = undefined;
    if (this.#encryptorStarted) await this.params.node.stopWorker(this.encryptorAddress).catch(() => {});
    this.#closedResolve();
  }
}

/** A refusal's reason without its numbers (nonces, lengths): one log line per kind of refusal. */
function reasonOf(message: string): string {
  return message.replace(/\d+/g, '#');
}

function lastHop(route: Route): Address | undefined {
  return route.isEmpty ? undefined : route.recipient();
}

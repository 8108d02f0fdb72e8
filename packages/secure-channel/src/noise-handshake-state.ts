/**
 * Noise HandshakeState (spec §5.3): runs any pattern from `noise-pattern.ts` with DH 25519,
 * SHA-256 and AES-GCM or ChaChaPoly. Secret keys stay in the vault: `s` and `e` are key handles,
 * DH results and the chaining key are secret handles.
 *
 * Creation is asynchronous because generating an ephemeral key is; writing and reading messages
 * is synchronous.
 *
 * @example
 * ```ts
 * import { HandshakeState } from '@ockam/secure-channel';
 * const alice = await HandshakeState.initialize({ vault, protocol: 'Noise_NN_25519_AESGCM_SHA256', initiator: true });
 * const bob = await HandshakeState.initialize({ vault, protocol: 'Noise_NN_25519_AESGCM_SHA256', initiator: false });
 * bob.readMessage(alice.writeMessage(new Uint8Array(0)));
 * alice.readMessage(bob.writeMessage(new Uint8Array(0)));
 * const a = alice.split(), b = bob.split();
 * b.receive.decryptWithAd(new Uint8Array(0), a.send.encryptWithAd(new Uint8Array(0), hello));
 * ```
 */
import { bytesEqual, type KeyHandle, type SecretHandle, type Vault } from '@ockam/core';
import { SecureChannelError } from './errors.js';
import type { CipherState } from './noise-cipher-state.js';
import type { MessageToken } from './noise-pattern.js';
import { type NoiseProtocol, noiseProtocol } from './noise-protocol.js';
import { SymmetricState } from './noise-symmetric-state.js';

/** DHLEN for Curve25519. */
export const DHLEN = 32;
/** Noise spec §3: no message may exceed 65535 bytes. */
export const NOISE_MAX_MESSAGE_SIZE = 65535;
const TAGLEN = 16;
const EMPTY = new Uint8Array(0);

/**
 * The vault operations a handshake needs: the secure-channel primitives and, to forget the
 * ephemeral keys it generated, `deleteKey`.
 */
export type HandshakeVault = Pick<
  Vault,
  | 'generateX25519'
  | 'x25519PublicKey'
  | 'x25519'
  | 'importSecret'
  | 'hkdf'
  | 'aeadKey'
  | 'aeadEncrypt'
  | 'aeadDecrypt'
  | 'deleteSecret'
  | 'exportSecret'
  | 'sha256'
  | 'importX25519'
> &
  Partial<Pick<Vault, 'deleteKey'>>;

export interface HandshakeOptions {
  vault: HandshakeVault;
  /** A protocol name (`Noise_XX_25519_AESGCM_SHA256`, `OCKAM_XX_25519_AES256_GCM_SHA256`) or a parsed one. */
  protocol: string | NoiseProtocol;
  initiator: boolean;
  /** Prologue (default empty; Ockam's channel has none, which is MixHash of the empty string). */
  prologue?: Uint8Array;
  /** Our static X25519 key. */
  s?: KeyHandle;
  /** Our ephemeral X25519 key; generated (and deleted afterwards) when absent. Set it only for test vectors. */
  e?: KeyHandle;
  /** The peer's static public key, when the pattern has it as a pre-message. */
  rs?: Uint8Array;
  /** The peer's ephemeral public key, when the pattern has it as a pre-message. */
  re?: Uint8Array;
  /** Pre-shared keys (32 bytes each), consumed in the order the pattern's psk tokens appear. */
  psks?: readonly Uint8Array[];
}

/** The two transport CipherStates, oriented for this side. */
export interface TransportCipherStates {
  /** Encrypts what this side sends. */
  send: CipherState;
  /** Decrypts what this side receives. */
  receive: CipherState;
}

function protocolError(message: string, cause?: unknown): SecureChannelError {
  return new SecureChannelError('protocol', message, cause === undefined ? undefined : { cause });
}

export class HandshakeState {
  readonly protocol: NoiseProtocol;
  readonly initiator: boolean;
  readonly #vault: HandshakeVault;
  readonly #ss: SymmetricState;
  readonly #s: KeyHandle | undefined;
  #e: KeyHandle | undefined;
  readonly #ownsE: boolean;
  #rs: Uint8Array | undefined;
  #re: Uint8Array | undefined;
  readonly #psks: readonly Uint8Array[];
  #pskIndex = 0;
  #messageIndex = 0;
  #failed: SecureChannelError | undefined;
  #result: [CipherState, CipherState] | undefined;
  #finished = false;

  private constructor(
    options: HandshakeOptions,
    protocol: NoiseProtocol,
    e: KeyHandle | undefined,
    ownsE: boolean,
  ) {
    this.protocol = protocol;
    this.initiator = options.initiator;
    this.#vault = options.vault;
    this.#s = options.s;
    this.#e = e;
    this.#ownsE = ownsE;
    this.#rs = options.rs;
    this.#re = options.re;
    this.#psks = options.psks ?? [];
    this.#ss = new SymmetricState(options.vault, protocol.cipher, protocol.name);
    this.#ss.mixHash(options.prologue ?? EMPTY);
    const { pattern } = protocol;
    // Pre-messages (spec §5.3 Initialize): the initiator's keys first, then the responder's.
    for (const [fromInitiator, tokens] of [
      [true, pattern.initiatorPreMessage],
      [false, pattern.responderPreMessage],
    ] as const) {
      const ours = fromInitiator === this.initiator;
      for (const token of tokens) {
        const key =
          token === 's'
            ? ours
              ? this.#s && this.#vault.x25519PublicKey(this.#s)
              : this.#rs
            : ours
              ? this.#e && this.#vault.x25519PublicKey(this.#e)
              : this.#re;
        if (key === undefined) {
          throw new TypeError(
            `Noise ${pattern.name}: pre-message ${ours ? 'local' : 'remote'} ${token} key is required`,
          );
        }
        this.#ss.mixHash(key);
        if (token === 'e' && pattern.psk) this.#ss.mixKey(this.#vault.importSecret(key));
      }
    }
  }

  /** Initialize(): checks that the keys the pattern needs are present, generating `e` if needed. */
  static async initialize(options: HandshakeOptions): Promise<HandshakeState> {
    const protocol =
      typeof options.protocol === 'string' ? noiseProtocol(options.protocol) : options.protocol;
    const { pattern } = protocol;
    const mine = pattern.messages.filter((_, i) => (i % 2 === 0) === options.initiator).flat();
    const myPre = options.initiator ? pattern.initiatorPreMessage : pattern.responderPreMessage;
    if ((mine.includes('s') || myPre.includes('s')) && options.s === undefined) {
      throw new TypeError(
        `Noise ${pattern.name}: the ${options.initiator ? 'initiator' : 'responder'} needs a static key`,
      );
    }
    const needsPsks = pattern.messages.flat().filter((t) => t === 'psk').length;
    if ((options.psks?.length ?? 0) < needsPsks)
      throw new TypeError(`Noise ${pattern.name}: ${needsPsks} psks are required`);
    for (const psk of options.psks ?? [])
      if (psk.length !== 32) throw new TypeError('Noise psks must be 32 bytes');
    let e = options.e;
    let ownsE = false;
    if (e === undefined && (mine.includes('e') || myPre.includes('e'))) {
      e = await options.vault.generateX25519({ ephemeral: true });
      ownsE = true;
    }
    return new HandshakeState(options, protocol, e, ownsE);
  }

  /** True once every handshake message has been written or read. */
  get isComplete(): boolean {
    return this.#messageIndex >= this.protocol.pattern.messages.length;
  }

  /** True when the next handshake message is ours to write. */
  get isMyTurn(): boolean {
    return !this.isComplete && (this.#messageIndex % 2 === 0) === this.initiator;
  }

  /** GetHandshakeHash(): the channel binding value h. */
  get handshakeHash(): Uint8Array {
    return this.#ss.handshakeHash;
  }

  /** The peer's static public key, once known. */
  get remoteStaticPublicKey(): Uint8Array | undefined {
    return this.#rs;
  }

  /** The peer's ephemeral public key, once known. */
  get remoteEphemeralPublicKey(): Uint8Array | undefined {
    return this.#re;
  }

  #checkUsable(write: boolean): readonly MessageToken[] {
    if (this.#failed !== undefined)
      throw new SecureChannelError('invalid', 'Noise handshake already failed', { cause: this.#failed });
    if (this.isComplete) throw new SecureChannelError('invalid', 'Noise handshake is already complete');
    if (this.isMyTurn !== write) {
      throw new SecureChannelError(
        'invalid',
        `Noise handshake: it is not our turn to ${write ? 'write' : 'read'}`,
      );
    }
    return this.protocol.pattern.messages[this.#messageIndex]!;
  }

  #dh(key: KeyHandle | undefined, publicKey: Uint8Array | undefined, what: string): SecretHandle {
    if (key === undefined || publicKey === undefined) {
      throw new SecureChannelError('invalid', `Noise ${this.protocol.pattern.name}: missing key for ${what}`);
    }
    try {
      return this.#vault.x25519(key, publicKey);
    } catch (cause) {
      throw protocolError(`Noise ${what}: the peer's public key is not usable`, cause);
    }
  }

  #dhToken(token: 'ee' | 'es' | 'se' | 'ss'): void {
    // Spec §5.3: "es" is DH(e, rs) for the initiator and DH(s, re) for the responder; "se" mirrors it.
    const i = this.initiator;
    let dh: SecretHandle;
    switch (token) {
      case 'ee':
        dh = this.#dh(this.#e, this.#re, 'ee');
        break;
      case 'es':
        dh = i ? this.#dh(this.#e, this.#rs, 'es') : this.#dh(this.#s, this.#re, 'es');
        break;
      case 'se':
        dh = i ? this.#dh(this.#s, this.#re, 'se') : this.#dh(this.#e, this.#rs, 'se');
        break;
      case 'ss':
        dh = this.#dh(this.#s, this.#rs, 'ss');
        break;
    }
    this.#ss.mixKey(dh);
  }

  #psk(): void {
    const psk = this.#psks[this.#pskIndex++];
    if (psk === undefined) throw new SecureChannelError('invalid', 'Noise handshake ran out of psks');
    this.#ss.mixKeyAndHash(this.#vault.importSecret(psk));
  }

  /** WriteMessage(payload): returns the handshake message to send. */
  writeMessage(payload: Uint8Array): Uint8Array {
    const tokens = this.#checkUsable(true);
    try {
      const parts: Uint8Array[] = [];
      for (const token of tokens) {
        switch (token) {
          case 'e': {
            const e = this.#e!;
            const pub = this.#vault.x25519PublicKey(e);
            parts.push(pub);
            this.#ss.mixHash(pub);
            if (this.protocol.pattern.psk) this.#ss.mixKey(this.#vault.importSecret(pub));
            break;
          }
          case 's':
            parts.push(this.#ss.encryptAndHash(this.#vault.x25519PublicKey(this.#s!)));
            break;
          case 'psk':
            this.#psk();
            break;
          default:
            this.#dhToken(token);
        }
      }
      parts.push(this.#ss.encryptAndHash(payload));
      let size = 0;
      for (const p of parts) size += p.length;
      if (size > NOISE_MAX_MESSAGE_SIZE) {
        throw new SecureChannelError(
          'invalid',
          `Noise message of ${size} bytes exceeds ${NOISE_MAX_MESSAGE_SIZE}`,
        );
      }
      const out = new Uint8Array(size);
      let o = 0;
      for (const p of parts) {
        out.set(p, o);
        o += p.length;
      }
      this.#advance();
      return out;
    } catch (e) {
      throw this.#fail(e);
    }
  }

  /** ReadMessage(message): returns the decrypted payload; throws (and the handshake is dead) on any error. */
  readMessage(message: Uint8Array): Uint8Array {
    const tokens = this.#checkUsable(false);
    try {
      if (message.length > NOISE_MAX_MESSAGE_SIZE) {
        throw protocolError(`Noise message of ${message.length} bytes exceeds ${NOISE_MAX_MESSAGE_SIZE}`);
      }
      let o = 0;
      const take = (n: number, what: string): Uint8Array => {
        if (message.length - o < n)
          throw protocolError(
            `Noise message truncated: ${what} needs ${n} bytes, ${message.length - o} left`,
          );
        const part = message.subarray(o, o + n);
        o += n;
        return part;
      };
      for (const token of tokens) {
        switch (token) {
          case 'e': {
            const re = take(DHLEN, 'e').slice();
            this.#re = re;
            this.#ss.mixHash(re);
            if (this.protocol.pattern.psk) this.#ss.mixKey(this.#vault.importSecret(re));
            break;
          }
          case 's': {
            const encrypted = take(this.#ss.hasKey() ? DHLEN + TAGLEN : DHLEN, 's');
            this.#rs = this.#ss.decryptAndHash(encrypted).slice();
            break;
          }
          case 'psk':
            this.#psk();
            break;
          default:
            this.#dhToken(token);
        }
      }
      const rest = message.subarray(o);
      if (this.#ss.hasKey() && rest.length < TAGLEN)
        throw protocolError('Noise message truncated: no room for the payload tag');
      const payload = this.#ss.decryptAndHash(rest);
      this.#advance();
      return payload;
    } catch (e) {
      throw this.#fail(e);
    }
  }

  #advance(): void {
    this.#messageIndex++;
    if (this.isComplete) {
      this.#result = this.#ss.split();
      this.#forgetEphemeral();
    }
  }

  #fail(e: unknown): SecureChannelError {
    const error =
      e instanceof SecureChannelError
        ? e
        : protocolError(`Noise handshake failed: ${e instanceof Error ? e.message : String(e)}`, e);
    this.#failed = error;
    this.destroy();
    return error;
  }

  #forgetEphemeral(): void {
    const e = this.#e;
    this.#e = undefined;
    if (e !== undefined && this.#ownsE && this.#vault.deleteKey !== undefined) {
      // Ephemeral keys live in memory; deletion cannot meaningfully fail, but never leave it floating.
      this.#vault.deleteKey(e).catch(() => {});
    }
  }

  /**
   * Split(): the transport CipherStates, oriented for this side. Standard Noise gives the
   * initiator c1 to send; Ockam's protocol gives it c2 (PROTOCOL.md §3.1). Can be taken once.
   */
  split(): TransportCipherStates {
    if (this.#result === undefined || this.#finished) {
      throw new SecureChannelError(
        'invalid',
        this.#finished ? 'Noise split already taken' : 'Noise handshake is not complete',
      );
    }
    this.#finished = true;
    const [c1, c2] = this.#result;
    this.#result = undefined;
    const initiatorSendsFirst = !this.protocol.reversedSplit;
    return this.initiator === initiatorSendsFirst ? { send: c1, receive: c2 } : { send: c2, receive: c1 };
  }

  /** Forgets every secret this handshake holds (ck, k, generated ephemeral keys, unsplit keys). */
  destroy(): void {
    this.#ss.destroy();
    this.#forgetEphemeral();
    if (this.#result !== undefined) {
      for (const c of this.#result) c.destroy();
      this.#result = undefined;
    }
  }

  /** Compares a public key with the peer's static key in constant time. */
  remoteStaticEquals(publicKey: Uint8Array): boolean {
    return this.#rs !== undefined && bytesEqual(this.#rs, publicKey);
  }
}

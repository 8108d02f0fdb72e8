/**
 * How a secure channel proves who it is and checks who the peer is (PROTOCOL.md §3.2).
 *
 * - `SecureChannelIdentity` is what this side presents: its change history, its X25519
 *   secure-channel purpose key (the Noise static key, kept in the vault) and that key's
 *   attestation signed by the identity, plus any credentials.
 * - `PeerVerifier` checks what the peer presents: it verifies the change history (which yields the
 *   identifier) and the purpose-key attestation against that identity's latest key, and returns
 *   the attested X25519 key. The channel then requires it to equal the Noise `rs`.
 *
 * `@ockam/identity` provides both; these interfaces keep the channel independent of how
 * identities are stored.
 */
import type { KeyHandle } from '@ockam/core';

export interface SecureChannelIdentity {
  /** `I` + 64 hex digits. */
  readonly identifier: string;
  /** CBOR of the change history. */
  readonly changeHistory: Uint8Array;
  /** The X25519 secure-channel purpose key, in the channel's vault. */
  readonly secureChannelKey: KeyHandle;
  /** CBOR of the PurposeKeyAttestation of `secureChannelKey`. */
  readonly purposeKeyAttestation: Uint8Array;
  /** CBOR `CredentialAndPurposeKey`s to present (0 or 1 in practice). */
  readonly credentials?: readonly Uint8Array[];
}

/** The outcome of verifying a peer's identity and purpose key. */
export interface VerifiedPeer {
  /** The identifier the change history proves. */
  readonly identifier: string;
  /** The attested secure-channel (X25519) public key. */
  readonly secureChannelPublicKey: Uint8Array;
}

export interface PeerVerifier {
  /**
   * Verifies a change history and a purpose-key attestation; throws if either does not verify or
   * if the attested key is not an X25519 secure-channel key.
   */
  verifyPeer(changeHistory: Uint8Array, purposeKeyAttestation: Uint8Array): Promise<VerifiedPeer>;
  /** Verifies a change history alone (a credential refresh) and returns its identifier. */
  verifyIdentity(changeHistory: Uint8Array): Promise<string>;
}

/** Called with the peer's credentials after the trust policy accepted it; failures are logged, not fatal (PROTOCOL.md §3.2). */
export type CredentialsHook = (context: {
  peerIdentifier: string;
  credentials: readonly Uint8Array[];
}) => Promise<void>;

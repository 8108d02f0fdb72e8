/**
 * Trust policies (PROTOCOL.md §3.5): decide, once the peer's identity and purpose key have been
 * verified, whether to complete a secure channel with it. A policy that returns false (or
 * throws) ends the handshake.
 *
 * @example
 * ```ts
 * import { trustIdentifier, trustMultiIdentifiers, or } from '@ockam/secure-channel';
 * const policy = or(trustIdentifier('I1234…'), trustMultiIdentifiers(['Iabcd…', 'Ief01…']));
 * await policy({ peerIdentifier: 'I1234…' }); // true
 * ```
 */

/** What a trust policy may look at. */
export interface TrustContext {
  /** The peer's verified identifier, `I` + 64 hex digits. */
  readonly peerIdentifier: string;
  /** The peer's credentials (CBOR `CredentialAndPurposeKey`s), not verified by the channel itself. */
  readonly credentials?: readonly Uint8Array[];
}

export type TrustPolicy = (context: TrustContext) => boolean | Promise<boolean>;

/** Trusts any peer that proves an identity (Ockam's `TrustEveryonePolicy`, the listener default). */
export const trustEveryone: TrustPolicy = () => true;

/** Trusts exactly one identifier (`TrustIdentifierPolicy`). */
export function trustIdentifier(identifier: string): TrustPolicy {
  return ({ peerIdentifier }) => peerIdentifier === identifier;
}

/** Trusts an allow-list of identifiers (`TrustMultiIdentifiersPolicy`, used by `--authorized`). */
export function trustMultiIdentifiers(identifiers: Iterable<string>): TrustPolicy {
  const allowed = new Set(identifiers);
  return ({ peerIdentifier }) => allowed.has(peerIdentifier);
}

/** Trusts a peer only if every policy does (evaluated in order, stopping at the first refusal). */
export function and(...policies: TrustPolicy[]): TrustPolicy {
  return async (context) => {
    for (const p of policies) if (!(await p(context))) return false;
    return true;
  };
}

/** Trusts a peer if any policy does (evaluated in order, stopping at the first acceptance). */
export function or(...policies: TrustPolicy[]): TrustPolicy {
  return async (context) => {
    for (const p of policies) if (await p(context)) return true;
    return false;
  };
}

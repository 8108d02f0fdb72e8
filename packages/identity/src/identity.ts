/**
 * Verified identities (PROTOCOL.md §4.2): a change history whose every change is checked, and the
 * identifier it yields.
 */
import { bytesEqual, CborReader, fromHex, OckamError, toHex } from '@ockam/core';
import {
  type Change,
  type ChangeData,
  encodeChangeHistory,
  type PrimaryPublicKey,
  readChangeData,
  readChangeHistory,
} from './change-history.js';
import { type Identifier, identifierFromBytes, parseIdentifier } from './identifier.js';
import { IdentityError, type IdentityErrorReason } from './identity-error.js';
import { decodeAll, type Signature } from './internal/cbor-helpers.js';
import type { SignatureVerifier } from './internal/default-verifier.js';
import { defaultVerifier } from './verification-cache.js';
import { CHANGE_DATA_TYPE, decodeVersionedData, VERSIONED_DATA_VERSION } from './versioned-data.js';

export type { SignatureVerifier } from './internal/default-verifier.js';

/** A change that passed verification, with its decoded data and hash. */
export interface VerifiedChange {
  readonly change: Change;
  readonly data: ChangeData;
  /** The VersionedData version (always 1 today). */
  readonly version: number;
  /** SHA-256 of `change.data`: the ChangeHash. */
  readonly changeHash: Uint8Array;
}

const CONSTRUCT = Symbol('Identity.construct');

/**
 * An identity whose change history has been verified. Create one with `createIdentity`, or
 * obtain one from bytes with `importIdentity`; the constructor is not public.
 */
export class Identity {
  /** "I" + 64 hex: SHA-256 of the first change's data. */
  readonly identifier: Identifier;
  /** The change history's CBOR bytes. */
  readonly changeHistory: Uint8Array;
  readonly changes: readonly VerifiedChange[];

  /** @internal */
  constructor(token: typeof CONSTRUCT, changeHistory: Uint8Array, changes: readonly VerifiedChange[]) {
    if (token !== CONSTRUCT) throw new TypeError('use createIdentity or importIdentity to make an Identity');
    this.changeHistory = changeHistory;
    this.changes = Object.freeze([...changes]);
    this.identifier = identifierFromBytes(changes[0]!.changeHash);
  }

  /** @internal Builds an Identity from changes that were just verified. */
  static fromVerified(changeHistory: Uint8Array, changes: readonly VerifiedChange[]): Identity {
    return new Identity(CONSTRUCT, changeHistory, changes);
  }

  /** The latest change. */
  get latestChange(): VerifiedChange {
    return this.changes[this.changes.length - 1]!;
  }

  /** The hash of the latest change, which purpose key attestations refer to. */
  get latestChangeHash(): Uint8Array {
    return this.latestChange.changeHash;
  }

  /** The current primary public key. */
  get primaryPublicKey(): PrimaryPublicKey {
    return this.latestChange.data.primaryPublicKey;
  }

  /** The identity's attestation window (Unix seconds) from its latest change. */
  get attestationsValidFrom(): number {
    return this.latestChange.data.attestationsValidFrom;
  }

  get attestationsValidUntil(): number {
    return this.latestChange.data.attestationsValidUntil;
  }

  /** The export format: hex of the change history CBOR. */
  export(): string {
    return toHex(this.changeHistory);
  }

  /** True if both have the same identifier and change history. */
  equals(other: Identity): boolean {
    return this.identifier === other.identifier && bytesEqual(this.changeHistory, other.changeHistory);
  }

  toString(): string {
    return this.identifier;
  }

  toJSON(): { identifier: Identifier; changeHistory: string } {
    return { identifier: this.identifier, changeHistory: this.export() };
  }
}

function fail(reason: IdentityErrorReason, index: number, message: string, cause?: unknown): never {
  throw new IdentityError(reason, `change ${index}: ${message}`, cause === undefined ? undefined : { cause });
}

function checkSignature(
  verifier: SignatureVerifier,
  key: PrimaryPublicKey,
  digest: Uint8Array,
  signature: Signature,
  index: number,
  reason: 'bad-self-signature' | 'bad-previous-signature',
): void {
  if (signature.type !== key.type) {
    fail(
      'signature-type-mismatch',
      index,
      `a ${signature.type} signature cannot be made by a ${key.type} key`,
    );
  }
  if (!verifier.verify(key, digest, signature.bytes)) {
    fail(
      reason,
      index,
      reason === 'bad-self-signature'
        ? 'the signature by its own primary key does not verify'
        : 'the signature by the previous primary key does not verify',
    );
  }
}

/**
 * Verifies decoded changes by every rule of PROTOCOL.md §4.2 and returns them with their data and
 * hashes. Throws an IdentityError naming the first rule broken.
 */
export function verifyChanges(
  changes: readonly Change[],
  verifier: SignatureVerifier = defaultVerifier(),
): VerifiedChange[] {
  if (changes.length === 0)
    throw new IdentityError('empty-history', 'a change history needs at least one change');
  const verified: VerifiedChange[] = [];
  let previous: VerifiedChange | undefined;
  changes.forEach((change, index) => {
    let version: number;
    let data: ChangeData;
    try {
      const versioned = decodeVersionedData(change.data);
      version = versioned.version;
      if (version !== VERSIONED_DATA_VERSION) {
        if (previous !== undefined && version < previous.version)
          fail('version-decreased', index, `version ${version} is lower than ${previous.version}`);
        fail('unknown-version', index, `unknown VersionedData version ${version}`);
      }
      if (versioned.dataType !== CHANGE_DATA_TYPE)
        fail(
          'wrong-data-type',
          index,
          `data_type ${versioned.dataType} is not a change (${CHANGE_DATA_TYPE})`,
        );
      data = decodeAll(versioned.data, 'ChangeData', readChangeData);
    } catch (e) {
      if (!IdentityError.isReason(e) && OckamError.isKind(e, 'serialization'))
        fail('malformed', index, e.message, e);
      throw e;
    }
    // The hash is over the exact bytes received (PROTOCOL.md §4.2), never a re-encoding.
    const changeHash = verifier.sha256(change.data);

    if (previous === undefined) {
      if (data.previousChange !== null)
        fail('first-change-has-previous', index, 'the first change must not name a previous change');
    } else {
      if (version < previous.version)
        fail('version-decreased', index, `version ${version} is lower than ${previous.version}`);
      if (data.attestationsValidFrom < previous.data.attestationsValidFrom) {
        fail(
          'valid-from-decreased',
          index,
          `attestations_valid_from ${data.attestationsValidFrom} is before ${previous.data.attestationsValidFrom}`,
        );
      }
      if (data.previousChange === null || !bytesEqual(data.previousChange, previous.changeHash)) {
        fail(
          'previous-change-mismatch',
          index,
          'previous_change does not match the hash of the change before it',
        );
      }
    }

    checkSignature(
      verifier,
      data.primaryPublicKey,
      changeHash,
      change.signature,
      index,
      'bad-self-signature',
    );
    if (previous !== undefined) {
      if (change.previousSignature === undefined)
        fail(
          'missing-previous-signature',
          index,
          'a change after the first must be signed by the previous primary key too',
        );
      checkSignature(
        verifier,
        previous.data.primaryPublicKey,
        changeHash,
        change.previousSignature,
        index,
        'bad-previous-signature',
      );
    }
    const entry: VerifiedChange = { change, data, version, changeHash };
    verified.push(entry);
    previous = entry;
  });
  return verified;
}

/** Options of {@link importIdentity}. */
export interface ImportIdentityOptions {
  /** If given, the imported identity must have this identifier. */
  expectedIdentifier?: Identifier;
}

/**
 * Imports an identity from its export format (hex of the change history CBOR, or those bytes),
 * verifying every change. Rejects trailing bytes. Throws an IdentityError with the reason.
 *
 * @example
 * ```ts
 * import { importIdentity } from '@ockam/identity';
 * const identity = importIdentity('81825837830101583285f6820081582…');
 * console.log(identity.identifier); // I923829d0…
 * ```
 */
export function importIdentity(
  exported: string | Uint8Array,
  verifier?: SignatureVerifier,
  options: ImportIdentityOptions = {},
): Identity {
  let bytes: Uint8Array;
  if (typeof exported === 'string') {
    try {
      bytes = fromHex(exported, 'identity');
    } catch (cause) {
      throw new IdentityError('malformed', 'an exported identity must be hex', { cause });
    }
  } else if (exported instanceof Uint8Array) {
    bytes = new Uint8Array(exported);
  } else {
    throw new TypeError('importIdentity expects a hex string or a Uint8Array');
  }
  let changes: Change[];
  const reader = new CborReader(bytes, 'ChangeHistory');
  try {
    changes = readChangeHistory(reader);
  } catch (e) {
    if (OckamError.is(e))
      throw new IdentityError('malformed', `cannot decode the change history: ${e.message}`, { cause: e });
    throw e;
  }
  if (reader.remaining > 0)
    throw new IdentityError('trailing-bytes', `${reader.remaining} bytes follow the change history`);
  const identity = Identity.fromVerified(bytes, verifyChanges(changes, verifier));
  if (
    options.expectedIdentifier !== undefined &&
    parseIdentifier(options.expectedIdentifier) !== identity.identifier
  ) {
    throw new IdentityError(
      'bad-identifier',
      `expected identity ${options.expectedIdentifier}, got ${identity.identifier}`,
    );
  }
  return identity;
}

/** Builds an Identity from changes, verifying them (used after creating or rotating). */
export function identityFromChanges(changes: readonly Change[], verifier?: SignatureVerifier): Identity {
  return Identity.fromVerified(encodeChangeHistory(changes), verifyChanges(changes, verifier));
}

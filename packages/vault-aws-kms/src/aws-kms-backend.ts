/**
 * Signing keys in AWS KMS, as Ockam's `ockam_vault_aws` keeps them: key spec ECC_NIST_P256, key
 * usage SIGN_VERIFY, signing algorithm ECDSA_SHA_256 over a SHA-256 digest computed here
 * (MessageType DIGEST, so a message of any size signs the same), the public key read with
 * GetPublicKey as DER SPKI, the DER signature converted to Ockam's raw r‖s.
 *
 * Everything the endpoint answers is checked before use: responses are capped in size, the public
 * key must be a P-256 SPKI whose SHA-256 is the handle id, and every signature is verified against
 * that public key before it is returned, so a KMS that answers wrongly cannot get a bad change
 * history or credential signed in our name.
 */
import { createHash } from 'node:crypto';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DeleteAliasCommand,
  GetPublicKeyCommand,
  KMSClient,
  ScheduleKeyDeletionCommand,
  SignCommand,
} from '@aws-sdk/client-kms';
import type { ErrorKind, KeyHandle, SigningKeyType } from '@ockam/core';
import { createVault, ecdsaDerToRaw, type SigningKeyBackend, VaultError } from '@ockam/vault';
import { boundResponses } from './internal/bounded-response.js';
import { p256PublicKeyFromSpki } from './internal/p256-spki.js';

/**
 * How a vault's KMS is reached, stored in the vault row: never a credential. Credentials, and the
 * region and endpoint when not given here, come from the AWS SDK's default chain (AWS_REGION,
 * AWS_PROFILE, AWS_ACCESS_KEY_ID…, AWS_ENDPOINT_URL_KMS, ~/.aws), as Ockam's `aws_config` reads them.
 */
export interface AwsKmsSigningKeysConfig {
  readonly kind: 'aws-kms';
  /** An AWS region; otherwise the SDK's (AWS_REGION, the profile). */
  readonly region?: string;
  /** A KMS endpoint URL; otherwise the SDK's (AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL, the region's). */
  readonly endpoint?: string;
  /** How long one call may take, retries included (default 30 s). */
  readonly timeoutMs?: number;
  /** Attempts per call, the first included (default 3, the SDK's standard retry strategy). */
  readonly maxAttempts?: number;
}

/** KMS forces a waiting period of 7 to 30 days before a key is deleted; Ockam asks for 7. */
export const PENDING_DELETION_DAYS = 7;
/** Our keys are found by the alias `alias/ockam/<handle id>`. */
export const ALIAS_PREFIX = 'alias/ockam/';

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_ATTEMPTS = 3;
/** A DER ECDSA P-256 signature is at most 72 bytes. */
const MAX_SIGNATURE_BYTES = 72;
/** A key ARN is about 80 characters; KMS documents KeyId up to 2048. */
const MAX_KEY_ID_LENGTH = 2048;
const HANDLE_ID = /^[0-9a-f]{64}$/;

interface KmsKey {
  /** The key's ARN (or id), as KMS named it. */
  readonly keyId: string;
  /** 65 bytes, uncompressed SEC1. */
  readonly publicKey: Uint8Array;
}

function readConfig(config: { readonly kind: string; readonly [option: string]: unknown }, vault: string) {
  const fail = (what: string) => new VaultError('invalid', `Vault ${vault}: AWS KMS ${what}`);
  const optionalString = (name: string): string | undefined => {
    const v = config[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.length === 0 || v.length > 2048)
      throw fail(`option ${name} is not a string`);
    return v;
  };
  const optionalCount = (name: string, max: number): number | undefined => {
    const v = config[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max)
      throw fail(`option ${name} must be an integer from 1 to ${max}`);
    return v;
  };
  if (config.kind !== 'aws-kms') throw fail(`cannot open a '${config.kind}' configuration`);
  const endpoint = optionalString('endpoint');
  if (endpoint !== undefined && !URL.canParse(endpoint)) throw fail(`endpoint ${endpoint} is not a URL`);
  return {
    region: optionalString('region'),
    endpoint,
    timeoutMs: optionalCount('timeoutMs', 600_000) ?? DEFAULT_TIMEOUT_MS,
    maxAttempts: optionalCount('maxAttempts', 10) ?? DEFAULT_MAX_ATTEMPTS,
  };
}

/** Room for an error message from the endpoint in ours (it is the endpoint's text: keep it short). */
const MAX_REASON_LENGTH = 300;

/** An SDK failure as a VaultError whose kind says what went wrong and whose message says where. */
function kmsError(operation: string, where: string, e: unknown): VaultError {
  if (e instanceof VaultError) return e;
  const err = e as { name?: string; code?: string; message?: string };
  const name = err.name ?? '';
  const code = err.code ?? '';
  const message = String(err.message ?? '').slice(0, MAX_REASON_LENGTH);
  let kind: ErrorKind = 'io';
  let reason = `${name || code || 'error'}: ${message}`;
  if (name === 'NotFoundException') kind = 'not-found';
  else if (name === 'TimeoutError' || name === 'AbortError' || code === 'ETIMEDOUT') {
    kind = 'timeout';
    reason = 'no answer in time';
  } else if (name === 'CredentialsProviderError') {
    kind = 'permission';
    reason = `no AWS credentials (the SDK looks in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws, instance roles): ${message}`;
  } else if (name === 'AccessDeniedException') kind = 'permission';
  else if (/Region is missing/.test(message)) {
    kind = 'invalid';
    reason = 'no AWS region: set AWS_REGION (or a region in the AWS profile)';
  } else if (name === 'KMSInvalidStateException' || name === 'DisabledException') kind = 'invalid';
  return new VaultError(kind, `AWS KMS ${operation} failed (${where}): ${reason}`, { cause: e });
}

const sha256 = (data: Uint8Array): Buffer => createHash('sha256').update(data).digest();

class AwsKmsBackend implements SigningKeyBackend {
  readonly kind = 'aws-kms';
  /** KMS has Ed25519 keys (ECC_NIST_EDWARDS25519) but Ockam's KMS vault and both local endpoints are P-256 only. */
  readonly types: readonly SigningKeyType[] = ['p256'];
  readonly #client: KMSClient;
  readonly #vault: string;
  readonly #where: string;
  readonly #timeoutMs: number;
  /** Keys this process resolved, by handle id: one GetPublicKey per key per process. */
  readonly #keys = new Map<string, KmsKey>();
  /** Verifies what KMS returns; signature checks need no keys of their own. */
  readonly #verifier = createVault();
  #closed = false;

  constructor(client: KMSClient, vault: string, where: string, timeoutMs: number) {
    this.#client = client;
    this.#vault = vault;
    this.#where = where;
    this.#timeoutMs = timeoutMs;
  }

  async #send<T>(
    operation: string,
    call: (client: KMSClient, options: { abortSignal: AbortSignal }) => Promise<T>,
  ): Promise<T> {
    if (this.#closed) throw new VaultError('shutdown', `Vault ${this.#vault}: the AWS KMS client is closed`);
    try {
      return await call(this.#client, { abortSignal: AbortSignal.timeout(this.#timeoutMs) });
    } catch (e) {
      throw kmsError(operation, this.#where, e);
    }
  }

  #check(condition: boolean, what: string): asserts condition {
    if (!condition) throw new VaultError('protocol', `AWS KMS (${this.#where}) ${what}`);
  }

  /** GetPublicKey on a key id or alias, with every field checked; `expectedId` binds it to a handle. */
  async #fetch(keyId: string, expectedId?: string): Promise<{ id: string; key: KmsKey }> {
    const out = await this.#send('GetPublicKey', (c, o) =>
      c.send(new GetPublicKeyCommand({ KeyId: keyId }), o),
    );
    // moto leaves KeySpec out; when it is there it must be P-256 (the DER is checked regardless).
    this.#check(
      out.KeySpec === undefined || out.KeySpec === 'ECC_NIST_P256',
      `returned a ${out.KeySpec} key, not ECC_NIST_P256`,
    );
    this.#check(out.KeyUsage === 'SIGN_VERIFY', `returned a key for ${out.KeyUsage}, not SIGN_VERIFY`);
    this.#check(
      out.SigningAlgorithms === undefined || out.SigningAlgorithms.includes('ECDSA_SHA_256'),
      'returned a key that cannot sign with ECDSA_SHA_256',
    );
    this.#check(
      typeof out.KeyId === 'string' && out.KeyId.length > 0 && out.KeyId.length <= MAX_KEY_ID_LENGTH,
      'returned no usable key id',
    );
    this.#check(out.PublicKey !== undefined, 'returned no public key');
    const publicKey = p256PublicKeyFromSpki(out.PublicKey, `AWS KMS (${this.#where}) key ${out.KeyId}`);
    const id = sha256(publicKey).toString('hex');
    this.#check(
      expectedId === undefined || id === expectedId,
      `returned the public key of another key for ${keyId}`,
    );
    const key = { keyId: out.KeyId, publicKey };
    this.#keys.set(id, key);
    return { id, key };
  }

  async #resolve(handle: KeyHandle): Promise<KmsKey> {
    if (handle.type !== 'p256')
      throw new VaultError(
        'unsupported',
        `Vault ${this.#vault} keeps P-256 keys in AWS KMS, not ${handle.type}`,
      );
    const key = this.#keys.get(handle.id) ?? (await this.#lookup(handle.id));
    if (!key)
      throw new VaultError('not-found', `Vault ${this.#vault}: no AWS KMS key ${ALIAS_PREFIX}${handle.id}`);
    return key;
  }

  async #lookup(id: string): Promise<KmsKey | undefined> {
    if (!HANDLE_ID.test(id)) return undefined;
    try {
      return (await this.#fetch(`${ALIAS_PREFIX}${id}`, id)).key;
    } catch (e) {
      if (e instanceof VaultError && e.kind === 'not-found') return undefined;
      throw e;
    }
  }

  async generateSigningKey(type: SigningKeyType): Promise<KeyHandle> {
    if (type !== 'p256')
      throw new VaultError(
        'unsupported',
        `Vault ${this.#vault} keeps its keys in AWS KMS, which Ockam uses for P-256 (ECC_NIST_P256) keys only, not ${type}`,
      );
    const created = await this.#send('CreateKey', (c, o) =>
      c.send(
        new CreateKeyCommand({
          KeySpec: 'ECC_NIST_P256',
          KeyUsage: 'SIGN_VERIFY',
          Description: `Ockam vault ${this.#vault}: identity or credential signing key`,
        }),
        o,
      ),
    );
    const keyId = created.KeyMetadata?.Arn ?? created.KeyMetadata?.KeyId;
    this.#check(
      typeof keyId === 'string' && keyId.length > 0 && keyId.length <= MAX_KEY_ID_LENGTH,
      'created a key without a usable id',
    );
    try {
      const { id } = await this.#fetch(keyId);
      await this.#send('CreateAlias', (c, o) =>
        c.send(new CreateAliasCommand({ AliasName: `${ALIAS_PREFIX}${id}`, TargetKeyId: keyId }), o),
      );
      return { id, type: 'p256' };
    } catch (e) {
      // A key nobody can find again is only a cost: schedule it for deletion, keep the first error.
      await this.#scheduleDeletion(keyId).catch(() => {});
      throw e;
    }
  }

  async #scheduleDeletion(keyId: string): Promise<void> {
    await this.#send('ScheduleKeyDeletion', (c, o) =>
      c.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: PENDING_DELETION_DAYS }), o),
    );
  }

  async sign(handle: KeyHandle, message: Uint8Array): Promise<Uint8Array> {
    const key = await this.#resolve(handle);
    const out = await this.#send('Sign', (c, o) =>
      c.send(
        new SignCommand({
          KeyId: key.keyId,
          Message: sha256(message),
          MessageType: 'DIGEST',
          SigningAlgorithm: 'ECDSA_SHA_256',
        }),
        o,
      ),
    );
    this.#check(
      out.SigningAlgorithm === undefined || out.SigningAlgorithm === 'ECDSA_SHA_256',
      `signed with ${out.SigningAlgorithm}, not ECDSA_SHA_256`,
    );
    const der = out.Signature;
    this.#check(
      der !== undefined && der.length > 0 && der.length <= MAX_SIGNATURE_BYTES,
      `returned a signature of ${der?.length ?? 0} bytes, not a DER P-256 signature`,
    );
    let raw: Uint8Array;
    try {
      raw = ecdsaDerToRaw(der);
    } catch (e) {
      throw new VaultError('protocol', `AWS KMS (${this.#where}) returned a malformed signature`, {
        cause: e,
      });
    }
    this.#check(
      this.#verifier.verify({ type: 'p256', bytes: key.publicKey }, message, raw),
      `returned a signature that does not verify with key ${key.keyId}`,
    );
    return raw;
  }

  async publicKey(handle: KeyHandle): Promise<Uint8Array> {
    return (await this.#resolve(handle)).publicKey.slice();
  }

  async getKey(id: string): Promise<KeyHandle | undefined> {
    const key = this.#keys.get(id) ?? (await this.#lookup(id));
    return key && { id, type: 'p256' };
  }

  async deleteKey(handle: KeyHandle): Promise<boolean> {
    if (handle.type !== 'p256') return false;
    const key = this.#keys.get(handle.id) ?? (await this.#lookup(handle.id));
    if (!key) return false;
    await this.#scheduleDeletion(key.keyId);
    this.#keys.delete(handle.id);
    try {
      await this.#send('DeleteAlias', (c, o) =>
        c.send(new DeleteAliasCommand({ AliasName: `${ALIAS_PREFIX}${handle.id}` }), o),
      );
    } catch (e) {
      // A key pending deletion cannot sign or be found through GetPublicKey; a stale alias is harmless.
      if (!(e instanceof VaultError && e.kind === 'not-found')) throw e;
    }
    return true;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.destroy();
  }
}

/**
 * Opens the AWS KMS backend of vault `vaultName` (`ockam vault create NAME --aws-kms`). Nothing is
 * sent until a key is used: a missing region, credentials or endpoint show on the first call, as a
 * VaultError that names the operation and the endpoint.
 *
 * @example
 * ```ts
 * import { createExternalVault, createVault } from '@ockam/vault';
 * import { openSigningKeyBackend } from '@ockam/vault-aws-kms';
 * const vault = createExternalVault(createVault(), openSigningKeyBackend({ kind: 'aws-kms', region: 'eu-west-1' }, 'v1'));
 * const key = await vault.generateSigningKey('p256'); // CreateKey ECC_NIST_P256 + alias/ockam/<key.id>
 * const signature = await vault.sign(key, vault.sha256(new TextEncoder().encode('hello')));
 * await vault.close();
 * ```
 */
export function openSigningKeyBackend(
  config: { readonly kind: string; readonly [option: string]: unknown },
  vaultName: string,
): SigningKeyBackend {
  const options = readConfig(config, vaultName);
  // The SDK warns on every Node.js 20 start that releases after January 2027 will need Node.js 22;
  // ours is pinned and tested on Node.js 20 and 24 (see the README), so the CLI stays quiet.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const perAttempt = Math.max(1_000, Math.floor(options.timeoutMs / options.maxAttempts));
  const client = new KMSClient({
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    maxAttempts: options.maxAttempts,
    requestHandler: {
      connectionTimeout: Math.min(perAttempt, 5_000),
      requestTimeout: perAttempt,
      throwOnRequestTimeout: true,
    },
  });
  boundResponses(client);
  const where = options.endpoint ?? process.env.AWS_ENDPOINT_URL_KMS ?? process.env.AWS_ENDPOINT_URL ?? 'AWS';
  return new AwsKmsBackend(client, vaultName, `vault ${vaultName}, ${where}`, options.timeoutMs);
}

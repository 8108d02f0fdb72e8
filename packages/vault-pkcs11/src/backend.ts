/**
 * Signing keys generated and used inside a PKCS#11 token. The private key objects are created
 * sensitive and non-extractable on the token, so no byte of them ever reaches this process; the
 * handle id (hex SHA-256 of the public key) is written to CKA_ID so that a key is found again by
 * the id an identity's change history implies.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { bytesEqual, type KeyHandle, type SigningKeyType } from '@ockam/core';
import { type SigningKeyBackend, VaultError } from '@ockam/vault';
import { ED25519_PARAMS, P256_PARAMS, parseEcPoint } from './der.js';
import { CKR, codeOf, isSessionLost, pkcs11Error } from './errors.js';
import { acquireLibrary, type LibraryRef, type Pkcs11, pkcs11js } from './library.js';

/** The PIN of every PKCS#11 vault, unless the vault's own variable is set. */
export const PIN_ENV = 'OCKAM_PKCS11_PIN';

/** A vault's own PIN variable: `OCKAM_PKCS11_PIN_<NAME>`, the name upper-cased, other characters as `_`. */
export const vaultPinEnv = (vaultName: string): string =>
  `${PIN_ENV}_${vaultName.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;

/** Where a vault's keys are: stored as is in the vault row. No secret belongs here. */
export interface Pkcs11Config {
  readonly kind: 'pkcs11';
  /** The PKCS#11 module (a shared library), e.g. /usr/lib/softhsm/libsofthsm2.so. */
  readonly library: string;
  /** The slot id (as `softhsm2-util --show-slots` or `pkcs11-tool -L` print it). */
  readonly slot?: number;
  /** The token label. Exactly one of `slot` and `tokenLabel`. */
  readonly tokenLabel?: string;
}

/** PKCS#11 3.0 values that pkcs11js (a 2.40 binding) does not name. */
const CKK_EC_EDWARDS = 0x40;
const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
const CKM_EDDSA = 0x1057;
const CKM_EC_KEY_PAIR_GEN = 0x1040;
const CKM_ECDSA = 0x1041;
const CKM_ECDSA_SHA256 = 0x1044;

const hex = (n: number) => `0x${n.toString(16)}`;

/** The mechanisms each key type needs: generation and one way of signing. */
export const REQUIRED_MECHANISMS: Record<SigningKeyType, { generate: string; sign: string }> = {
  ed25519: {
    generate: `CKM_EC_EDWARDS_KEY_PAIR_GEN (${hex(CKM_EC_EDWARDS_KEY_PAIR_GEN)})`,
    sign: `CKM_EDDSA (${hex(CKM_EDDSA)})`,
  },
  p256: {
    generate: `CKM_EC_KEY_PAIR_GEN (${hex(CKM_EC_KEY_PAIR_GEN)})`,
    sign: `CKM_ECDSA (${hex(CKM_ECDSA)}) or CKM_ECDSA_SHA256 (${hex(CKM_ECDSA_SHA256)})`,
  },
};

/** A signature is 64 bytes for both types; a longer output buffer lets a wrong size be seen. */
const SIGNATURE_SIZE = 64;
/** At most this many objects are looked at for one CKA_ID (there should be one). */
const FIND_LIMIT = 4;

interface FoundKey {
  readonly type: SigningKeyType;
  readonly privateKey: Buffer;
  publicKey?: Uint8Array;
}

/** Reads an unsigned CK_ULONG attribute value (4 or 8 bytes, little-endian on every platform Node runs on). */
const ulong = (b: Buffer): number =>
  b.length === 8 ? Number(b.readBigUInt64LE(0)) : b.length === 4 ? b.readUInt32LE(0) : -1;
const handleNumber = (h: Buffer): bigint =>
  h.length === 8 ? h.readBigUInt64LE(0) : BigInt(h.readUInt32LE(0));

function checkConfig(config: Pkcs11Config, vaultName: string): void {
  if (typeof config.library !== 'string' || config.library === '')
    throw new VaultError('invalid', `Vault ${vaultName}: the PKCS#11 library path is missing`);
  if ((config.slot === undefined) === (config.tokenLabel === undefined))
    throw new VaultError(
      'invalid',
      `Vault ${vaultName}: give exactly one of a PKCS#11 slot and a token label`,
    );
  if (config.slot !== undefined && !(Number.isSafeInteger(config.slot) && config.slot >= 0))
    throw new VaultError('invalid', `Vault ${vaultName}: the PKCS#11 slot must be a non-negative integer`);
}

/** Where the token is, for messages: its label or slot, and the library. */
const where = (config: Pkcs11Config): string =>
  config.tokenLabel !== undefined ? `'${config.tokenLabel}'` : `in slot ${config.slot}`;

/**
 * Opens a session on the token, logs in with the PIN from the environment and probes which key
 * types it can generate and sign with. Throws a VaultError saying what is wrong (library, token,
 * PIN, mechanisms) when it cannot.
 *
 * @example
 * ```ts
 * import { openSigningKeyBackend } from '@ockam/vault-pkcs11';
 * process.env.OCKAM_PKCS11_PIN ??= '1234';
 * const keys = openSigningKeyBackend(
 *   { kind: 'pkcs11', library: '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: 'ockam' },
 *   'hsm',
 * );
 * const key = await keys.generateSigningKey(keys.types[0] ?? 'p256');
 * const signature = await keys.sign(key, new TextEncoder().encode('hello'));
 * await keys.close();
 * ```
 */
export function openSigningKeyBackend(
  config: { readonly kind: string; readonly [option: string]: unknown },
  vaultName: string,
): SigningKeyBackend {
  if (config.kind !== 'pkcs11')
    throw new VaultError('invalid', `Vault ${vaultName}: '${config.kind}' is not a PKCS#11 configuration`);
  const c = config as unknown as Pkcs11Config;
  checkConfig(c, vaultName);
  return Pkcs11Backend.open(c, vaultName);
}

class Pkcs11Backend implements SigningKeyBackend {
  readonly kind = 'pkcs11';
  readonly types: readonly SigningKeyType[];
  readonly #config: Pkcs11Config;
  readonly #vaultName: string;
  readonly #library: LibraryRef;
  readonly #p11: Pkcs11;
  readonly #ecdsaMechanism: number;
  #session: Buffer | undefined;
  #closed = false;
  /** Keys found or generated in this session, by handle id (object handles are per session). */
  readonly #keys = new Map<string, FoundKey>();
  /** PKCS#11 sessions are not for concurrent use: every call waits for the one before. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(config: Pkcs11Config, vaultName: string, library: LibraryRef) {
    this.#config = config;
    this.#vaultName = vaultName;
    this.#library = library;
    this.#p11 = library.module;
    const slot = this.#findSlot();
    const mechanisms = this.#call(
      'listing the mechanisms',
      () => new Set(this.#p11.C_GetMechanismList(slot)),
    );
    const types: SigningKeyType[] = [];
    if (mechanisms.has(CKM_EC_EDWARDS_KEY_PAIR_GEN) && mechanisms.has(CKM_EDDSA)) types.push('ed25519');
    this.#ecdsaMechanism = mechanisms.has(CKM_ECDSA) ? CKM_ECDSA : CKM_ECDSA_SHA256;
    if (
      mechanisms.has(CKM_EC_KEY_PAIR_GEN) &&
      (mechanisms.has(CKM_ECDSA) || mechanisms.has(CKM_ECDSA_SHA256))
    )
      types.push('p256');
    if (types.length === 0)
      throw new VaultError(
        'unsupported',
        `The PKCS#11 token ${this.#token} can generate neither Ed25519 keys (${REQUIRED_MECHANISMS.ed25519.generate} and ${REQUIRED_MECHANISMS.ed25519.sign}) nor P-256 keys (${REQUIRED_MECHANISMS.p256.generate} and ${REQUIRED_MECHANISMS.p256.sign})`,
      );
    this.types = types;
    this.#session = this.#openSession(slot);
  }

  static open(config: Pkcs11Config, vaultName: string): Pkcs11Backend {
    const library = acquireLibrary(config.library);
    try {
      return new Pkcs11Backend(config, vaultName, library);
    } catch (e) {
      library.release();
      throw e;
    }
  }

  get #token(): string {
    return `${where(this.#config)} (${this.#library.path})`;
  }

  get #pinEnv(): string {
    const own = vaultPinEnv(this.#vaultName);
    return process.env[own] !== undefined ? own : PIN_ENV;
  }

  /** Runs a synchronous PKCS#11 call, turning its failure into a VaultError. */
  #call<T>(doing: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw pkcs11Error(e, doing, this.#token, this.#pinEnv);
    }
  }

  #findSlot(): Buffer {
    const slots = this.#call('listing the slots', () => this.#p11.C_GetSlotList(true));
    const { slot, tokenLabel } = this.#config;
    if (slot !== undefined) {
      const found = slots.find((s) => handleNumber(s) === BigInt(slot));
      if (found === undefined)
        throw new VaultError(
          'not-found',
          `No PKCS#11 token in slot ${slot} of ${this.#library.path} (slots with a token: ${slots.map((s) => handleNumber(s).toString()).join(', ') || 'none'})`,
        );
      return found;
    }
    const labels: string[] = [];
    for (const s of slots) {
      // A label is 32 bytes padded with spaces (and sometimes NULs).
      let label: string;
      try {
        label = this.#p11.C_GetTokenInfo(s).label.replace(/[\s\0]+$/, '');
      } catch {
        continue; // a token being removed or not recognised: not the one asked for
      }
      if (label === '') continue; // SoftHSM's free slot, an uninitialised token
      if (label === tokenLabel) return s;
      labels.push(`'${label}'`);
    }
    throw new VaultError(
      'not-found',
      `No PKCS#11 token labelled '${tokenLabel}' in ${this.#library.path} (tokens: ${labels.join(', ') || 'none'})`,
    );
  }

  #openSession(slot: Buffer): Buffer {
    const p = pkcs11js();
    const pinEnv = this.#pinEnv;
    const pin = process.env[pinEnv];
    if (pin === undefined || pin === '')
      throw new VaultError(
        'invalid',
        `Vault ${this.#vaultName} keeps its keys in the PKCS#11 token ${this.#token}: set ${PIN_ENV} (or ${vaultPinEnv(this.#vaultName)}) to its user PIN`,
      );
    const session = this.#call('opening a session', () =>
      this.#p11.C_OpenSession(slot, p.CKF_SERIAL_SESSION | p.CKF_RW_SESSION),
    );
    try {
      this.#p11.C_Login(session, p.CKU_USER, pin);
    } catch (e) {
      // The login state is the application's, shared by its sessions on that token: another vault
      // on the same token may have logged in already.
      if (codeOf(e) !== CKR.USER_ALREADY_LOGGED_IN) {
        try {
          this.#p11.C_CloseSession(session);
        } catch {}
        const error = pkcs11Error(e, 'logging in', this.#token, pinEnv);
        if (codeOf(e) !== CKR.PIN_INCORRECT) throw error;
        // Tokens lock their PIN after a few wrong tries: say so before a restart loop gets there.
        let flags = 0;
        try {
          flags = this.#p11.C_GetTokenInfo(slot).flags;
        } catch {}
        if (flags & p.CKF_USER_PIN_FINAL_TRY) error.message += '; one more wrong PIN locks the token';
        else if (flags & p.CKF_USER_PIN_COUNT_LOW) error.message += '; the token has counted wrong PINs';
        throw error;
      }
    }
    return session;
  }

  /**
   * Runs `fn` with the session after every earlier call has finished. A session lost to a removed
   * token is reopened on the next call (the token may be back); until then calls fail clearly.
   */
  #run<T>(doing: string, fn: (session: Buffer) => T | Promise<T>): Promise<T> {
    const next = this.#queue.then(async () => {
      if (this.#closed)
        throw new VaultError('shutdown', `The PKCS#11 session of vault ${this.#vaultName} is closed`);
      if (this.#session === undefined) {
        this.#keys.clear();
        this.#session = this.#openSession(this.#findSlot());
      }
      const session = this.#session;
      try {
        return await fn(session);
      } catch (caught) {
        let e = caught;
        const code = codeOf(e);
        if (
          code === CKR.OBJECT_HANDLE_INVALID ||
          code === CKR.KEY_HANDLE_INVALID ||
          code === CKR.GENERAL_ERROR
        ) {
          // Object handles are the session's view of the token: when they vanish, or the library
          // fails without saying why, either the key was deleted or the token went away, and only
          // the token can tell which.
          this.#keys.clear();
          if (!this.#tokenPresent(session))
            e = Object.assign(new Error('CKR_TOKEN_NOT_PRESENT'), { code: CKR.TOKEN_NOT_PRESENT });
        }
        if (isSessionLost(e)) {
          this.#session = undefined;
          try {
            this.#p11.C_CloseSession(session);
          } catch {}
        }
        throw pkcs11Error(e, doing, this.#token, this.#pinEnv);
      }
    });
    this.#queue = next.catch(() => {});
    return next;
  }

  /** False when the session's token is gone (SoftHSM, for one, then fails C_GetTokenInfo). */
  #tokenPresent(session: Buffer): boolean {
    try {
      this.#p11.C_GetTokenInfo(this.#p11.C_GetSessionInfo(session).slotID);
      return true;
    } catch {
      return false;
    }
  }

  #attribute(session: Buffer, object: Buffer, type: number): Buffer {
    const [attr] = this.#p11.C_GetAttributeValue(session, object, [{ type }]);
    if (attr?.value === undefined)
      throw new VaultError('invalid', `The token returned no value for attribute ${hex(type)}`);
    return attr.value;
  }

  #find(session: Buffer, template: Array<{ type: number; value?: number | boolean | Buffer }>): Buffer[] {
    this.#p11.C_FindObjectsInit(session, template);
    try {
      return this.#p11.C_FindObjects(session, FIND_LIMIT);
    } finally {
      this.#p11.C_FindObjectsFinal(session);
    }
  }

  #readPublicKey(session: Buffer, object: Buffer, type: SigningKeyType): Uint8Array {
    const p = pkcs11js();
    const point = parseEcPoint(
      this.#attribute(session, object, p.CKA_EC_POINT),
      type === 'ed25519' ? 32 : 65,
    );
    // A point that is not on the curve would make every signature unverifiable: refuse it now.
    try {
      if (type === 'ed25519')
        createPublicKey({
          key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(point).toString('base64url') },
          format: 'jwk',
        });
      else
        createPublicKey({
          key: {
            kty: 'EC',
            crv: 'P-256',
            x: Buffer.from(point.subarray(1, 33)).toString('base64url'),
            y: Buffer.from(point.subarray(33, 65)).toString('base64url'),
          },
          format: 'jwk',
        });
    } catch (e) {
      throw new VaultError('invalid', `The token returned an invalid ${type} public key`, { cause: e });
    }
    return point;
  }

  generateSigningKey(type: SigningKeyType): Promise<KeyHandle> {
    if (!this.types.includes(type))
      return Promise.reject(
        new VaultError(
          'unsupported',
          `The PKCS#11 token ${this.#token} cannot make ${type} keys: it needs ${REQUIRED_MECHANISMS[type].generate} and ${REQUIRED_MECHANISMS[type].sign}`,
        ),
      );
    return this.#run(`generating a ${type} key`, async (session) => {
      const p = pkcs11js();
      const label = Buffer.from(`ockam ${this.#vaultName}`.slice(0, 64));
      const keyType = type === 'ed25519' ? CKK_EC_EDWARDS : p.CKK_EC;
      const pair = await this.#p11.C_GenerateKeyPairAsync(
        session,
        { mechanism: type === 'ed25519' ? CKM_EC_EDWARDS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN },
        [
          { type: p.CKA_CLASS, value: p.CKO_PUBLIC_KEY },
          { type: p.CKA_KEY_TYPE, value: keyType },
          { type: p.CKA_TOKEN, value: true },
          { type: p.CKA_PRIVATE, value: false },
          { type: p.CKA_VERIFY, value: true },
          // A signing key and nothing else (SoftHSM, for one, defaults these to true).
          { type: p.CKA_ENCRYPT, value: false },
          { type: p.CKA_WRAP, value: false },
          { type: p.CKA_EC_PARAMS, value: Buffer.from(type === 'ed25519' ? ED25519_PARAMS : P256_PARAMS) },
          { type: p.CKA_LABEL, value: label },
        ],
        [
          { type: p.CKA_CLASS, value: p.CKO_PRIVATE_KEY },
          { type: p.CKA_KEY_TYPE, value: keyType },
          { type: p.CKA_TOKEN, value: true },
          { type: p.CKA_PRIVATE, value: true },
          { type: p.CKA_SENSITIVE, value: true },
          { type: p.CKA_EXTRACTABLE, value: false },
          { type: p.CKA_SIGN, value: true },
          { type: p.CKA_DERIVE, value: false },
          { type: p.CKA_DECRYPT, value: false },
          { type: p.CKA_UNWRAP, value: false },
          { type: p.CKA_LABEL, value: label },
        ],
      );
      try {
        // A token that ignored the template would leave a key that can be read out: refuse it.
        const sensitive = this.#attribute(session, pair.privateKey, p.CKA_SENSITIVE);
        const extractable = this.#attribute(session, pair.privateKey, p.CKA_EXTRACTABLE);
        if (sensitive[0] !== 1 || extractable[0] !== 0)
          throw new VaultError(
            'invalid',
            `The PKCS#11 token ${this.#token} made a private key that is not sensitive and non-extractable`,
          );
        const publicKey = this.#readPublicKey(session, pair.publicKey, type);
        const idBytes = createHash('sha256').update(publicKey).digest();
        for (const object of [pair.publicKey, pair.privateKey])
          this.#p11.C_SetAttributeValue(session, object, [{ type: p.CKA_ID, value: idBytes }]);
        const id = idBytes.toString('hex');
        this.#keys.set(id, { type, privateKey: pair.privateKey, publicKey });
        return { id, type };
      } catch (e) {
        for (const object of [pair.publicKey, pair.privateKey]) {
          try {
            this.#p11.C_DestroyObject(session, object);
          } catch {}
        }
        throw e;
      }
    });
  }

  /** The key with this id in the token, looked up once per session. */
  #lookup(session: Buffer, id: string): FoundKey | undefined {
    const cached = this.#keys.get(id);
    if (cached !== undefined) return cached;
    if (!/^[0-9a-f]{64}$/.test(id)) return undefined;
    const p = pkcs11js();
    const [privateKey] = this.#find(session, [
      { type: p.CKA_CLASS, value: p.CKO_PRIVATE_KEY },
      { type: p.CKA_ID, value: Buffer.from(id, 'hex') },
    ]);
    if (privateKey === undefined) return undefined;
    const keyType = ulong(this.#attribute(session, privateKey, p.CKA_KEY_TYPE));
    let type: SigningKeyType;
    if (keyType === CKK_EC_EDWARDS) type = 'ed25519';
    else if (
      keyType === p.CKK_EC &&
      bytesEqual(this.#attribute(session, privateKey, p.CKA_EC_PARAMS), P256_PARAMS)
    )
      type = 'p256';
    else return undefined;
    const found: FoundKey = { type, privateKey };
    this.#keys.set(id, found);
    return found;
  }

  #require(session: Buffer, key: KeyHandle): FoundKey {
    const found = this.#lookup(session, key.id);
    if (found === undefined || found.type !== key.type)
      throw new VaultError('not-found', `No ${key.type} key ${key.id} in the PKCS#11 token ${this.#token}`);
    return found;
  }

  sign(key: KeyHandle, message: Uint8Array): Promise<Uint8Array> {
    return this.#run(`signing with the ${key.type} key ${key.id.slice(0, 16)}…`, async (session) => {
      const found = this.#require(session, key);
      let mechanism: number;
      let data: Buffer;
      if (found.type === 'ed25519') {
        mechanism = CKM_EDDSA;
        data = Buffer.from(message);
      } else if (this.#ecdsaMechanism === CKM_ECDSA) {
        // The vault's P-256 signature is ECDSA over SHA-256 of the message; the hash is no secret.
        mechanism = CKM_ECDSA;
        data = createHash('sha256').update(message).digest();
      } else {
        mechanism = CKM_ECDSA_SHA256;
        data = Buffer.from(message);
      }
      this.#p11.C_SignInit(session, { mechanism }, found.privateKey);
      const signature = await this.#p11.C_SignAsync(session, data, Buffer.alloc(SIGNATURE_SIZE + 8));
      if (signature.length !== SIGNATURE_SIZE)
        throw new VaultError(
          'invalid',
          `The PKCS#11 token returned a ${signature.length}-byte ${key.type} signature`,
        );
      return new Uint8Array(signature);
    });
  }

  publicKey(key: KeyHandle): Promise<Uint8Array> {
    return this.#run(`reading the public key ${key.id.slice(0, 16)}…`, (session) => {
      const found = this.#require(session, key);
      if (found.publicKey === undefined) {
        const p = pkcs11js();
        const [object] = this.#find(session, [
          { type: p.CKA_CLASS, value: p.CKO_PUBLIC_KEY },
          { type: p.CKA_ID, value: Buffer.from(key.id, 'hex') },
        ]);
        if (object === undefined)
          throw new VaultError(
            'not-found',
            `The PKCS#11 token ${this.#token} has no public key object for key ${key.id}`,
          );
        const publicKey = this.#readPublicKey(session, object, found.type);
        // CKA_ID is writable: make sure this public key is the one the id names.
        if (createHash('sha256').update(publicKey).digest('hex') !== key.id)
          throw new VaultError(
            'invalid',
            `The public key of key ${key.id} in the PKCS#11 token does not match its id`,
          );
        found.publicKey = publicKey;
      }
      return found.publicKey.slice();
    });
  }

  getKey(id: string): Promise<KeyHandle | undefined> {
    return this.#run('looking up a key', (session) => {
      const found = this.#lookup(session, id);
      return found === undefined ? undefined : { id, type: found.type };
    });
  }

  deleteKey(key: KeyHandle): Promise<boolean> {
    return this.#run(`deleting the key ${key.id.slice(0, 16)}…`, (session) => {
      if (!/^[0-9a-f]{64}$/.test(key.id)) return false;
      const p = pkcs11js();
      const id = Buffer.from(key.id, 'hex');
      const privateKeys = this.#find(session, [
        { type: p.CKA_CLASS, value: p.CKO_PRIVATE_KEY },
        { type: p.CKA_ID, value: id },
      ]);
      const publicKeys = this.#find(session, [
        { type: p.CKA_CLASS, value: p.CKO_PUBLIC_KEY },
        { type: p.CKA_ID, value: id },
      ]);
      for (const object of [...privateKeys, ...publicKeys]) this.#p11.C_DestroyObject(session, object);
      this.#keys.delete(key.id);
      return privateKeys.length > 0;
    });
  }

  close(): Promise<void> {
    const done = this.#queue.then(() => {
      if (this.#closed) return;
      this.#closed = true;
      // No C_Logout: the login belongs to every session of this process on the token, and closing
      // the last session logs out anyway.
      if (this.#session !== undefined) {
        try {
          this.#p11.C_CloseSession(this.#session);
        } catch {}
        this.#session = undefined;
      }
      this.#keys.clear();
      this.#library.release();
    });
    this.#queue = done;
    return done;
  }
}

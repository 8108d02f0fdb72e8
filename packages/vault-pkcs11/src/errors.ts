/** PKCS#11 return values turned into VaultErrors a person can act on. */
import type { ErrorKind } from '@ockam/core';
import { VaultError } from '@ockam/vault';

/** CKR_* values (PKCS#11 2.40 / 3.0, section 5.1). */
export const CKR = {
  GENERAL_ERROR: 0x05,
  DEVICE_ERROR: 0x30,
  DEVICE_MEMORY: 0x31,
  DEVICE_REMOVED: 0x32,
  KEY_HANDLE_INVALID: 0x60,
  MECHANISM_INVALID: 0x70,
  OBJECT_HANDLE_INVALID: 0x82,
  PIN_INCORRECT: 0xa0,
  PIN_INVALID: 0xa1,
  PIN_LEN_RANGE: 0xa2,
  PIN_EXPIRED: 0xa3,
  PIN_LOCKED: 0xa4,
  SESSION_CLOSED: 0xb0,
  SESSION_HANDLE_INVALID: 0xb3,
  TOKEN_NOT_PRESENT: 0xe0,
  TOKEN_NOT_RECOGNIZED: 0xe1,
  USER_ALREADY_LOGGED_IN: 0x100,
  USER_NOT_LOGGED_IN: 0x101,
  USER_PIN_NOT_INITIALIZED: 0x102,
  CRYPTOKI_NOT_INITIALIZED: 0x190,
} as const;

/** The errors after which the session is gone: the token was pulled, or the library was reset. */
const SESSION_LOST = new Set<number>([
  CKR.DEVICE_ERROR,
  CKR.DEVICE_REMOVED,
  CKR.SESSION_CLOSED,
  CKR.SESSION_HANDLE_INVALID,
  CKR.TOKEN_NOT_PRESENT,
  CKR.TOKEN_NOT_RECOGNIZED,
  CKR.USER_NOT_LOGGED_IN,
  CKR.CRYPTOKI_NOT_INITIALIZED,
]);

export const codeOf = (e: unknown): number | undefined => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'number' && code !== 0 ? code : undefined;
};

/** The CKR_ name pkcs11js puts in the message, or the code in hex. */
const nameOf = (e: unknown): string => {
  const message = e instanceof Error ? e.message : String(e);
  const m = /^CKR_[A-Z0-9_]+$/.exec(message.trim());
  if (m) return m[0];
  const code = codeOf(e);
  return code === undefined ? (message.split('\n')[0] ?? '') : `CKR 0x${code.toString(16)}`;
};

export const isSessionLost = (e: unknown): boolean => {
  const code = codeOf(e);
  return code !== undefined && SESSION_LOST.has(code);
};

/**
 * A VaultError for a failed PKCS#11 call. `token` names the token in messages; `pinEnv` is the
 * variable a wrong PIN came from (its value never appears anywhere).
 */
export function pkcs11Error(e: unknown, doing: string, token: string, pinEnv?: string): VaultError {
  if (e instanceof VaultError) return e;
  const code = codeOf(e);
  const ckr = nameOf(e);
  const err = (kind: ErrorKind, message: string) => new VaultError(kind, message, { cause: e });
  switch (code) {
    case CKR.PIN_INCORRECT:
    case CKR.PIN_INVALID:
    case CKR.PIN_LEN_RANGE:
      return err(
        'permission',
        `Wrong PIN for the PKCS#11 token ${token} (${ckr}): check ${pinEnv ?? 'the PIN'}`,
      );
    case CKR.PIN_LOCKED:
      return err(
        'permission',
        `The user PIN of the PKCS#11 token ${token} is locked (${ckr}): unlock it with the token's SO PIN`,
      );
    case CKR.PIN_EXPIRED:
      return err(
        'permission',
        `The user PIN of the PKCS#11 token ${token} has expired (${ckr}): set a new one`,
      );
    case CKR.USER_PIN_NOT_INITIALIZED:
      return err('invalid', `The PKCS#11 token ${token} has no user PIN yet (${ckr}): initialise it first`);
    case CKR.MECHANISM_INVALID:
      return err('unsupported', `The PKCS#11 token ${token} does not support ${doing} (${ckr})`);
    case CKR.KEY_HANDLE_INVALID:
    case CKR.OBJECT_HANDLE_INVALID:
      return err('not-found', `The key is no longer in the PKCS#11 token ${token} (${ckr}) while ${doing}`);
  }
  if (isSessionLost(e))
    return err(
      'io',
      `The PKCS#11 token ${token} is not available any more (${ckr}) while ${doing}: was it removed?`,
    );
  return err('io', `PKCS#11 error while ${doing} with the token ${token}: ${ckr}`);
}

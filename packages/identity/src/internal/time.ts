/** Current Unix time in whole seconds. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** 10 years of 365 days: Ockam's DEFAULT_IDENTITY_TTL (PROTOCOL.md §4.1). */
export const DEFAULT_IDENTITY_TTL = 10 * 365 * 24 * 60 * 60;
/** 5 years of 365 days: Ockam's default purpose key TTL (PROTOCOL.md §4.3). */
export const DEFAULT_PURPOSE_KEY_TTL = 5 * 365 * 24 * 60 * 60;
/** How far in the future a purpose key's created_at may be (PROTOCOL.md §4.3). */
export const MAX_ALLOWED_TIME_DRIFT = 60;

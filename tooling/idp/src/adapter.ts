/**
 * oidc-provider's storage for one provider: a Map with expiry, per instance. The library's own
 * memory adapter keeps one module-wide store, which several providers in one test process (a
 * "token from another issuer" test) would share.
 */
import type { Adapter, AdapterPayload } from 'oidc-provider';

/** Upper bound on stored entries: a runaway client cannot grow the test process without limit. */
const MAX_ENTRIES = 10_000;

interface Entry {
  payload: AdapterPayload;
  /** ms since the epoch; Infinity when the provider gave no lifetime. */
  expiresAt: number;
}

export function memoryAdapterFactory(): (name: string) => Adapter {
  const entries = new Map<string, Entry>();
  const userCodes = new Map<string, string>();
  const uids = new Map<string, string>();
  const grants = new Map<string, Set<string>>();

  const live = (key: string | undefined): AdapterPayload | undefined => {
    if (key === undefined) return undefined;
    const e = entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= Date.now()) {
      entries.delete(key);
      return undefined;
    }
    return structuredClone(e.payload);
  };

  const sweep = (): void => {
    const now = Date.now();
    for (const [key, e] of entries) if (e.expiresAt <= now) entries.delete(key);
    for (const index of [userCodes, uids])
      for (const [k, key] of index) if (!entries.has(key)) index.delete(k);
    for (const [g, keys] of grants) {
      for (const key of keys) if (!entries.has(key)) keys.delete(key);
      if (keys.size === 0) grants.delete(g);
    }
  };

  return (name: string): Adapter => {
    const keyOf = (id: string): string => `${name}:${id}`;
    return {
      async upsert(id, payload, expiresIn) {
        if (entries.size >= MAX_ENTRIES) sweep();
        if (entries.size >= MAX_ENTRIES) throw new Error(`idp storage full (${MAX_ENTRIES} entries)`);
        const stored = structuredClone(payload);
        // oidc-provider keeps the device authorization request's parameters on the device code
        // but copies a nonce into the ID token only from the authorization endpoint (its author
        // sees no use for one in the device flow). OpenID Connect Core 3.1.2.1 says a nonce sent
        // in the request MUST come back in the ID token, and our authority checks it there, so
        // the device code carries it: issueIdToken then sets the ID token's nonce from it.
        const requested = (stored.params as Record<string, unknown> | undefined)?.nonce;
        if (name === 'DeviceCode' && stored.nonce === undefined && typeof requested === 'string')
          stored.nonce = requested;
        const key = keyOf(id);
        entries.set(key, {
          payload: stored,
          expiresAt: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Number.POSITIVE_INFINITY,
        });
        if (typeof stored.userCode === 'string') userCodes.set(stored.userCode, key);
        if (typeof stored.uid === 'string') uids.set(stored.uid, key);
        if (typeof stored.grantId === 'string') {
          const keys = grants.get(stored.grantId) ?? new Set<string>();
          keys.add(key);
          grants.set(stored.grantId, keys);
        }
      },
      async find(id) {
        return live(keyOf(id));
      },
      async findByUserCode(userCode) {
        return live(userCodes.get(userCode));
      },
      async findByUid(uid) {
        return live(uids.get(uid));
      },
      async consume(id) {
        const e = entries.get(keyOf(id));
        if (e) e.payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id) {
        entries.delete(keyOf(id));
      },
      async revokeByGrantId(grantId) {
        for (const key of grants.get(grantId) ?? []) entries.delete(key);
        grants.delete(grantId);
      },
    };
  };
}

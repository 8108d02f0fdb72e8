import type { Vault } from '@ockam/core';
import { createVault } from '@ockam/vault';

/** Both vault backends: every crypto suite runs on each. */
export const BACKENDS = ['node', 'noble'] as const;

export function vaultFor(backend: (typeof BACKENDS)[number]): Vault {
  return createVault(backend);
}

/**
 * A vault that keeps count of the ephemeral keys, secrets and AEAD keys handed out and not yet
 * deleted, and of X25519 key generations.
 */
export function ledger(vault: Vault): { vault: Vault; live: () => number; generated: () => number } {
  const live = new Set<string>();
  let generated = 0;
  const add = <T extends { id: string }>(prefix: string, h: T): T => {
    live.add(`${prefix}:${h.id}`);
    return h;
  };
  const overrides: Partial<Vault> = {
    generateX25519: async (options) => {
      generated++;
      const key = await vault.generateX25519(options);
      return options?.ephemeral ? add('key', key) : key;
    },
    x25519: (key, pub) => add('secret', vault.x25519(key, pub)),
    importSecret: (bytes) => add('secret', vault.importSecret(bytes)),
    hkdf: (...args) => vault.hkdf(...args).map((h) => add('secret', h)),
    aeadKey: (...args) => add('aead', vault.aeadKey(...args)),
    deleteSecret: (h) => {
      live.delete(`${h.kind === 'aead' ? 'aead' : 'secret'}:${h.id}`);
      vault.deleteSecret(h);
    },
    deleteKey: async (key) => {
      live.delete(`key:${key.id}`);
      return vault.deleteKey(key);
    },
  };
  const wrapped = new Proxy(vault, {
    get(target, prop, receiver) {
      const own = (overrides as Record<string | symbol, unknown>)[prop];
      if (own !== undefined) return own;
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { vault: wrapped, live: () => live.size, generated: () => generated };
}

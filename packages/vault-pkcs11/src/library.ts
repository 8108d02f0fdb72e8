/**
 * Loading a PKCS#11 library and sharing its initialisation. Cryptoki is initialised once per
 * process and library: a second C_Initialize answers CKR_CRYPTOKI_ALREADY_INITIALIZED and one
 * C_Finalize ends every session of every caller. So each library is loaded and initialised on the
 * first backend that opens it, counted, and finalised when the last of them closes.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { VaultError } from '@ockam/vault';
import type * as Pkcs11js from 'pkcs11js';

export type Pkcs11Module = typeof Pkcs11js;
export type Pkcs11 = Pkcs11js.PKCS11;

let binding: Pkcs11Module | undefined;

/** The pkcs11js binding, loaded on first use so that a build without it still runs everything else. */
export function pkcs11js(): Pkcs11Module {
  if (binding === undefined) {
    try {
      binding = createRequire(import.meta.url)('pkcs11js') as Pkcs11Module;
    } catch (e) {
      throw new VaultError(
        'unsupported',
        `The PKCS#11 binding (pkcs11js) cannot be loaded: ${(e as Error).message.split('\n')[0]}. Reinstall with a C++ toolchain (node-gyp) available`,
        { cause: e },
      );
    }
  }
  return binding;
}

interface LoadedLibrary {
  readonly module: Pkcs11;
  /** Open backends using it; C_Finalize runs when this falls back to 0. */
  refs: number;
  /** False when someone else in the process initialised it: then they finalise it, not us. */
  ownsInitialisation: boolean;
}

/** Loaded libraries by resolved path. A library stays loaded once loaded (dlclose is not safe for every module). */
const libraries = new Map<string, LoadedLibrary>();

/** A reference to an initialised library; call `release` exactly once. */
export interface LibraryRef {
  readonly path: string;
  readonly module: Pkcs11;
  release(): void;
}

export function acquireLibrary(path: string): LibraryRef {
  const resolved = resolve(path);
  let lib = libraries.get(resolved);
  if (lib === undefined) {
    if (!existsSync(resolved))
      throw new VaultError('not-found', `The PKCS#11 library ${resolved} does not exist`);
    const p = pkcs11js();
    const module = new p.PKCS11();
    try {
      module.load(resolved);
    } catch (e) {
      throw new VaultError(
        'invalid',
        `Cannot load the PKCS#11 library ${resolved}: ${(e as Error).message.split('\n')[0]}`,
        { cause: e },
      );
    }
    lib = { module, refs: 0, ownsInitialisation: false };
    libraries.set(resolved, lib);
  }
  if (lib.refs === 0) {
    const p = pkcs11js();
    try {
      // Calls run on libuv's worker threads (C_SignAsync), so the library must lock for itself.
      lib.module.C_Initialize({ flags: p.CKF_OS_LOCKING_OK });
      lib.ownsInitialisation = true;
    } catch (e) {
      if ((e as { code?: number }).code !== p.CKR_CRYPTOKI_ALREADY_INITIALIZED)
        throw new VaultError(
          'io',
          `Cannot initialise the PKCS#11 library ${resolved}: ${(e as Error).message.split('\n')[0]}`,
          { cause: e },
        );
      lib.ownsInitialisation = false;
    }
  }
  lib.refs += 1;
  const held = lib;
  let released = false;
  return {
    path: resolved,
    module: held.module,
    release: () => {
      if (released) return;
      released = true;
      held.refs -= 1;
      if (held.refs === 0 && held.ownsInitialisation) {
        try {
          held.module.C_Finalize();
        } catch {
          // Nothing depends on a clean finalisation: the next acquire initialises again.
        }
      }
    },
  };
}

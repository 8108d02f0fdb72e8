/**
 * A throwaway SoftHSM2 token for tests and trials: its own configuration file and token directory
 * in a temporary directory, so nothing touches the machine's /var/lib/softhsm. SoftHSM reads the
 * configuration from SOFTHSM2_CONF, so a process using the token needs `env` in its environment.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where Debian, Ubuntu, Fedora and Homebrew put SoftHSM2's module. */
const LIBRARY_PATHS = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib64/pkcs11/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
  '/opt/homebrew/lib/softhsm/libsofthsm2.so',
];

/** SoftHSM2's module and `softhsm2-util`, or why they cannot be used. */
export function findSoftHsm(): { library: string } | { missing: string } {
  const library = process.env.OCKAM_SOFTHSM2_LIBRARY ?? LIBRARY_PATHS.find((p) => existsSync(p));
  if (library === undefined || !existsSync(library))
    return { missing: 'SoftHSM2 is not installed (no libsofthsm2.so; Debian: apt-get install softhsm2)' };
  try {
    execFileSync('softhsm2-util', ['--version'], { stdio: 'ignore' });
  } catch {
    return { missing: 'softhsm2-util is not on the PATH' };
  }
  return { library };
}

/** A SoftHSM2 configuration of its own, with the tokens made in it. */
export interface SoftHsm {
  readonly library: string;
  /** SOFTHSM2_CONF for a process that uses its tokens. */
  readonly env: { SOFTHSM2_CONF: string };
  /** Initialises a token; make them all before a process first opens the library (SoftHSM lists slots then). */
  addToken(label: string, pin: string, soPin?: string): SoftHsmToken;
  /** Deletes the tokens and the configuration. */
  cleanup(): void;
}

export interface SoftHsmToken {
  readonly label: string;
  /** The slot id SoftHSM gave the token. */
  readonly slot: number;
  /** Deletes the token, as if it were pulled out. */
  remove(): void;
}

/**
 * A fresh SoftHSM2 configuration in a temporary directory; `mechanisms` limits what its tokens
 * offer. Also sets SOFTHSM2_CONF in this process, which SoftHSM reads when the library is
 * initialised.
 */
export function createSoftHsm(options: { mechanisms?: string } = {}): SoftHsm {
  const found = findSoftHsm();
  if ('missing' in found) throw new Error(found.missing);
  const dir = mkdtempSync(join(tmpdir(), 'ockam-softhsm-'));
  const tokens = join(dir, 'tokens');
  mkdirSync(tokens);
  const conf = join(dir, 'softhsm2.conf');
  // `slots.mechanisms` (SoftHSM ≥ 2.5) offers only the listed mechanisms, or with a leading `-` all but them
  // (`-CKM_EC_EDWARDS_KEY_PAIR_GEN,CKM_EDDSA`: a token without Ed25519).
  const mechanisms = options.mechanisms === undefined ? '' : `slots.mechanisms = ${options.mechanisms}\n`;
  writeFileSync(
    conf,
    `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n${mechanisms}`,
  );
  const env = { SOFTHSM2_CONF: conf };
  process.env.SOFTHSM2_CONF = conf;
  const util = (args: string[]) =>
    execFileSync('softhsm2-util', args, { env: { ...process.env, ...env }, encoding: 'utf8' });
  return {
    library: found.library,
    env,
    addToken: (label, pin, soPin = '0000') => {
      const out = util(['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', soPin]);
      const slot = /reassigned to slot (\d+)/.exec(out)?.[1];
      if (slot === undefined) throw new Error(`softhsm2-util did not say which slot it used: ${out}`);
      return { label, slot: Number(slot), remove: () => void util(['--delete-token', '--token', label]) };
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

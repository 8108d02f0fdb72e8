/**
 * Where Debian's Chromium is and how it is started: one place for the tests of every package.
 */
import { existsSync } from 'node:fs';

/** Debian's `chromium` package, or `CHROMIUM_PATH`. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Flags for headless Chromium in tests (each documented in this package's README):
 * - `--no-sandbox`: the setuid/user-namespace sandbox is unavailable in containers and as root;
 *   the pages opened are our own, on 127.0.0.1.
 * - `--disable-gpu`: no GPU on a CI machine; software rendering only.
 * - `--disable-dev-shm-usage`: containers give /dev/shm 64 MB, too small for Chromium; use /tmp.
 * - `--disable-quic`, `--disable-background-networking`, `--disable-component-update`,
 *   `--disable-sync`, `--no-first-run`: no traffic to Google's services and no first-run UI, so a
 *   test talks only to the servers it started.
 */
export const CHROMIUM_FLAGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Why a browser test cannot run here (no Chromium), or undefined when it can. */
export function chromiumSkipReason(): string | undefined {
  return existsSync(CHROMIUM_PATH)
    ? undefined
    : `${CHROMIUM_PATH} not found (install Debian's chromium package, or set CHROMIUM_PATH)`;
}

/**
 * `noise-vectors FILE|DIR…`: runs every vector in cacophony-format JSON files (a directory means
 * the `.json` files in it; Ockam's handshake fixtures share the format) against this package's
 * Noise engine, on the `node` vault backend by default (`--backend noble` for the pure-JS one).
 *
 * Prints one line per failure (and per skip with `--verbose`), then `N passed, M failed, K skipped`
 * as its last line. The exit code is 1 if anything failed, 2 on a usage or file error.
 *
 * Node-only (it reads files), so it is exported as `@ockam/secure-channel/noise-vectors`, not
 * from the package root.
 *
 * @example
 * ```ts
 * import { runNoiseVectorFiles } from '@ockam/secure-channel/noise-vectors';
 * const { passed, failed, skipped } = await runNoiseVectorFiles(['cacophony.json']);
 * ```
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Vault } from '@ockam/core';
import { createVault, type VaultBackend } from '@ockam/vault';
import { parseNoiseVectors, runNoiseVector } from './noise-vector.js';

export interface NoiseVectorSummary {
  passed: number;
  failed: number;
  skipped: number;
  /** `file#index protocol: reason` for every failure. */
  failures: string[];
  /** `file#index protocol: reason` for every skip. */
  skips: string[];
}

export interface RunNoiseVectorFilesOptions {
  /** The vault to run on; default a fresh `createVault(backend)`. */
  vault?: Vault;
  backend?: VaultBackend;
}

/** Runs every vector of every file. Throws only for unreadable or malformed files. */
export async function runNoiseVectorFiles(
  files: readonly string[],
  options: RunNoiseVectorFilesOptions = {},
): Promise<NoiseVectorSummary> {
  const vault = options.vault ?? createVault(options.backend ?? 'node');
  const summary: NoiseVectorSummary = { passed: 0, failed: 0, skipped: 0, failures: [], skips: [] };
  for (const file of await expandFiles(files)) {
    const vectors = parseNoiseVectors(JSON.parse(await readFile(file, 'utf8')));
    for (const [i, vector] of vectors.entries()) {
      const result = await runNoiseVector(vector, vault);
      const label = `${file}#${i} ${vector.protocol_name}: ${result.reason ?? ''}`;
      if (result.status === 'passed') summary.passed++;
      else if (result.status === 'failed') {
        summary.failed++;
        summary.failures.push(label);
      } else {
        summary.skipped++;
        summary.skips.push(label);
      }
    }
  }
  return summary;
}

/** Directories stand for the `.json` files directly inside them, in name order. */
async function expandFiles(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    if ((await stat(p)).isDirectory()) {
      const names = (await readdir(p)).filter((n) => n.endsWith('.json')).sort();
      out.push(...names.map((n) => join(p, n)));
    } else out.push(p);
  }
  return out;
}

const USAGE = 'usage: noise-vectors [--backend node|noble] [--verbose] FILE|DIR…';

/** The command line; returns the exit code. */
export async function main(
  argv: readonly string[],
  out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  err: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<number> {
  const files: string[] = [];
  let backend: VaultBackend = 'node';
  let verbose = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--backend') {
      const b = argv[++i];
      if (b !== 'node' && b !== 'noble') {
        err(USAGE);
        return 2;
      }
      backend = b;
    } else if (arg === '--verbose' || arg === '-v') verbose = true;
    else if (arg === '--help' || arg === '-h') {
      out(USAGE);
      return 0;
    } else files.push(arg);
  }
  if (files.length === 0) {
    err(USAGE);
    return 2;
  }
  let summary: NoiseVectorSummary;
  try {
    summary = await runNoiseVectorFiles(files, { backend });
  } catch (e) {
    err(`noise-vectors: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
  for (const f of summary.failures) out(`FAIL ${f}`);
  if (verbose) for (const s of summary.skips) out(`SKIP ${s}`);
  out(`${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`);
  return summary.failed > 0 ? 1 : 0;
}

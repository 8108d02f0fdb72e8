import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort as freeTcpPort } from '@ockam/brokers';

export const OCKAM_BIN = fileURLToPath(new URL('../bin/ockam.js', import.meta.url));

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A throwaway $OCKAM_HOME (short, so Unix socket paths stay under the 107-byte limit). */
export function tempHome(): { home: string; cleanup: () => Promise<void> } {
  const home = mkdtempSync(join(tmpdir(), 'ock-'));
  return {
    home,
    cleanup: async () => {
      await ockam(home, ['node', 'delete', '--all', '--yes']).catch(() => {});
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Runs the built `ockam` command with OCKAM_HOME set. */
export function ockam(
  home: string,
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [OCKAM_BIN, ...args],
      { env: { ...process.env, OCKAM_HOME: home, ...options.env }, timeout: options.timeoutMs ?? 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin!.end(options.input);
    else child.stdin!.end();
  });
}

/** Runs a shell pipeline with `ockam` on PATH (a function). */
export function shell(home: string, script: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', `ockam() { node ${OCKAM_BIN} "$@"; }\nset -o pipefail\n${script}`], {
      env: { ...process.env, OCKAM_HOME: home },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** A port free a moment ago on 127.0.0.1 (bound, then released). */
export function freePort(): Promise<number> {
  return freeTcpPort('tcp');
}

/**
 * Real servers for portal tests: PostgreSQL from Debian's packages (a temporary cluster, started
 * by @ockam/state/testing) and Python's http.server. `.ci/run` installs them; a test that needs one skips with a
 * printed reason only if the package is absent.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from '@ockam/state/testing';

// One PostgreSQL launcher for the repository, in @ockam/state's testing entry.
export { freePort, postgresBin, startPostgres } from '@ockam/state/testing';

export async function startHttpServer(): Promise<{ port: number; stop(): void }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ockhttp-'));
  const child: ChildProcess = spawn('python3', ['-m', 'http.server', '--bind', '127.0.0.1', String(port)], {
    cwd: dir,
    stdio: 'ignore',
  });
  await waitForPort(port);
  return {
    port,
    stop() {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.on('error', (e) => resolve({ code: 127, stdout, stderr: String(e) }));
  });
}

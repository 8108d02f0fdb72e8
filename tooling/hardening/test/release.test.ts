/**
 * Releases: every publishable package is packed with `pnpm pack`, linted with publint, installed
 * from the tarballs alone into an empty project with npm, imported, and the `ockam` command run
 * from its tarball.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../src/ockam.js';

const run = promisify(execFile);

interface Packed {
  dir: string;
  name: string;
  tarball: string;
  files: string[];
  exports: string[];
  manifest: Record<string, unknown>;
}

function publishableDirs(): string[] {
  const dirs = [
    ...readdirSync(path.join(REPO_ROOT, 'packages')).map((d) => path.join(REPO_ROOT, 'packages', d)),
    path.join(REPO_ROOT, 'apps/daemon'),
    path.join(REPO_ROOT, 'apps/cli'),
  ];
  return dirs.filter((d) => {
    try {
      const pkg = JSON.parse(readFileSync(path.join(d, 'package.json'), 'utf8'));
      return pkg.private !== true;
    } catch {
      return false;
    }
  });
}

/** The subpaths a package exports, as import specifiers (`@ockam/vault`, `@ockam/vault/sqlite`). */
function exportedSpecifiers(name: string, exportsField: unknown): string[] {
  if (exportsField === undefined || typeof exportsField === 'string') return [name];
  const keys = Object.keys(exportsField as object);
  if (!keys.every((k) => k.startsWith('.'))) return [name];
  return keys
    .filter((k) => !k.includes('*') && k !== './package.json')
    .map((k) => (k === '.' ? name : `${name}/${k.slice(2)}`));
}

describe('the packed packages', () => {
  let work = '';
  let tarballs = '';
  let project = '';
  let home = '';
  const packed: Packed[] = [];

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'ockam-release-'));
    tarballs = path.join(work, 'tarballs');
    project = path.join(work, 'project');
    home = path.join(work, 'home');
    for (const dir of publishableDirs()) {
      const { stdout } = await run('pnpm', ['pack', '--pack-destination', tarballs], {
        cwd: dir,
        maxBuffer: 16 << 20,
      });
      const tarball = stdout
        .trim()
        .split('\n')
        .filter((l) => l.endsWith('.tgz'))
        .pop();
      if (!tarball) throw new Error(`pnpm pack printed no tarball for ${dir}: ${stdout}`);
      const { stdout: list } = await run('tar', ['tzf', tarball], { maxBuffer: 16 << 20 });
      const { stdout: manifest } = await run('tar', ['xzf', tarball, '-O', 'package/package.json']);
      const pkg = JSON.parse(manifest);
      packed.push({
        dir,
        name: pkg.name,
        tarball,
        files: list.trim().split('\n'),
        exports: exportedSpecifiers(pkg.name, pkg.exports),
        manifest: pkg,
      });
    }
  }, 300_000);

  afterAll(async () => {
    await run(
      process.execPath,
      [path.join(project, 'node_modules/@ockam/command/bin/ockam.js'), 'node', 'delete', '--all'],
      {
        env: { ...process.env, OCKAM_HOME: home },
      },
    ).catch(() => undefined);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('rewrite workspace:* and catalog: dependencies to versions', () => {
    const leftovers: string[] = [];
    for (const p of packed) {
      for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies'] as const) {
        for (const [dep, spec] of Object.entries((p.manifest[field] ?? {}) as Record<string, string>)) {
          if (/^(workspace|catalog):/.test(spec)) leftovers.push(`${p.name} ${field}.${dep}: ${spec}`);
        }
      }
    }
    console.log(
      `RELEASE packed ${packed.length} packages: ${packed.map((p) => `${p.name} (${p.files.length} files)`).join(', ')}`,
    );
    expect(packed.length).toBeGreaterThanOrEqual(13);
    expect(leftovers).toEqual([]);
  });

  it('pass publint with no errors', async () => {
    const errors: string[] = [];
    for (const p of packed) {
      const data = readFileSync(p.tarball);
      const tarball = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
      const { messages, pkg } = await publint({ pack: { tarball }, level: 'suggestion', strict: false });
      const lines = messages.map((m) => `${m.type}: ${formatMessage(m, pkg, { color: false }) ?? m.code}`);
      console.log(
        `RELEASE publint ${p.name}: ${lines.length === 0 ? 'all good' : `\n  ${lines.join('\n  ')}`}`,
      );
      for (const m of messages)
        if (m.type === 'error')
          errors.push(`${p.name}: ${formatMessage(m, pkg, { color: false }) ?? m.code}`);
      // Files that a published package should not carry.
      const stray = p.files.filter((f) => /\.tsbuildinfo$|(^|\/)test\/|\.test\.[cm]?js$/.test(f));
      if (stray.length)
        console.log(
          `RELEASE ${p.name} ships ${stray.length} build or test files: ${stray.slice(0, 5).join(', ')}`,
        );
    }
    expect(errors).toEqual([]);
  });

  it('install from the tarballs alone with npm, import by name, and run the ockam command', async () => {
    await run('mkdir', ['-p', project, home]);
    writeFileSync(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'release-check', private: true, type: 'module' }, null, 2),
    );
    const started = performance.now();
    const install = await run(
      'npm',
      ['install', '--no-audit', '--no-fund', '--loglevel=error', ...packed.map((p) => p.tarball)],
      { cwd: project, maxBuffer: 64 << 20, timeout: 600_000 },
    );
    const installMs = performance.now() - started;
    // Every @ockam package must come from a tarball, never from the registry.
    const lock = JSON.parse(readFileSync(path.join(project, 'package-lock.json'), 'utf8'));
    const fromRegistry = Object.entries(lock.packages as Record<string, { resolved?: string }>)
      .filter(([k, v]) => k.includes('node_modules/@ockam/') && !(v.resolved ?? '').startsWith('file:'))
      .map(([k, v]) => `${k} ← ${v.resolved}`);
    expect(fromRegistry, install.stderr).toEqual([]);

    const imported: string[] = [];
    for (const p of packed) {
      // An entry point may need an optional peer a user installs for it (`@ockam/core/testing`
      // runs its conformance suite under vitest): without it, only that peer may be missing.
      const optionalPeers = Object.entries(
        (p.manifest.peerDependenciesMeta ?? {}) as Record<string, { optional?: boolean }>,
      )
        .filter(([, meta]) => meta.optional === true)
        .map(([name]) => name);
      for (const specifier of p.exports) {
        const outcome = await run(
          process.execPath,
          [
            '--input-type=module',
            '-e',
            `const m = await import(${JSON.stringify(specifier)}); console.log(Object.keys(m).length)`,
          ],
          { cwd: project },
        ).catch((e: { stderr?: string }) => {
          const missing = /Cannot find package '([^']+)'/.exec(e.stderr ?? '')?.[1];
          if (missing === undefined || !optionalPeers.includes(missing)) throw e;
          return { stdout: `needs the optional peer ${missing}, so 0` };
        });
        imported.push(`${specifier} (${outcome.stdout.trim()} exports)`);
      }
    }
    console.log(
      `RELEASE npm install of ${packed.length} tarballs took ${(installMs / 1000).toFixed(0)} s; imported ${imported.join(', ')}`,
    );

    const env = { ...process.env, OCKAM_HOME: home };
    const version = await run('npx', ['--no-install', 'ockam', '--version'], { cwd: project, env });
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    await run('npx', ['--no-install', 'ockam', 'node', 'create', 'n1'], { cwd: project, env });
    const reply = await run(
      'npx',
      ['--no-install', 'ockam', 'message', 'send', 'hi', '--to', '/node/n1/service/uppercase'],
      { cwd: project, env },
    );
    expect(reply.stdout.trim()).toBe('HI');
    console.log(
      `RELEASE ockam from its tarball: --version ${version.stdout.trim()}; 'message send hi' → ${reply.stdout.trim()}`,
    );
  });
});

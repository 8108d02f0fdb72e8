import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ockam, tempHome } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '../../..');

/** The command's reference, completion scripts and environment list, generated from its definitions. */
describe('the command reference', () => {
  let t: ReturnType<typeof tempHome>;
  let out: string;
  const ok = async (args: string[]) => {
    const r = await ockam(t.home, args);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };
  beforeAll(() => {
    t = tempHome();
    out = mkdtempSync(join(tmpdir(), 'ock-ref-'));
  });
  afterAll(async () => {
    rmSync(out, { recursive: true, force: true });
    await t.cleanup();
  });

  it('README.md shows exactly the table `ockam markdown --table` prints (pnpm --filter @ockam/command readme rewrites it)', async () => {
    const table = (await ok(['markdown', '--table'])).trimEnd();
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const block =
      /<!-- ockam markdown --table: begin[^>]*-->\n([\s\S]*?)\n<!-- ockam markdown --table: end -->/.exec(
        readme,
      );
    expect(block, 'README.md has the generated command table block').not.toBeNull();
    expect(block![1], 'README.md command table is stale: run pnpm --filter @ockam/command readme').toBe(
      table,
    );
    // Every command that does something is a row, groups are not.
    expect(table).toContain('| `ockam vault move <name>` |');
    expect(table).toContain('| `ockam identity show [name]` |');
    expect(table).not.toMatch(/^\| `ockam vault` \|/m);
  });

  it('ockam markdown writes a page per command with usage, options and examples, and index.md with the table', async () => {
    const dir = join(out, 'md');
    await ok(['markdown', '--dir', dir]);
    const files = readdirSync(dir);
    expect(files).toEqual(expect.arrayContaining(['index.md', 'ockam.md', 'vault.md', 'vault-move.md']));
    const move = readFileSync(join(dir, 'vault-move.md'), 'utf8');
    expect(move).toMatch(/^# ockam vault move\n/);
    expect(move).toContain('ockam vault move [options] <name>');
    expect(move).toContain('| `--path <file>` |');
    // The options every command takes are on each page, not --version.
    expect(move).toContain('| `--output <format>` |');
    expect(move).not.toContain('--version');
    expect(move).toContain('$ ockam vault move v2 --path');
    expect(readFileSync(join(dir, 'vault.md'), 'utf8')).toContain('[`ockam vault move`](vault-move.md)');
    expect(readFileSync(join(dir, 'index.md'), 'utf8')).toContain(
      (await ok(['markdown', '--table'])).trimEnd(),
    );
  });

  it('ockam manpages writes a gzip-compressed roff page per command, or plain ones with --no-compression', async () => {
    await ok(['manpages', '--dir', join(out, 'man')]);
    const page = gunzipSync(readFileSync(join(out, 'man', 'ockam-identity-show.1.gz'))).toString('utf8');
    expect(page).toMatch(/^\.TH "OCKAM-IDENTITY-SHOW" "1"/);
    expect(page).toContain('.SH OPTIONS');
    expect(page).toContain('\\-\\-full');
    await ok(['manpages', '--dir', join(out, 'plain'), '--no-compression']);
    expect(readFileSync(join(out, 'plain', 'ockam.1'), 'utf8')).toContain('.SH COMMANDS');
  });

  it('ockam completion --shell prints scripts that the shells parse, naming every command', async () => {
    const bash = await ok(['completion', '--shell', 'bash']);
    expect(bash).toContain('complete -F _ockam ockam');
    expect(bash).toContain('"vault move"');
    execFileSync('bash', ['-n'], { input: bash });
    // The positional form stays.
    expect(await ok(['completion', 'bash'])).toBe(bash);
    expect(await ok(['completion', '--shell', 'zsh'])).toMatch(/^#compdef ockam/);
    const fish = await ok(['completion', '-s', 'fish']);
    expect(fish).toContain("-a 'markdown'");
    const bad = await ockam(t.home, ['completion', '--shell', 'tcsh']);
    expect(bad.code).toBe(2);
    expect((await ockam(t.home, ['completion'])).code).toBe(1);
  });

  it('ockam environment lists every OCKAM_ variable that the command, the daemon and the node read', async () => {
    const json = JSON.parse(await ok(['--output', 'json', 'environment']));
    const listed = new Set(Object.keys(json));
    expect(await ok(['environment'])).toMatch(/- OCKAM_HOME: /);
    const sources = [
      'apps/cli/src',
      'apps/daemon/src',
      'packages/node/src',
      'packages/state/src',
      'packages/vault/src',
      'packages/transport-udp/src',
    ];
    const read = new Set<string>();
    for (const dir of sources)
      for (const f of readdirSync(join(ROOT, dir), { recursive: true }) as string[]) {
        if (!f.endsWith('.ts')) continue;
        // A variable is read as `env.OCKAM_X` or named in a string ('OCKAM_X', "$OCKAM_X" in help);
        // constants such as the attribute name OCKAM_RELAY are neither.
        for (const m of readFileSync(join(ROOT, dir, f), 'utf8').matchAll(
          /(?:env\.|['"`$])(OCKAM_[A-Z0-9_]*[A-Z0-9])\b/g,
        ))
          read.add(m[1]!);
      }
    expect(read.size).toBeGreaterThan(20);
    expect([...read].filter((v) => !listed.has(v)).sort()).toEqual([]);
  });
});

import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensurePrivateDir, OckamHome } from '../src/home.js';

const made: string[] = [];
afterEach(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'ockam-home-test-'));
  made.push(d);
  return d;
}

const modeOf = (path: string): number => statSync(path).mode & 0o7777;

describe('OCKAM_HOME directories', () => {
  it('creates a missing home and every missing parent 0700, whatever the umask', () => {
    const base = scratch();
    const old = process.umask(0o000);
    try {
      const home = new OckamHome(join(base, 'a', 'b'));
      home.ensure();
      home.ensureNodeDir('n1');
      for (const d of ['a', 'a/b', 'a/b/nodes', 'a/b/nodes/n1']) expect(modeOf(join(base, d)), d).toBe(0o700);
      expect(home.warnings()).toEqual([]);
    } finally {
      process.umask(old);
    }
    // The directory that was there before is not ours to change.
    expect(modeOf(base)).toBe(0o700);
  });

  it('leaves an existing 1777 home as it is, sticky bit included, and does not warn about it', () => {
    const home = join(scratch(), 'shared');
    mkdirSync(home);
    chmodSync(home, 0o1777);
    const h = new OckamHome(home);
    h.ensure();
    h.ensureNodeDir('n1');
    expect(modeOf(home)).toBe(0o1777);
    expect(modeOf(join(home, 'nodes', 'n1'))).toBe(0o700);
    expect(h.warnings()).toEqual([]);
  });

  it('leaves an existing world-writable home without the sticky bit as it is, and warns once', () => {
    const home = join(scratch(), 'open');
    mkdirSync(home);
    chmodSync(home, 0o777);
    const h = new OckamHome(home);
    h.ensure();
    h.ensure();
    expect(modeOf(home)).toBe(0o777);
    expect(h.warnings()).toHaveLength(1);
    expect(h.warnings()[0]).toMatch(
      /is writable by its group and all users \(mode 777\) without the sticky bit: other users can replace Ockam's files in it/,
    );
  });

  it('leaves an existing 0755 directory readable, as the user made it', () => {
    const dir = join(scratch(), 'vaults');
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    ensurePrivateDir(dir);
    expect(modeOf(dir)).toBe(0o755);
  });
});

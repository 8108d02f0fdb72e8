import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { main, runNoiseVectorFiles } from '../src/noise-vectors-cli.js';

const vectors = path.resolve(import.meta.dirname, '../../../../shared/vectors');
const files = [
  path.join(vectors, 'noise/cacophony-25519-sha256.json'),
  path.join(vectors, 'ockam/handshake.json'),
];
const bin = path.resolve(import.meta.dirname, '../bin/noise-vectors.js');

// 118 cacophony vectors (every pattern incl. deferred and psk, both ciphers) + Ockam's 2 XX vectors.
const EXPECTED_PASSED = 120;

describe('noise-vectors', () => {
  for (const backend of ['node', 'noble'] as const) {
    it(`passes every cacophony and Ockam handshake vector on the ${backend} vault`, async () => {
      const summary = await runNoiseVectorFiles(files, { backend });
      expect(summary.failures).toEqual([]);
      expect(summary).toMatchObject({ passed: EXPECTED_PASSED, failed: 0, skipped: 0 });
    });
  }

  it('prints the summary as its last line and exits 0 when run as a program', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [bin, ...files]);
    const lines = stdout.trim().split('\n');
    expect(lines.at(-1)).toBe(`${EXPECTED_PASSED} passed, 0 failed, 0 skipped`);
  });

  it('exits non-zero and names the vector when one fails', async () => {
    const { mkdtemp, readFile, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const json = JSON.parse(await readFile(path.join(vectors, 'ockam/handshake.json'), 'utf8'));
    json.vectors[0].messages[2].ciphertext = json.vectors[0].messages[2].ciphertext.replace(
      /.$/,
      (c: string) => (c === '0' ? '1' : '0'),
    );
    json.vectors.push({ ...json.vectors[1], protocol_name: 'Noise_XX_448_AESGCM_SHA256' });
    const dir = await mkdtemp(path.join(tmpdir(), 'noise-vectors-'));
    const bad = path.join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify(json));
    const lines: string[] = [];
    const code = await main(
      [bad],
      (l) => lines.push(l),
      (l) => lines.push(l),
    );
    expect(code).toBe(1);
    expect(lines.at(-1)).toBe('1 passed, 1 failed, 1 skipped');
    expect(lines[0]).toMatch(/^FAIL .*bad\.json#0 Noise_XX_25519_AESGCM_SHA256: message 2/);
    const child: { code?: number; stdout: string } = await promisify(execFile)(process.execPath, [
      bin,
      bad,
    ]).catch((e: { code: number; stdout: string }) => e);
    expect(child.code).toBe(1);
    expect(child.stdout.trim().split('\n').at(-1)).toBe('1 passed, 1 failed, 1 skipped');
  });

  it('exits 2 with usage when given no files', async () => {
    const lines: string[] = [];
    expect(
      await main(
        [],
        () => {},
        (l) => lines.push(l),
      ),
    ).toBe(2);
    expect(lines[0]).toMatch(/^usage: noise-vectors/);
  });
});

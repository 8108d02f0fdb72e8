import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const dist = fileURLToPath(new URL('../dist/', import.meta.url));

/** Runs one compiled example as its own process (what `node dist/NAME.js` does) and returns its output. */
async function example(name: string, nodeArgs: string[] = []): Promise<string> {
  const { stdout } = await run(process.execPath, [...nodeArgs, `${dist}${name}.js`], { timeout: 90_000 });
  return stdout;
}

/** What each example must print: every program under src/ is listed here. */
const EXPECTED: Record<string, RegExp[]> = {
  hello: [/^App received: Hello Ockam!$/m],
  'secure-channel': [/^bob is I[0-9a-f]{64}$/m, /^alice received: Hello Ockam!$/m],
  relay: [/^through the relay, bob answered: Hello, alice!$/m],
  portal: [/^inlet listens on 127\.0\.0\.1:\d+$/m, /^server got: hello through the portal$/m],
  credentials: [
    /^green was answered: Hello Ockam!$/m,
    /^blue was refused: No reply within 2000 ms .*echo.*its policy allows this identity/m,
  ],
};

describe('examples', () => {
  it('every program in src/ has expectations here', () => {
    const programs = readdirSync(fileURLToPath(new URL('../src/', import.meta.url)))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => f.slice(0, -3))
      .sort();
    expect(programs).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [name, patterns] of Object.entries(EXPECTED)) {
    it(`${name} runs on its own, prints what it shows and exits 0`, async () => {
      const out = await example(name);
      for (const p of patterns) expect(out).toMatch(p);
    });
  }

  it('the first program runs where better-sqlite3 cannot be loaded (a node without state is in memory)', async () => {
    const withoutSqlite = fileURLToPath(new URL('fixtures/without-sqlite.mjs', import.meta.url));
    const out = await example('secure-channel', ['--import', withoutSqlite]);
    expect(out).toMatch(/^alice received: Hello Ockam!$/m);
  });
});

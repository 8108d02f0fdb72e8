// Sums vitest's per-package "Tests  N passed | M failed | K skipped (T)" lines of a `pnpm test`
// log and prints one closing line: "N passed, M failed, K skipped".
import { readFileSync } from 'node:fs';

// biome-ignore lint/suspicious/noControlCharactersInRegex: strips the terminal colour codes vitest prints
const text = readFileSync(process.argv[2] ?? 0, 'utf8').replace(/\x1b\[[0-9;]*m/g, '');
let passed = 0;
let failed = 0;
let skipped = 0;
let packages = 0;
for (const line of text.split('\n')) {
  const m = /\bTests\s+(.*)\(\d+\)\s*$/.exec(line);
  if (!m) continue;
  packages++;
  for (const [, n, what] of m[1].matchAll(/(\d+) (passed|failed|skipped|todo)/g)) {
    if (what === 'passed') passed += Number(n);
    else if (what === 'failed') failed += Number(n);
    else skipped += Number(n);
  }
}
console.log(`test summary over ${packages} packages:`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);

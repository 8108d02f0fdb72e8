// Sums vitest's per-package "Tests  N passed | M failed | K skipped (T)" lines of `pnpm test`
// logs and prints one closing line: "N passed, M failed, K skipped". Each argument is a log file,
// or LABEL=FILE; with more than one, a line per log (under its label) comes before the total.
import { readFileSync } from 'node:fs';

function sum(file) {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips the terminal colour codes vitest prints
  const text = readFileSync(file, 'utf8').replace(/\x1b\[[0-9;]*m/g, '');
  const totals = { passed: 0, failed: 0, skipped: 0, packages: 0 };
  for (const line of text.split('\n')) {
    const m = /\bTests\s+(.*)\(\d+\)\s*$/.exec(line);
    if (!m) continue;
    totals.packages++;
    for (const [, n, what] of m[1].matchAll(/(\d+) (passed|failed|skipped|todo)/g)) {
      if (what === 'passed') totals.passed += Number(n);
      else if (what === 'failed') totals.failed += Number(n);
      else totals.skipped += Number(n);
    }
  }
  return totals;
}

const logs = (process.argv.length > 2 ? process.argv.slice(2) : ['/dev/stdin']).map((arg) => {
  const at = arg.indexOf('=');
  return at > 0 ? { label: arg.slice(0, at), file: arg.slice(at + 1) } : { label: arg, file: arg };
});
const total = { passed: 0, failed: 0, skipped: 0, packages: 0 };
for (const { label, file } of logs) {
  const t = sum(file);
  for (const k of Object.keys(total)) total[k] += t[k];
  // Worded so that only the total below reads as a closing "N passed, N failed" line.
  if (logs.length > 1)
    console.log(
      `  ${label}, ${t.packages} packages: ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped`,
    );
}
console.log(`test summary over ${total.packages} package runs:`);
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);

#!/usr/bin/env node
// Rewrites the command table in the repository's README.md from `ockam markdown --table` (the
// command definitions), between its two markers. apps/cli/test/command-reference.test.ts fails
// while they differ. Run after `pnpm build`: pnpm --filter @ockam/command readme
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const BEGIN = '<!-- ockam markdown --table: begin (generated; pnpm --filter @ockam/command readme) -->';
const END = '<!-- ockam markdown --table: end -->';
const readme = fileURLToPath(new URL('../../../README.md', import.meta.url));
const ockam = fileURLToPath(new URL('../bin/ockam.js', import.meta.url));
const table = execFileSync(process.execPath, [ockam, 'markdown', '--table'], { encoding: 'utf8' }).trimEnd();
const text = readFileSync(readme, 'utf8');
const start = text.indexOf(BEGIN);
const end = text.indexOf(END);
if (start < 0 || end < start) throw new Error(`README.md has no ${BEGIN} … ${END} block`);
writeFileSync(readme, `${text.slice(0, start + BEGIN.length)}\n${table}\n${text.slice(end)}`);
console.log(`README.md: command table rewritten (${table.split('\n').length - 2} commands)`);

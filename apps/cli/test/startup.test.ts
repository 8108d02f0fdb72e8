/**
 * The lazy startup: `ockam --help` lists commands from the table the build writes, without loading
 * their modules, so the table must say exactly what the modules register; and a command line
 * loads only its own command's module.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram, commandWord, type TableEntry } from '../src/main.js';
import { ockam, tempHome } from './helpers.js';

const { home, cleanup } = tempHome();
afterAll(cleanup);

describe('the command table', () => {
  it('lists every top-level command the modules register, with its description, in order', async () => {
    const table = JSON.parse(
      readFileSync(new URL('../dist/command-table.json', import.meta.url), 'utf8'),
    ) as TableEntry[];
    const program = await buildProgram(() => {});
    expect(table.map((e) => [e.name, e.aliases, e.description])).toEqual(
      program.commands.map((c) => [c.name(), c.aliases(), c.description()]),
    );
  });

  it('ockam --help lists them all', async () => {
    const table = JSON.parse(
      readFileSync(new URL('../dist/command-table.json', import.meta.url), 'utf8'),
    ) as TableEntry[];
    const help = (await ockam(home, ['--help'])).stdout;
    for (const e of table)
      if (e.hidden) expect(help).not.toMatch(new RegExp(`^  ${e.name}\\b`, 'm'));
      else expect(help).toMatch(new RegExp(`^  ${e.name}\\b`, 'm'));
    // The deprecated kafka-consumer / kafka-producer are hidden, and still run.
    expect(table.filter((e) => e.hidden).map((e) => e.name)).toEqual(['kafka-consumer', 'kafka-producer']);
  });
});

describe('the command word', () => {
  it('skips options, the values of --output and --jq, and help', () => {
    expect(commandWord(['--output', 'json', '--jq', '.x', 'node', 'list'])).toBe('node');
    expect(commandWord(['-vv', 'help', 'vault'])).toBe('vault');
    expect(commandWord(['--help'])).toBeUndefined();
    expect(commandWord(['--', 'node'])).toBeUndefined();
  });

  it('an unknown command still gets a usage error', async () => {
    const r = await ockam(home, ['no-such-command']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'no-such-command'/);
  });
});

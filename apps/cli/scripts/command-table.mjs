// Writes dist/command-table.json: every top-level command, its aliases and description, and the
// module that registers it, read from the modules themselves (so the table cannot drift from what
// the command accepts). `ockam --help` lists commands from it without loading their modules.
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';

const { COMMAND_MODULES } = await import(new URL('../dist/main.js', import.meta.url).href);
const table = [];
for (const [module, load] of Object.entries(COMMAND_MODULES)) {
  const program = new Command('ockam');
  (await load())(program, async () => {});
  for (const c of program.commands)
    table.push({
      name: c.name(),
      aliases: c.aliases(),
      description: c.description(),
      module,
      // commander keeps `{ hidden: true }` in `_hidden`, with no getter.
      ...(c._hidden ? { hidden: true } : {}),
    });
}
writeFileSync(new URL('../dist/command-table.json', import.meta.url), `${JSON.stringify(table, null, 2)}\n`);
console.log(
  `command-table.json: ${table.length} commands from ${Object.keys(COMMAND_MODULES).length} modules`,
);

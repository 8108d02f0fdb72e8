import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { OckamError } from '@ockam/core';
import { isNodeProcess, stopNodeProcess } from '@ockam/daemon';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

/**
 * What `reset` removes from `$OCKAM_HOME`: every node (stopped first), the state database with its
 * identities, vaults and resources, the vaults' key files, the nodes' logs and control sockets.
 * Anything else in the directory stays, as in Ockam (which keeps `bin/`, `env` and its
 * application database): we only delete what we wrote.
 */
const STATE_ENTRIES = [
  'nodes',
  'run',
  'vaults',
  'database.sqlite3',
  'database.sqlite3-wal',
  'database.sqlite3-shm',
];

export function registerResetCommand(program: Command, run: Run): void {
  program
    .command('reset')
    .description('Stop and delete every node, identity and vault of this Ockam home (other files in it stay)')
    .option('-y, --yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .addHelpText('after', '\nExamples:\n  $ ockam reset --yes')
    .action((opts: { yes?: boolean }) =>
      run(async (ctx) => {
        if (!opts.yes) {
          if (!process.stdin.isTTY) throw new OckamError('node', 'invalid', 'Use --yes to confirm the reset');
          const rl = createInterface({ input: process.stdin, output: process.stderr });
          const answer = await rl.question(
            `This deletes every node, identity and vault in ${ctx.home.root}. Continue? [y/N] `,
          );
          rl.close();
          if (!/^y(es)?$/i.test(answer.trim())) {
            ctx.out.result('Nothing was deleted', { reset: false });
            return;
          }
        }
        for (const n of ctx.state.listNodes())
          if (n.pid && isNodeProcess(n.pid, n.name)) await stopNodeProcess(n.pid);
        ctx.close();
        for (const entry of STATE_ENTRIES)
          rmSync(join(ctx.home.root, entry), { recursive: true, force: true });
        ctx.out.result('Local Ockam configuration deleted', { reset: true, home: ctx.home.root });
      }),
    );
}

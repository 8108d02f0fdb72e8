import type { Command } from 'commander';
import type { CliContext } from '../context.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

/** `ockam worker list`: every worker address a node runs (services, connections, channels, …). */
export function registerWorkerCommands(program: Command, run: Run): void {
  const worker = program.command('worker').description('Workers of a node');
  worker
    .command('list')
    .description('List the workers a node runs')
    .option('--at <node>', 'node (default node if omitted)')
    .addHelpText('after', '\nExamples:\n  $ ockam worker list --at n1')
    .action((opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const { workers } = await ctx.client(node.name).call('workers', {});
        const json = workers.map((addr) => ({ addr }));
        ctx.out.result(() => workers.map((w) => `Worker ${w}`).join('\n'), json);
      }),
    );
}

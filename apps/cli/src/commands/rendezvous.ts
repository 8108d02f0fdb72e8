import { parseHostPort } from '@ockam/core';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { createNode } from './node.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

export function registerRendezvousCommands(program: Command, run: Run): void {
  const rendezvous = program
    .command('rendezvous')
    .description(
      'Rendezvous: tells UDP nodes their public address, so two of them can punch through their NATs',
    );
  rendezvous
    .command('create')
    .description('Start a node running a rendezvous service on a UDP address')
    .argument('[name]', 'node name', 'rendezvous')
    .option('--udp-address <host:port>', 'UDP address to serve on', '0.0.0.0:4000')
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam rendezvous create --udp-address 0.0.0.0:4000\n  $ ockam node create a --udp --rendezvous 203.0.113.7:4000',
    )
    .action((name: string, opts: { udpAddress: string }) =>
      run(async (ctx) => {
        parseHostPort(opts.udpAddress);
        await ctx.out.muted(() =>
          createNode(ctx, name, {
            tcpListenerAddress: '127.0.0.1:0',
            rendezvousService: opts.udpAddress,
          }),
        );
        const s = await ctx.client(name).call('status', {});
        ctx.out.result(`Rendezvous service running on node ${name} at UDP ${s.udp?.rendezvousService}`, {
          node: name,
          udpAddress: s.udp?.rendezvousService,
        });
      }),
    );
}

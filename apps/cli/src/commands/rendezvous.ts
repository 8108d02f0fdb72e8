import { OckamError, parseHostPort } from '@ockam/core';
import { rendezvousGetMyAddress, startRendezvousServer } from '@ockam/node';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { parseDuration } from '../output.js';
import { createNode } from './node.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

/** Resolves on SIGINT or SIGTERM (how a foreground server is stopped). */
function exitSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(s);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

export function registerRendezvousCommands(program: Command, run: Run): void {
  const rendezvous = program
    .command('rendezvous')
    .description(
      'Rendezvous: tells UDP nodes their public address, so two of them can punch through their NATs',
    );
  rendezvous
    .command('create')
    .description(
      'Run a rendezvous server in the foreground until Ctrl+C (or, given a NAME, as a background node)',
    )
    .argument('[name]', 'run it as a background node of this name instead (ockam node list/stop/delete)')
    .option('--udp <host:port>', 'UDP address to serve on', '0.0.0.0:4000')
    .option('--udp-address <host:port>', 'same as --udp')
    .option(
      '--healthcheck <host:port>',
      'TCP address that answers an HTTP request with "Alive" once the UDP service answers a ping',
      '0.0.0.0:4001',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam rendezvous create --udp 0.0.0.0:4000 --healthcheck 0.0.0.0:4001\n  $ ockam rendezvous create rv --udp 0.0.0.0:4000        # a background node\n  $ ockam node create a --udp --rendezvous 203.0.113.7:4000',
    )
    .action((name: string | undefined, opts: { udp: string; udpAddress?: string; healthcheck: string }) =>
      run(async (ctx) => {
        const udp = opts.udpAddress ?? opts.udp;
        parseHostPort(udp);
        if (name === undefined) {
          const server = await startRendezvousServer({ udp, healthcheck: opts.healthcheck });
          ctx.out.info(
            `Rendezvous server listening on UDP ${server.udpAddress}, healthcheck on TCP ${server.healthcheckAddress}; press Ctrl+C to stop it`,
          );
          await exitSignal();
          await server.stop();
          ctx.out.info('Rendezvous server stopped');
          return;
        }
        await ctx.out.muted(() =>
          createNode(ctx, name, {
            tcpListenerAddress: '127.0.0.1:0',
            rendezvousService: udp,
          }),
        );
        const s = await ctx.client(name).call('status', {});
        ctx.out.result(`Rendezvous service running on node ${name} at UDP ${s.udp?.rendezvousService}`, {
          node: name,
          udpAddress: s.udp?.rendezvousService,
        });
      }),
    );
  rendezvous
    .command('get-my-address')
    .description('Ask a rendezvous server which public UDP address it sees for this machine')
    .argument('[address]', 'UDP HOST:PORT of the rendezvous server (default $OCKAM_RENDEZVOUS_SERVER)')
    .option('--timeout <duration>', 'how long to wait for the answer', '3s')
    .addHelpText('after', '\nExamples:\n  $ ockam rendezvous get-my-address 203.0.113.7:4000')
    .action((address: string | undefined, opts: { timeout: string }) =>
      run(async (ctx) => {
        const server = address ?? process.env.OCKAM_RENDEZVOUS_SERVER;
        if (!server)
          throw new OckamError(
            'application',
            'invalid',
            'Give the rendezvous server (HOST:PORT) or set OCKAM_RENDEZVOUS_SERVER',
          );
        parseHostPort(server);
        const mine = await rendezvousGetMyAddress(server, { timeoutMs: parseDuration(opts.timeout) });
        ctx.out.result(`Your public UDP address is ${mine}`, { address: mine }, mine);
      }),
    );
}

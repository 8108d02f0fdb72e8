import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { table } from '../output.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

/**
 * `ockam service start hop|list`, as in Ockam. The hop service forwards a message to the next
 * address of its route; a node never runs it unless asked here (or by `node create --enable-hop`),
 * and it reaches only what its sender could reach itself. Starting one goes through the node's
 * control socket, which only the node's owner can open.
 */
export function registerServiceCommands(program: Command, run: Run): void {
  const service = program.command('service').description('Start and list the services of a node');
  const start = service.command('start').description('Start a service on a node');
  start
    .command('hop')
    .description(
      'Start a hop service, which forwards each message to the next address of its route (off by default; it reaches only what its sender could reach)',
    )
    .option('--addr <address>', 'worker address of the service', 'hop')
    .option('--at <node>', 'node (default node if omitted)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam service start hop --at n1\n  $ ockam service start hop --addr h1 --at n1\n' +
        '  $ ockam message send hi --to /node/n1/service/h1/service/echo',
    )
    .action((opts: { addr: string; at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const s = await ctx.client(node.name).call('startService', { kind: 'hop', address: opts.addr });
        ctx.out.result(`Started a hop service at /service/${s.address} on node ${node.name}`, {
          ...s,
          node: node.name,
        });
      }),
    );

  service
    .command('list')
    .description("List a node's services")
    .option('--at <node>', 'node (default node if omitted)')
    .addHelpText('after', '\nExamples:\n  $ ockam service list --at n1')
    .action((opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const { services } = await ctx.client(node.name).call('listServices', {});
        const json = services.map((s) => ({ addr: s.address, type: s.type }));
        ctx.out.result(
          () =>
            services.length === 0
              ? `No services on node ${node.name}`
              : table(
                  ['ADDRESS', 'TYPE'],
                  services.map((s) => [`/service/${s.address}`, s.type]),
                ),
          json,
          JSON.stringify(json, null, 2),
        );
      }),
    );
}

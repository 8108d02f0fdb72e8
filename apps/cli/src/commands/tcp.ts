import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { table } from '../output.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

/**
 * `ockam tcp-connection create|list|delete`, as in Ockam: a node's own outgoing TCP connection,
 * named by its sender's worker address, which routes then use as `/worker/ADDRESS`.
 */
export function registerTcpCommands(program: Command, run: Run): void {
  const conn = program
    .command('tcp-connection')
    .description("TCP connections a node opens to another node's listener");
  conn
    .command('create')
    .description(
      'Open a TCP connection from a node; routes reach the other end through /worker/ADDRESS. As in Ockam, ' +
        "peers of this node's listeners may route through it too (with the node's hop service)",
    )
    .requiredOption('--to <host:port>', 'the listener to connect to')
    .option('--from <node>', 'node that connects (default node if omitted)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam tcp-connection create --from n1 --to 127.0.0.1:4000\n' +
        '  $ ockam message send hi --from n1 --to /worker/<address>/service/uppercase',
    )
    .action((opts: { to: string; from?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.from?.replace(/^\/node\//, ''));
        const c = await ctx.client(node.name).call('createTcpConnection', { to: opts.to, expose: true });
        ctx.out.result(`/worker/${c.senderAddress}`, { ...c, node: node.name });
      }),
    );
  conn
    .command('list')
    .description("List a node's open outgoing TCP connections")
    .option('--at <node>', 'node (default node if omitted)')
    .action((opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at?.replace(/^\/node\//, ''));
        const { connections } = await ctx.client(node.name).call('listTcpConnections', {});
        ctx.out.result(
          () =>
            table(
              ['WORKER', 'PEER'],
              connections.map((c) => [`/worker/${c.senderAddress}`, c.peer]),
            ),
          connections,
        );
      }),
    );
  conn
    .command('delete <address>')
    .description('Close a TCP connection, by its worker address')
    .option('--at <node>', 'node (default node if omitted)')
    .action((address: string, opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at?.replace(/^\/node\//, ''));
        const a = address.replace(/^\/worker\//, '');
        await ctx.client(node.name).call('deleteTcpConnection', { address: a });
        ctx.out.result(`Closed TCP connection /worker/${a} on node ${node.name}`, {
          deleted: a,
          node: node.name,
        });
      }),
    );
}

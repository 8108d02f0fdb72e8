import { OckamError } from '@ockam/core';
import type { TcpConnectionInfo } from '@ockam/node/control';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { table } from '../output.js';
import { listenerRoute } from './node.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

/**
 * `ockam tcp-connection create|list|show|delete` and `ockam tcp-listener`, as in Ockam: a node's own outgoing TCP connection,
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
        const node = await ctx.runningNode(opts.from);
        const c = await ctx.client(node.name).call('createTcpConnection', { to: opts.to, expose: true });
        // Piped, only the route piece (as Ockam's machine output), for `… | ockam message send`.
        ctx.out.result(
          `A TCP connection was created at node ${node.name} to ${c.peer}: /worker/${c.workerAddress}`,
          { from: node.name, to: c.peer, address: `/worker/${c.workerAddress}`, ...c },
          `/worker/${c.workerAddress}`,
        );
      }),
    );
  conn
    .command('list')
    .description("List a node's open outgoing TCP connections")
    .option('--at <node>', 'node (default node if omitted)')
    .action((opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const { connections } = await ctx.client(node.name).call('listTcpConnections', {});
        ctx.out.result(
          () =>
            connections.length === 0
              ? `No TCP connections on node ${node.name}`
              : table(
                  ['WORKER', 'PEER'],
                  connections.map((c) => [`/worker/${c.workerAddress}`, c.peer]),
                ),
          connections,
        );
      }),
    );
  conn
    .command('show <address>')
    .description('Show a TCP connection, by its peer HOST:PORT or its worker address')
    .option('--at <node>', 'node (default node if omitted)')
    .action((address: string, opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const c = await findConnection(ctx, node.name, address);
        ctx.out.result(`TCP connection /worker/${c.workerAddress} from node ${node.name} to ${c.peer}`, {
          ...c,
          node: node.name,
        });
      }),
    );
  conn
    .command('delete <address>')
    .description('Close a TCP connection, by its peer HOST:PORT or its worker address')
    .option('--at <node>', 'node (default node if omitted)')
    .option('-y, --yes', 'do not ask for confirmation')
    .action((address: string, opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const c = await findConnection(ctx, node.name, address);
        await ctx.client(node.name).call('deleteTcpConnection', { address: c.senderAddress });
        ctx.out.result(`Closed TCP connection /worker/${c.workerAddress} on node ${node.name}`, {
          deleted: c.senderAddress,
          node: node.name,
        });
      }),
    );

  const listener = program
    .command('tcp-listener')
    .description('TCP listeners of a node, besides the one it was created with');
  listener
    .command('create <address>')
    .description("Start one more TCP listener on a node; its peers reach the node's services")
    .option('--at <node>', 'node (default node if omitted)')
    .addHelpText('after', '\nExamples:\n  $ ockam tcp-listener create 127.0.0.1:5000 --at n1')
    .action((address: string, opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const l = await ctx.client(node.name).call('createTcpListener', { address });
        const route = listenerRoute(l.address);
        ctx.out.result(`TCP listener ${l.address} on node ${node.name}: ${route}`, { ...l, route }, route);
      }),
    );
  listener
    .command('list')
    .description("List a node's TCP listeners")
    .option('--at <node>', 'node (default node if omitted)')
    .action((opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const { listeners } = await ctx.client(node.name).call('listTcpListeners', {});
        ctx.out.result(
          () =>
            table(
              ['ADDRESS', 'ROUTE', 'PROCESSOR'],
              listeners.map((l) => [l.address, listenerRoute(l.address), l.processorAddress]),
            ),
          listeners,
        );
      }),
    );
  listener
    .command('show <address>')
    .description('Show a TCP listener, by its HOST:PORT or its processor address')
    .option('--at <node>', 'node (default node if omitted)')
    .action((address: string, opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const { listeners } = await ctx.client(node.name).call('listTcpListeners', {});
        const l = listeners.find((x) => x.address === address || x.processorAddress === address);
        if (!l)
          throw new OckamError('node', 'not-found', `No TCP listener at ${address} on node ${node.name}`);
        ctx.out.result(`TCP listener ${l.address} on node ${node.name}: ${listenerRoute(l.address)}`, l);
      }),
    );
  listener
    .command('delete <address>')
    .description('Close a TCP listener started with `tcp-listener create`; its connections stay open')
    .option('--at <node>', 'node (default node if omitted)')
    .option('-y, --yes', 'do not ask for confirmation')
    .action((address: string, opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const l = await ctx.client(node.name).call('deleteTcpListener', { address });
        ctx.out.result(`Closed TCP listener ${l.address} on node ${node.name}`, { deleted: l.address });
      }),
    );
}

/** A node's connection named by its peer HOST:PORT or its worker address (`/worker/…` or bare). */
async function findConnection(ctx: CliContext, node: string, address: string): Promise<TcpConnectionInfo> {
  const worker = address.replace(/^\/worker\//, '');
  const { connections } = await ctx.client(node).call('listTcpConnections', {});
  const c = connections.find(
    (x) => x.workerAddress === worker || x.senderAddress === worker || x.peer === address,
  );
  if (!c) throw new OckamError('node', 'not-found', `No TCP connection ${address} on node ${node}`);
  return c;
}

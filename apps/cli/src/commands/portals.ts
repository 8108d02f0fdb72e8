import { MultiAddr, OckamError, parseHostPort } from '@ockam/core';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { parseDuration, table } from '../output.js';
import { collectIdentifiers } from './secure-channel.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

const DEFAULT_PROJECT_ROUTE = '/project/default';

/** `postgres` → `/project/default/service/forward_to_postgres/secure/api/service/outlet` (as Ockam's docs use it). */
export function expandInletTo(
  to: string | undefined,
  via: string | undefined,
  at: string | undefined,
): string {
  const base = at ?? DEFAULT_PROJECT_ROUTE;
  if (to === undefined) return `${base}/service/forward_to_${via ?? 'default'}/secure/api/service/outlet`;
  if (to.startsWith('/')) {
    if (via) return `${base}/service/forward_to_${via}/secure/api${to}`;
    MultiAddr.parse(to);
    return to;
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(to))
    throw new OckamError('node', 'invalid', `Invalid --to '${to}': a route (/node/…) or a relay name`);
  return `${base}/service/forward_to_${to}/secure/api/service/outlet`;
}

function hostPort(text: string): string {
  const { host, port } = parseHostPort(text);
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function registerPortalCommands(program: Command, run: Run): void {
  const outlet = program
    .command('tcp-outlet')
    .description('TCP outlets: the end of a portal next to a TCP service');
  outlet
    .command('create')
    .description('Create a TCP outlet that forwards portal connections to a TCP service')
    .requiredOption('--to <[host:]port>', 'the TCP service, e.g. 5432 or 10.0.0.5:5432')
    .option('--from <address>', 'worker address of the outlet', 'outlet')
    .option('--at <node>', 'node (default node if omitted)')
    .option('--allow <expression>', 'policy deciding who may use the outlet (needs an authority)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam tcp-outlet create --to 5432\n  $ ockam tcp-outlet create --at n2 --from db --to 127.0.0.1:5432',
    )
    .action((opts: { to: string; from: string; at?: string; allow?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const o = await ctx.client(node.name).call('createOutlet', {
          address: opts.from.replace(/^\/service\//, ''),
          to: hostPort(opts.to),
          ...(opts.allow ? { allow: opts.allow } : {}),
        });
        ctx.out.result(
          `Created a TCP outlet at /service/${o.address} on node ${node.name}, forwarding to ${o.to}`,
          { ...o, node: node.name },
        );
      }),
    );
  outlet
    .command('list')
    .description('List TCP outlets')
    .option('--at <node>', 'node (default node if omitted)')
    .addHelpText('after', '\nExamples:\n  $ ockam tcp-outlet list --at n2')
    .action((opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const { outlets } = await ctx.client(node.name).call('listOutlets', {});
        ctx.out.result(
          () =>
            table(
              ['ADDRESS', 'TO', 'CONNECTIONS'],
              outlets.map((o) => [`/service/${o.address}`, o.to, String(o.connections)]),
            ),
          outlets,
        );
      }),
    );
  outlet
    .command('show')
    .description('Show a TCP outlet')
    .argument('<address>', 'outlet address')
    .option('--at <node>', 'node (default node if omitted)')
    .addHelpText('after', '\nExamples:\n  $ ockam tcp-outlet show outlet --at n2')
    .action((address: string, opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const o = await ctx
          .client(node.name)
          .call('getOutlet', { address: address.replace(/^\/service\//, '') });
        ctx.out.result(`Outlet /service/${o.address} → ${o.to} (${o.connections} connections)`, o);
      }),
    );
  outlet
    .command('delete')
    .description('Delete a TCP outlet (its open connections are closed)')
    .argument('<address>', 'outlet address')
    .option('--at <node>', 'node (default node if omitted)')
    .option('-y, --yes', 'do not ask for confirmation')
    .addHelpText('after', '\nExamples:\n  $ ockam tcp-outlet delete outlet --at n2')
    .action((address: string, opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const a = address.replace(/^\/service\//, '');
        await ctx.client(node.name).call('deleteOutlet', { address: a });
        ctx.out.result(`TCP outlet ${a} deleted`, { deleted: a });
      }),
    );

  const inlet = program
    .command('tcp-inlet')
    .description('TCP inlets: a local port whose connections reach an outlet through a route');
  inlet
    .command('create')
    .description(
      'Create a TCP inlet: connections to --from reach the outlet at --to, end to end encrypted when the route has /secure',
    )
    .option('--from <[host:]port>', 'where to listen (default: a free port on 127.0.0.1)', '127.0.0.1:0')
    .option(
      '--to <route-or-relay>',
      'route to the outlet, or a relay name (expands to <at>/service/forward_to_NAME/secure/api/service/outlet)',
    )
    .option('--via <relay>', 'relay name; --to is then the outlet route behind it (default /service/outlet)')
    .option('--at <node>', 'node (default node if omitted)')
    .option(
      '--relay-at <route>',
      'where relays are, for relay names in --to/--via (default /project/default)',
    )
    .option(
      '--authorized <identifier...>',
      'identifiers the outlet node must prove (last secure channel)',
      collectIdentifiers,
    )
    .option('--allow <expression>', 'policy deciding who may use the inlet (needs an authority)')
    .option('--alias <name>', 'name of the inlet (random if omitted)')
    .option('--connection-wait <duration>', 'how long a new connection waits for a route that is down', '5s')
    .option('--udp', "run the portal over a punched UDP path to the outlet's node (the node needs --udp)")
    .option('--no-tcp-fallback', 'with --udp: no relayed fallback while there is no puncture')
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam tcp-inlet create --from 7000 --to /node/n2/secure/api/service/outlet\n  $ ockam tcp-inlet create --from 15432 --to postgres --relay-at /node/relay\n  $ ockam tcp-inlet create --from 7000            # via the project\'s relay "default"',
    )
    .action(
      (opts: {
        from: string;
        to?: string;
        via?: string;
        at?: string;
        relayAt?: string;
        authorized?: string[];
        allow?: string;
        alias?: string;
        connectionWait: string;
        udp?: boolean;
        tcpFallback?: boolean;
      }) =>
        run(async (ctx) => {
          const node = await ctx.runningNode(opts.at);
          const to = expandInletTo(
            opts.via && opts.to === undefined ? '/service/outlet' : opts.to,
            opts.via,
            opts.relayAt,
          );
          const i = await ctx.client(node.name).call('createInlet', {
            name: opts.alias ?? `inlet-${Math.random().toString(16).slice(2, 8)}`,
            from: hostPort(opts.from),
            to,
            connectionWaitMs: parseDuration(opts.connectionWait),
            ...(opts.udp
              ? { udp: true, ...(opts.tcpFallback === false ? { noTcpFallback: true } : {}) }
              : {}),
            ...(opts.authorized ? { authorized: opts.authorized } : {}),
            ...(opts.allow ? { allow: opts.allow } : {}),
          });
          ctx.out.result(
            `Created TCP inlet ${i.name} on node ${node.name}: ${i.bound} → ${i.to} (route ${i.status})`,
            { ...i, node: node.name },
          );
        }),
    );
  inlet
    .command('list')
    .description('List TCP inlets')
    .option('--at <node>', 'node (default node if omitted)')
    .addHelpText('after', '\nExamples:\n  $ ockam tcp-inlet list')
    .action((opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const { inlets } = await ctx.client(node.name).call('listInlets', {});
        ctx.out.result(
          () =>
            table(
              ['NAME', 'FROM', 'TO', 'STATUS', 'CONNECTIONS'],
              inlets.map((i) => [i.name, i.bound, i.to, i.status, String(i.connections)]),
            ),
          inlets,
        );
      }),
    );
  inlet
    .command('show')
    .description('Show a TCP inlet')
    .argument('<name>', 'inlet name')
    .option('--at <node>', 'node (default node if omitted)')
    .addHelpText('after', '\nExamples:\n  $ ockam tcp-inlet show inlet-1a2b3c')
    .action((name: string, opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const i = await ctx.client(node.name).call('getInlet', { name });
        ctx.out.result(
          [
            `Inlet:       ${i.name}`,
            `Listening:   ${i.bound}`,
            `To:          ${i.to}`,
            `Status:      ${i.status}${i.route ? ` via ${i.route}` : ''}`,
            `Connections: ${i.connections}`,
            `Reconnects:  ${i.reconnects}`,
          ].join('\n'),
          i,
        );
      }),
    );
  inlet
    .command('delete')
    .description('Delete a TCP inlet (its port is closed and its connections too)')
    .argument('<name>', 'inlet name')
    .option('--at <node>', 'node (default node if omitted)')
    .option('-y, --yes', 'do not ask for confirmation')
    .addHelpText('after', '\nExamples:\n  $ ockam tcp-inlet delete inlet-1a2b3c')
    .action((name: string, opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        await ctx.client(node.name).call('deleteInlet', { name });
        ctx.out.result(`TCP inlet ${name} deleted`, { deleted: name });
      }),
    );

  const relay = program
    .command('relay')
    .description('Relays: a name on a relay node through which others reach this node');
  relay
    .command('create')
    .description('Create a relay on a relay node for a node that accepts no connections')
    .argument('[name]', 'relay name', 'default')
    .option('--to <node>', 'the node reached through the relay (default node if omitted)')
    .option('--at <route>', 'route to the relay node', DEFAULT_PROJECT_ROUTE)
    .option(
      '--authorized <identifier...>',
      'identifiers the relay node must prove, when --at has /secure',
      collectIdentifiers,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam relay create\n  $ ockam relay create postgres --to db-node --at /node/relay-node',
    )
    .action((name: string, opts: { to?: string; at: string; authorized?: string[] }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.to);
        const r = await ctx.client(node.name).call('createRelay', {
          name,
          at: opts.at,
          ...(opts.authorized ? { authorized: opts.authorized } : {}),
        });
        ctx.out.result(`Relay ${r.name} for node ${node.name} is up at ${r.at}/service/${r.remoteAddress}`, {
          ...r,
          node: node.name,
        });
      }),
    );
  relay
    .command('list')
    .description('List the relays a node created, and those it serves')
    .option('--to <node>', 'node (default node if omitted)')
    .addHelpText('after', '\nExamples:\n  $ ockam relay list --to n1')
    .action((opts: { to?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.to);
        const { relays, served } = await ctx.client(node.name).call('listRelays', {});
        ctx.out.result(
          () =>
            `${table(
              ['NAME', 'AT', 'REMOTE ADDRESS', 'STATUS'],
              relays.map((r) => [r.name, r.at, r.remoteAddress, r.status]),
            )}\nServed here: ${served.join(', ') || '-'}`,
          { relays, served },
        );
      }),
    );
  relay
    .command('show')
    .description('Show a relay')
    .argument('<name>', 'relay name')
    .option('--to <node>', 'node (default node if omitted)')
    .addHelpText('after', '\nExamples:\n  $ ockam relay show default')
    .action((name: string, opts: { to?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.to);
        const r = await ctx.client(node.name).call('getRelay', { name });
        ctx.out.result(
          `Relay ${r.name} at ${r.at}/service/${r.remoteAddress}: ${r.status} (${r.reconnects} reconnects)`,
          r,
        );
      }),
    );
  relay
    .command('delete')
    .description('Delete a relay')
    .argument('<name>', 'relay name')
    .option('--to <node>', 'node (default node if omitted)')
    .option('-y, --yes', 'do not ask for confirmation')
    .addHelpText('after', '\nExamples:\n  $ ockam relay delete default')
    .action((name: string, opts: { to?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.to);
        await ctx.client(node.name).call('deleteRelay', { name });
        ctx.out.result(`Relay ${name} deleted`, { deleted: name });
      }),
    );
}

import { MultiAddr, OckamError, parseHostPort } from '@ockam/core';
import type { InletInfo, OutletInfo, RelayInfo } from '@ockam/node/control';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { parseDuration, table } from '../output.js';
import { collectIdentifiers } from './secure-channel.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

const DEFAULT_PROJECT_ROUTE = '/project/default';
const NAME = /^[A-Za-z0-9_.-]+$/;

function invalid(message: string): OckamError {
  return new OckamError('node', 'invalid', message);
}

/**
 * The route of `tcp-inlet create --to … --via …`, as Ockam reads them: `--to` is a route to the
 * outlet, or the NAME of the outlet's service (`db`, `/service/db`) behind the relay `--via`
 * (default `default`) at `relayAt` (default the project):
 * `db --via pg` → `/project/default/service/forward_to_pg/secure/api/service/db`.
 */
export function expandInletTo(
  to: string | undefined,
  via: string | undefined,
  relayAt: string | undefined,
): string {
  if (via !== undefined && !NAME.test(via)) throw invalid(`Invalid --via '${via}': expected a relay name`);
  let service = 'outlet';
  if (to !== undefined) {
    const single = /^\/service\/([^/]+)$/.exec(to);
    if (single) service = single[1]!;
    else if (to.startsWith('/')) {
      MultiAddr.parse(to);
      if (via !== undefined) throw invalid("'--via' can't be passed if '--to' is a route");
      return to;
    } else if (NAME.test(to)) service = to;
    else throw invalid(`Invalid --to '${to}': a route (/node/…) or the name of an outlet`);
  }
  return `${relayAt ?? DEFAULT_PROJECT_ROUTE}/service/forward_to_${via ?? 'default'}/secure/api/service/${service}`;
}

/** `5432` → `127.0.0.1:5432`; `[::1]:80` kept. */
function hostPort(text: string): string {
  const { host, port } = parseHostPort(text);
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** A worker address from `--from x`, `/service/x` or `0#x`. */
function serviceAddress(text: string): string {
  return text.replace(/^\/service\//, '').replace(/^0#/, '');
}

/** Ockam's `ConnectionStatus` spelling. */
function connectionStatus(status: string): string {
  return status === 'up' ? 'Up' : status === 'down' ? 'Down' : 'Closed';
}

/** An inlet as Ockam prints it (`alias`, `bind_addr`, …), with what we know beside it. */
function inletJson(i: InletInfo, node: string) {
  return {
    alias: i.name,
    bind_addr: i.bound,
    outlet_addr: i.to,
    outlet_route: i.route,
    status: connectionStatus(i.status),
    node,
    connections: i.connections,
    reconnects: i.reconnects,
    ...(i.authorized ? { authorized: i.authorized } : {}),
    ...(i.identity ? { identity: i.identity } : {}),
    ...(i.allow ? { allow: i.allow } : {}),
    ...(i.udp ? { udp: true, tcp_fallback: !i.noTcpFallback } : {}),
  };
}

function outletJson(o: OutletInfo, node: string) {
  return {
    node_name: node,
    worker_address: `/service/${o.address}`,
    to: o.to,
    connections: o.connections,
    ...(o.allow ? { allow: o.allow } : {}),
  };
}

/** A relay as Ockam's `relay list` prints it. */
function relayListJson(r: RelayInfo) {
  return {
    name: r.name,
    remote_address: r.remoteAddress,
    connection_status: connectionStatus(r.status),
    destination_address: r.at,
    forwarding_route: r.route === null ? null : `${r.route} => 0#${r.remoteAddress}`,
    worker_address: relayWorker(r),
    reconnects: r.reconnects,
  };
}

/** The local end the relay runs over (its TCP connection or secure channel), as `/service/…`. */
function relayWorker(r: RelayInfo): string | null {
  const first = r.route?.split(' => ')[0];
  return first ? `/service/${first.replace(/^\d+#/, '')}` : null;
}

const json = (v: unknown): string => JSON.stringify(v, null, 2);

/**
 * Deletion as Ockam's commands do it: nothing to delete is not an error (it prints `[]`), a name
 * that is not there is; `--all` deletes every item.
 */
async function deleteItems(
  ctx: CliContext,
  kind: string,
  names: string[],
  opts: { name: string | undefined; all?: boolean },
  remove: (name: string) => Promise<void>,
): Promise<void> {
  if (names.length === 0) {
    ctx.out.result(`There are no ${kind}s to delete`, [], '[]');
    return;
  }
  const chosen = opts.all ? names : opts.name === undefined ? [] : [opts.name];
  if (chosen.length === 0) throw invalid(`Name the ${kind} to delete, or pass --all`);
  for (const n of chosen)
    if (!names.includes(n)) throw new OckamError('node', 'not-found', `The ${kind} ${n} was not found`);
  for (const n of chosen) await remove(n);
  ctx.out.result(`Deleted ${kind} ${chosen.join(', ')}`, { deleted: chosen }, chosen.join('\n'));
}

export function registerPortalCommands(program: Command, run: Run): void {
  const outlet = program
    .command('tcp-outlet')
    .description('TCP outlets: the end of a portal next to a TCP service');
  outlet
    .command('create')
    .description('Create a TCP outlet that forwards portal connections to a TCP service; prints its address')
    .requiredOption('--to <[host:]port>', 'the TCP service, e.g. 5432 (127.0.0.1:5432) or 10.0.0.5:5432')
    .option(
      '--from <address>',
      "worker address of the outlet (default: 'outlet' for the node's first outlet, then a random one)",
    )
    .option('--at <node>', 'node (default node if omitted)')
    .option('--allow <expression>', 'policy deciding who may use the outlet')
    .addHelpText(
      'after',
      '\nWhen stdout is not a terminal only the address (/service/NAME) is printed.\n\nExamples:\n  $ ockam tcp-outlet create --to 5432\n  $ ockam tcp-outlet create --at n2 --from db --to 127.0.0.1:5432',
    )
    .action((opts: { to: string; from?: string; at?: string; allow?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const o = await ctx.client(node.name).call('createOutlet', {
          ...(opts.from !== undefined ? { address: serviceAddress(opts.from) } : {}),
          to: hostPort(opts.to),
          ...(opts.allow ? { allow: opts.allow } : {}),
        });
        const address = `/service/${o.address}`;
        ctx.out.result(
          `Created a TCP outlet at ${address} on node ${node.name}, forwarding to ${o.to}`,
          outletJson(o, node.name),
          address,
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
        const items = outlets.map((o) => ({ from: `/service/${o.address}`, ...outletJson(o, node.name) }));
        ctx.out.result(
          () =>
            table(
              ['ADDRESS', 'TO', 'CONNECTIONS'],
              outlets.map((o) => [`/service/${o.address}`, o.to, String(o.connections)]),
            ),
          items,
          json(items),
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
        const o = await ctx.client(node.name).call('getOutlet', { address: serviceAddress(address) });
        const shown = outletJson(o, node.name);
        ctx.out.result(
          `Outlet /service/${o.address} → ${o.to} (${o.connections} connections)`,
          shown,
          json(shown),
        );
      }),
    );
  outlet
    .command('delete')
    .description('Delete a TCP outlet (its open connections are closed)')
    .argument('[address]', 'outlet address')
    .option('--at <node>', 'node (default node if omitted)')
    .option('--all', 'delete every TCP outlet of the node')
    .option('-y, --yes', 'do not ask for confirmation')
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam tcp-outlet delete outlet --at n2\n  $ ockam tcp-outlet delete --all --yes',
    )
    .action((address: string | undefined, opts: { at?: string; all?: boolean }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const api = ctx.client(node.name);
        const { outlets } = await api.call('listOutlets', {});
        await deleteItems(
          ctx,
          'TCP outlet',
          outlets.map((o) => o.address),
          {
            name: address === undefined ? undefined : serviceAddress(address),
            ...(opts.all ? { all: true } : {}),
          },
          async (a) => void (await api.call('deleteOutlet', { address: a })),
        );
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
      '--to <route-or-outlet>',
      'route to the outlet (/node/n2/secure/api/service/outlet), or the name of the outlet behind the relay --via (default: outlet)',
    )
    .option('--via <relay>', 'name of the relay the outlet is reached through (default: default)')
    .option('--at <node>', 'node (default node if omitted)')
    .option('--relay-at <route>', 'where the relay --via is (default /project/default)')
    .option('--identity <name>', "identity the inlet's secure channels present (the node's if omitted)")
    .option(
      '--authorized <identifier...>',
      'identifiers the outlet node must prove (last secure channel)',
      collectIdentifiers,
    )
    .option('--allow <expression>', 'policy deciding who may use the inlet')
    .option('--alias <name>', 'name of the inlet (random if omitted)')
    .option('--connection-wait <duration>', 'how long a new connection waits for a route that is down', '5s')
    .option('--retry-wait <duration>', 'longest pause between attempts to rebuild a route that is down')
    .option('--no-connection-wait', 'return once the port is bound, without waiting for the route')
    .option('--timeout <duration>', 'how long to wait for the node to create the inlet', '60s')
    .option('--udp', "run the portal over a punched UDP path to the outlet's node (the node needs --udp)")
    .option('--no-tcp-fallback', 'with --udp: no relayed fallback while there is no puncture')
    .addHelpText(
      'after',
      '\nWhen stdout is not a terminal only the bound address is printed.\n\nExamples:\n  $ ockam tcp-inlet create --from 7000 --to /node/n2/secure/api/service/outlet\n  $ ockam tcp-inlet create --from 15432 --to db --via postgres --relay-at /node/relay\n  $ ockam tcp-inlet create --from 7000            # outlet "outlet" via the project\'s relay "default"',
    )
    .action(
      (opts: {
        from: string;
        to?: string;
        via?: string;
        at?: string;
        relayAt?: string;
        identity?: string;
        authorized?: string[];
        allow?: string;
        alias?: string;
        connectionWait: string | boolean;
        retryWait?: string;
        timeout: string;
        udp?: boolean;
        tcpFallback?: boolean;
      }) =>
        run(async (ctx) => {
          if (opts.alias !== undefined && !NAME.test(opts.alias))
            throw invalid(`Invalid --alias '${opts.alias}': use letters, digits, '_', '.' or '-'`);
          // `--no-connection-wait` and `--connection-wait D` share a key in commander.
          const noWait = opts.connectionWait === false;
          const connectionWaitMs = parseDuration(
            typeof opts.connectionWait === 'string' ? opts.connectionWait : '5s',
          );
          const retryWaitMs = opts.retryWait === undefined ? undefined : parseDuration(opts.retryWait);
          if (retryWaitMs === 0) throw invalid('--retry-wait must be longer than 0');
          const timeoutMs = parseDuration(opts.timeout);
          const node = await ctx.runningNode(opts.at);
          const to = expandInletTo(opts.to, opts.via, opts.relayAt);
          const i = await ctx.client(node.name).call(
            'createInlet',
            {
              name: opts.alias ?? `inlet-${Math.random().toString(16).slice(2, 10)}`,
              from: hostPort(opts.from),
              to,
              connectionWaitMs,
              ...(retryWaitMs !== undefined ? { retryWaitMs } : {}),
              ...(noWait ? { noConnectionWait: true } : {}),
              ...(opts.udp
                ? { udp: true, ...(opts.tcpFallback === false ? { noTcpFallback: true } : {}) }
                : {}),
              ...(opts.identity ? { identity: opts.identity } : {}),
              ...(opts.authorized ? { authorized: opts.authorized } : {}),
              ...(opts.allow ? { allow: opts.allow } : {}),
            },
            { timeoutMs },
          );
          const plain = noWait
            ? `Created TCP inlet ${i.name} on node ${node.name} bound to ${i.bound}; it connects to the outlet at ${i.to} as soon as it is available`
            : i.status === 'up'
              ? `Created TCP inlet ${i.name} on node ${node.name} bound to ${i.bound}, sending traffic to the outlet at ${i.to}`
              : `Created TCP inlet ${i.name} on node ${node.name} bound to ${i.bound}, but the outlet at ${i.to} is not reachable yet; it retries automatically`;
          ctx.out.result(plain, inletJson(i, node.name), i.bound);
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
        const items = inlets.map((i) => inletJson(i, node.name));
        ctx.out.result(
          () =>
            table(
              ['ALIAS', 'FROM', 'TO', 'STATUS', 'CONNECTIONS'],
              inlets.map((i) => [i.name, i.bound, i.to, i.status, String(i.connections)]),
            ),
          items,
          json(items),
        );
      }),
    );
  inlet
    .command('show')
    .description('Show a TCP inlet')
    .argument('<alias>', 'inlet alias')
    .option('--at <node>', 'node (default node if omitted)')
    .addHelpText('after', '\nExamples:\n  $ ockam tcp-inlet show inlet-1a2b3c')
    .action((name: string, opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const i = await ctx.client(node.name).call('getInlet', { name });
        const shown = inletJson(i, node.name);
        ctx.out.result(
          [
            `Inlet:       ${i.name}`,
            `Listening:   ${i.bound}`,
            `To:          ${i.to}`,
            `Status:      ${i.status}${i.route ? ` via ${i.route}` : ''}`,
            `Connections: ${i.connections}`,
            `Reconnects:  ${i.reconnects}`,
          ].join('\n'),
          shown,
          json(shown),
        );
      }),
    );
  inlet
    .command('delete')
    .description('Delete a TCP inlet (its port is closed and its connections too)')
    .argument('[alias]', 'inlet alias')
    .option('--at <node>', 'node (default node if omitted)')
    .option('--all', 'delete every TCP inlet of the node')
    .option('-y, --yes', 'do not ask for confirmation')
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam tcp-inlet delete inlet-1a2b3c\n  $ ockam tcp-inlet delete --all --yes',
    )
    .action((name: string | undefined, opts: { at?: string; all?: boolean }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const api = ctx.client(node.name);
        const { inlets } = await api.call('listInlets', {});
        await deleteItems(
          ctx,
          'TCP inlet',
          inlets.map((i) => i.name),
          { name, ...(opts.all ? { all: true } : {}) },
          async (n) => void (await api.call('deleteInlet', { name: n })),
        );
      }),
    );

  const relay = program
    .command('relay')
    .description('Relays: a name on a relay node through which others reach this node');
  relay
    .command('create')
    .description('Create a relay on a relay node for a node that accepts no connections; prints its address')
    .argument('[name]', 'relay name', 'default')
    .option('--to <node>', 'the node reached through the relay (default node if omitted)')
    .option('--at <route-or-node>', 'route to the relay node, or its name', DEFAULT_PROJECT_ROUTE)
    .option(
      '--authorized <identifier...>',
      'identifiers the relay node must prove, when --at has /secure',
      collectIdentifiers,
    )
    .option(
      '--no-connection-wait',
      'return at once; the relay registers as soon as the relay node is reachable',
    )
    .addHelpText(
      'after',
      "\nWhen stdout is not a terminal only the relay's address (/service/forward_to_NAME) is printed.\n\nExamples:\n  $ ockam relay create\n  $ ockam relay create postgres --to db-node --at /node/relay-node",
    )
    .action(
      (name: string, opts: { to?: string; at: string; authorized?: string[]; connectionWait: boolean }) =>
        run(async (ctx) => {
          if (!NAME.test(name)) throw invalid(`Invalid relay name '${name}'`);
          const node = await ctx.runningNode(opts.to);
          // A bare name is a node, as in Ockam (`--at relay` = `--at /node/relay`).
          const at = opts.at.includes('/') ? opts.at : `/node/${opts.at}`;
          const r = await ctx.client(node.name).call('createRelay', {
            name,
            at,
            ...(opts.authorized ? { authorized: opts.authorized } : {}),
            ...(opts.connectionWait ? {} : { noConnectionWait: true }),
          });
          if (r.status !== 'up') {
            // No address to print yet: piped, the relay's JSON (as Ockam prints then).
            const shown = relayListJson(r);
            ctx.out.result(
              `Relay ${r.name} will be created from ${r.at} → /node/${node.name} as soon as a connection can be established`,
              shown,
              json(shown),
            );
            return;
          }
          const remote = `/service/${r.remoteAddress}`;
          ctx.out.result(
            `Now relaying messages from ${r.at}${remote} → /node/${node.name}`,
            relayListJson(r),
            remote,
          );
        }),
    );
  relay
    .command('list')
    .description('List the relays a node created (--served: the relays it serves to others)')
    .option('--to <node>', 'node (default node if omitted)')
    .option('--served', 'list the relays this node serves to other nodes instead')
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam relay list --to n1\n  $ ockam relay list --to relay-node --served',
    )
    .action((opts: { to?: string; served?: boolean }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.to);
        const { relays, served } = await ctx.client(node.name).call('listRelays', {});
        if (opts.served) {
          ctx.out.result(
            served.join('\n') || `No relays are served by node ${node.name}`,
            served,
            json(served),
          );
          return;
        }
        const items = relays.map(relayListJson);
        ctx.out.result(
          () =>
            relays.length === 0
              ? `No relays found on node ${node.name}`
              : table(
                  ['NAME', 'AT', 'REMOTE ADDRESS', 'STATUS'],
                  relays.map((r) => [r.name, r.at, r.remoteAddress, r.status]),
                ),
          items,
          json(items),
        );
      }),
    );
  relay
    .command('show')
    .description('Show a relay this node created')
    .argument('<name>', 'relay name')
    .option('--at <node>', 'the node that created the relay (default node if omitted)')
    .addHelpText('after', '\nExamples:\n  $ ockam relay show default --at n2')
    .action((name: string, opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const r = await ctx.client(node.name).call('getRelay', { name });
        const worker = relayWorker(r);
        const shown = {
          name: r.name,
          destination: r.at,
          connection_status: connectionStatus(r.status),
          relay_route: r.route === null ? null : `${r.route} => 0#${r.remoteAddress}`,
          remote_address: `/service/${r.remoteAddress}`,
          worker_address: worker,
          reconnects: r.reconnects,
        };
        ctx.out.result(
          `Relay ${r.name} at ${r.at}/service/${r.remoteAddress}: ${r.status} (${r.reconnects} reconnects)`,
          shown,
          json(shown),
        );
      }),
    );
  relay
    .command('delete')
    .description('Delete a relay this node created')
    .argument('<name>', 'relay name')
    .option('--at <node>', 'the node that created the relay (default node if omitted)')
    .option('-y, --yes', 'do not ask for confirmation')
    .addHelpText('after', '\nExamples:\n  $ ockam relay delete default --at n2 --yes')
    .action((name: string, opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const api = ctx.client(node.name);
        const { relays } = await api.call('listRelays', {});
        await deleteItems(
          ctx,
          'relay',
          relays.map((r) => r.name),
          { name },
          async (n) => void (await api.call('deleteRelay', { name: n })),
        );
      }),
    );
}

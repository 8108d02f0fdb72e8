import { OckamError } from '@ockam/core';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { parseDuration, table } from '../output.js';
import { resolveRoute } from '../routes.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

const IDENTIFIER = /^I[0-9a-f]{64}$/;

export function collectIdentifiers(value: string, previous: string[] = []): string[] {
  for (const v of value.split(/[\s,]+/).filter(Boolean)) {
    if (!IDENTIFIER.test(v))
      throw new OckamError(
        'identity',
        'invalid',
        `Invalid identifier '${v}': expected I followed by 64 lowercase hex digits`,
      );
    previous.push(v);
  }
  return previous;
}

export function registerSecureChannelCommands(program: Command, run: Run): void {
  const sc = program
    .command('secure-channel')
    .description('End-to-end encrypted, mutually authenticated channels (Ockam Noise XX) over any route');

  sc.command('create')
    .description(
      "Create a secure channel from a node to a secure channel listener; prints the channel's address as a route",
    )
    .requiredOption('--to <route>', 'route to a secure channel listener, e.g. /node/n2/service/api')
    .option('--from <node>', 'node that creates the channel (default node if omitted)')
    .option(
      '--authorized <identifier...>',
      'only accept a peer with one of these identifiers',
      collectIdentifiers,
    )
    .option('--identity <name>', "identity to present (the node's identity if omitted)")
    .option('--timeout <duration>', 'handshake timeout', '120s')
    .option(
      '--credential <hex>',
      "present this credential in the handshake instead of the node's (e.g. a project-admin credential)",
    )
    .option(
      '--authority-identity <hex>',
      "check the peer's credentials against this authority (its exported identity)",
    )
    .addHelpText(
      'after',
      '\nWhen stdout is not a terminal only the route is printed, so it can be piped:\n\nExamples:\n  $ ockam secure-channel create --from n1 --to /node/n2/service/api\n  $ ockam secure-channel create --from n1 --to /node/n1/node/n2/node/n3/service/api \\\n      | ockam message send "hello ockam!" --from n1 --to -/service/uppercase',
    )
    .action(
      (opts: {
        to: string;
        from?: string;
        authorized?: string[];
        identity?: string;
        timeout: string;
        credential?: string;
        authorityIdentity?: string;
      }) =>
        run(async (ctx) => {
          const timeoutMs = parseDuration(opts.timeout);
          const from = await ctx.runningNode(opts.from);
          const route = await resolveRoute(ctx, from.name, opts.to);
          const channel = await ctx.client(from.name).call(
            'createSecureChannel',
            {
              route,
              timeoutMs,
              ...(opts.authorized ? { authorized: opts.authorized } : {}),
              ...(opts.identity ? { identity: opts.identity } : {}),
              ...(opts.credential ? { credential: opts.credential.trim() } : {}),
              ...(opts.authorityIdentity ? { authorityIdentity: opts.authorityIdentity.trim() } : {}),
            },
            { timeoutMs: timeoutMs + 5_000 },
          );
          const address = `/service/${channel.address}`;
          ctx.out.result(
            `Secure channel to ${channel.peerIdentifier} created at\n${address}`,
            { ...channel, route: address, node: from.name },
            address,
          );
        }),
    );

  sc.command('list')
    .description('List the secure channels a node created')
    .option('--at <node>', 'node (default node if omitted)')
    .addHelpText('after', '\nExamples:\n  $ ockam secure-channel list --at n1')
    .action((opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const { channels } = await ctx.client(node.name).call('listSecureChannels', {});
        ctx.out.result(
          () =>
            channels.length === 0
              ? `No secure channels on node ${node.name}`
              : table(
                  ['ADDRESS', 'PEER', 'ROUTE'],
                  channels.map((c) => [`/service/${c.address}`, c.peerIdentifier, c.route.join(' => ')]),
                ),
          channels,
        );
      }),
    );

  sc.command('show')
    .description('Show a secure channel')
    .argument('<address>', 'channel address (as printed by create, with or without /service/)')
    .option('--at <node>', 'node (default node if omitted)')
    .addHelpText('after', '\nExamples:\n  $ ockam secure-channel show --at n1 /service/0c3f…')
    .action((address: string, opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const c = await ctx
          .client(node.name)
          .call('getSecureChannel', { address: address.replace(/^\/service\//, '') });
        ctx.out.result(
          [
            `Address:    /service/${c.address}`,
            `Peer:       ${c.peerIdentifier}`,
            `Route:      ${c.route.join(' => ')}`,
            `Identity:   ${c.identity}`,
            `Authorized: ${c.authorized?.join(', ') ?? 'anyone'}`,
          ].join('\n'),
          c,
        );
      }),
    );

  sc.command('delete')
    .description('Close a secure channel (the peer is told, with an encrypted Close)')
    .argument('<address>', 'channel address')
    .option('--at <node>', 'node (default node if omitted)')
    .option('-y, --yes', 'do not ask for confirmation')
    .addHelpText('after', '\nExamples:\n  $ ockam secure-channel delete --at n1 /service/0c3f…')
    .action((address: string, opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const a = address.replace(/^\/service\//, '');
        await ctx.client(node.name).call('deleteSecureChannel', { address: a });
        ctx.out.result(`Secure channel ${a} deleted`, { deleted: a });
      }),
    );

  const scl = program
    .command('secure-channel-listener')
    .description('Listeners that accept secure channels on a node (every node has one at "api")');
  scl
    .command('create')
    .description('Create a secure channel listener at an address on a node')
    .argument('<address>', 'worker address of the listener')
    .option('--at <node>', 'node (default node if omitted)')
    .option(
      '--authorized <identifier...>',
      'only accept initiators with one of these identifiers',
      collectIdentifiers,
    )
    .option('--identity <name>', "identity to present (the node's identity if omitted)")
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam secure-channel-listener create private --at n2 --authorized I923829d0…',
    )
    .action((address: string, opts: { at?: string; authorized?: string[]; identity?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const l = await ctx.client(node.name).call('createSecureChannelListener', {
          address,
          ...(opts.authorized ? { authorized: opts.authorized } : {}),
          ...(opts.identity ? { identity: opts.identity } : {}),
        });
        ctx.out.result(
          `Secure channel listener at /service/${l.address} created on node ${node.name}`,
          l,
          `/service/${l.address}`,
        );
      }),
    );
  scl
    .command('list')
    .description('List secure channel listeners')
    .option('--at <node>', 'node (default node if omitted)')
    .addHelpText('after', '\nExamples:\n  $ ockam secure-channel-listener list --at n2')
    .action((opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const { listeners } = await ctx.client(node.name).call('listSecureChannelListeners', {});
        ctx.out.result(
          () =>
            table(
              ['ADDRESS', 'IDENTITY', 'AUTHORIZED', 'CHANNELS', 'PENDING HANDSHAKES'],
              listeners.map((l) => [
                l.address,
                l.identity,
                l.authorized?.join(',') ?? 'anyone',
                `${l.channels}/${l.maxChannels}`,
                String(l.pendingHandshakes),
              ]),
            ),
          listeners,
        );
      }),
    );
  scl
    .command('show')
    .description('Show a secure channel listener')
    .argument('<address>', 'worker address of the listener')
    .option('--at <node>', 'node (default node if omitted)')
    .addHelpText('after', '\nExamples:\n  $ ockam secure-channel-listener show api --at n2')
    .action((address: string, opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const name = address.replace(/^\/service\//, '');
        const { listeners } = await ctx.client(node.name).call('listSecureChannelListeners', {});
        const l = listeners.find((x) => x.address === name);
        if (!l)
          throw new OckamError(
            'node',
            'not-found',
            `The secure channel listener ${name} was not found on node ${node.name}`,
          );
        ctx.out.result(
          [
            `Listener:   /service/${l.address}`,
            `Identity:   ${l.identity}`,
            `Authorized: ${l.authorized?.join(', ') ?? 'anyone'}`,
            `Channels:   ${l.channels}/${l.maxChannels}`,
          ].join('\n'),
          l,
          `/service/${l.address}`,
        );
      }),
    );
  scl
    .command('delete')
    .description('Delete a secure channel listener (its open channels stay up)')
    .argument('<address>', 'worker address of the listener')
    .option('--at <node>', 'node (default node if omitted)')
    .option('-y, --yes', 'do not ask for confirmation')
    .addHelpText('after', '\nExamples:\n  $ ockam secure-channel-listener delete private --at n2')
    .action((address: string, opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        await ctx.client(node.name).call('deleteSecureChannelListener', { address });
        ctx.out.result(`Secure channel listener ${address} deleted`, { deleted: address });
      }),
    );
}

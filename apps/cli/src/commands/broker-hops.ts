import { OckamError } from '@ockam/core';
import type { BrokerConnectionInfo, BrokerKind } from '@ockam/node/control';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { table } from '../output.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

/** What differs between the Kafka and the RabbitMQ commands: names and flags, nothing else. */
interface Flavour {
  readonly kind: BrokerKind;
  readonly title: string;
  /** The broker flag and its help (`--bootstrap-server`, `--url`). */
  readonly brokerFlag: string;
  readonly brokerKey: 'bootstrapServer' | 'url';
  readonly brokerHelp: string;
  /** The name flag (`--topic`, `--queue`) and what it names. */
  readonly nameFlag: string;
  readonly nameKey: 'topic' | 'queue';
  readonly noun: string;
  readonly example: string;
}

const FLAVOURS: readonly Flavour[] = [
  {
    kind: 'kafka',
    title: 'Kafka',
    brokerFlag: '--bootstrap-server <host:port>',
    brokerKey: 'bootstrapServer',
    brokerHelp: 'the Kafka bootstrap server(s), HOST:PORT[,HOST:PORT…]',
    nameFlag: '--topic <topic>',
    nameKey: 'topic',
    noun: 'topic',
    example: '--bootstrap-server 127.0.0.1:9092 --topic ockam.n1',
  },
  {
    kind: 'amqp',
    title: 'RabbitMQ',
    brokerFlag: '--url <amqp-url>',
    brokerKey: 'url',
    brokerHelp: 'the AMQP URL, amqp://USER:PASSWORD@HOST:PORT/VHOST (the password is never printed)',
    nameFlag: '--queue <queue>',
    nameKey: 'queue',
    noun: 'queue',
    example: '--url amqp://guest:guest@127.0.0.1:5672 --queue ockam.n1',
  },
];

type Opts = {
  at?: string;
  from?: string;
  bootstrapServer?: string;
  url?: string;
  topic?: string;
  queue?: string;
};

/**
 * `ockam kafka-listener|kafka-connection|amqp-listener|amqp-connection create|list|delete`: Kafka
 * topics and RabbitMQ queues as hops of routes (`@ockam/transport-broker`). A listener is the
 * node's inbox; a connection publishes to another node's inbox and is reached as `/worker/ADDRESS`,
 * as a `tcp-connection` is. Ours, not Ockam's (Ockam's `kafka-inlet`/`kafka-outlet` are portals).
 */
export function registerBrokerHopCommands(program: Command, run: Run): void {
  for (const f of FLAVOURS) registerFlavour(program, run, f);
}

function registerFlavour(program: Command, run: Run, f: Flavour): void {
  const listener = program
    .command(`${f.kind}-listener`)
    .description(`${f.title} ${f.noun}s a node consumes as its inbox: a hop of routes to it`);
  listener
    .command('create')
    .description(
      `Consume a ${f.title} ${f.noun} as the node's inbox. Whoever can write to it reaches what the node's ` +
        "TCP listener exposes (secure channel listeners, services); replies go to the sender's inbox",
    )
    .requiredOption(f.brokerFlag, f.brokerHelp)
    .requiredOption(f.nameFlag, `the ${f.noun} to consume`)
    .option('--at <node>', 'node (default node if omitted)')
    .addHelpText(
      'after',
      `\nExamples:\n  $ ockam ${f.kind}-listener create ${f.example} --at n1\n` +
        `  $ ockam secure-channel create --from n2 --to /${f.kind}/ockam.n1/service/api`,
    )
    .action((opts: Opts) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const l = await ctx.client(node.name).call('createBrokerListener', {
          kind: f.kind,
          broker: opts[f.brokerKey]!,
          inbox: opts[f.nameKey]!,
        });
        const route = `/${f.kind}/${l.inbox}`;
        ctx.out.result(
          `${f.title} listener on ${f.noun} ${l.inbox} (${l.broker}) at node ${node.name}: ${route}`,
          { ...l, node: node.name, route },
          route,
        );
      }),
    );
  listener
    .command('list')
    .description(`List a node's ${f.title} listeners`)
    .option('--at <node>', 'node (default node if omitted)')
    .action((opts: Opts) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const { listeners } = await ctx.client(node.name).call('listBrokerListeners', { kind: f.kind });
        ctx.out.result(
          () =>
            listeners.length === 0
              ? `No ${f.title} listeners on node ${node.name}`
              : table(
                  [f.noun.toUpperCase(), 'BROKER', 'ROUTE'],
                  listeners.map((l) => [l.inbox, l.broker, `/${f.kind}/${l.inbox}`]),
                ),
          listeners,
        );
      }),
    );
  listener
    .command(`delete <${f.noun}>`)
    .description(`Stop consuming a ${f.noun}; its connections close with it`)
    .option('--at <node>', 'node (default node if omitted)')
    .option('-y, --yes', 'do not ask for confirmation')
    .action((name: string, opts: Opts) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const l = await ctx.client(node.name).call('deleteBrokerListener', { kind: f.kind, inbox: name });
        ctx.out.result(`Closed ${f.title} listener on ${f.noun} ${l.inbox} at node ${node.name}`, {
          deleted: l.inbox,
          node: node.name,
        });
      }),
    );

  const conn = program
    .command(`${f.kind}-connection`)
    .description(`${f.title} connections: a node publishes to another node's ${f.noun}`);
  conn
    .command('create')
    .description(
      `Publish to another node's ${f.title} ${f.noun}; routes reach it through /worker/ADDRESS. The node ` +
        `needs a ${f.kind}-listener on the same broker (replies come back into it). As for ` +
        "tcp-connection, peers of this node's listeners may route through it too",
    )
    .requiredOption(f.nameFlag, `the ${f.noun} to publish to`)
    .option(f.brokerFlag, `${f.brokerHelp}; default: the broker of the node's ${f.kind}-listener`)
    .option('--from <node>', 'node that publishes (default node if omitted)')
    .addHelpText(
      'after',
      `\nExamples:\n  $ ockam ${f.kind}-connection create ${f.example.replace('ockam.n1', 'ockam.n2')} --from n1\n` +
        '  $ ockam message send hi --from n1 --to /worker/<address>/service/uppercase',
    )
    .action((opts: Opts) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.from);
        const broker = opts[f.brokerKey];
        const c = await ctx.client(node.name).call('createBrokerConnection', {
          kind: f.kind,
          target: opts[f.nameKey]!,
          ...(broker ? { broker } : {}),
          expose: true,
        });
        ctx.out.result(
          `A ${f.title} connection was created at node ${node.name} to ${f.noun} ${c.target}: /worker/${c.workerAddress}`,
          { ...c, from: node.name, address: `/worker/${c.workerAddress}` },
          `/worker/${c.workerAddress}`,
        );
      }),
    );
  conn
    .command('list')
    .description(`List a node's ${f.title} connections`)
    .option('--at <node>', 'node (default node if omitted)')
    .action((opts: Opts) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const { connections } = await ctx.client(node.name).call('listBrokerConnections', { kind: f.kind });
        ctx.out.result(
          () =>
            connections.length === 0
              ? `No ${f.title} connections on node ${node.name}`
              : table(
                  ['WORKER', f.noun.toUpperCase(), 'BROKER'],
                  connections.map((c) => [`/worker/${c.workerAddress}`, c.target, c.broker]),
                ),
          connections,
        );
      }),
    );
  conn
    .command('delete <address>')
    .description(`Close a ${f.title} connection, by its worker address`)
    .option('--at <node>', 'node (default node if omitted)')
    .option('-y, --yes', 'do not ask for confirmation')
    .action((address: string, opts: Opts) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const c = await findConnection(ctx, node.name, f, address);
        await ctx
          .client(node.name)
          .call('deleteBrokerConnection', { kind: f.kind, address: c.senderAddress });
        ctx.out.result(`Closed ${f.title} connection /worker/${c.workerAddress} on node ${node.name}`, {
          deleted: c.senderAddress,
          node: node.name,
        });
      }),
    );
}

async function findConnection(
  ctx: CliContext,
  node: string,
  f: Flavour,
  address: string,
): Promise<BrokerConnectionInfo> {
  const worker = address.replace(/^\/worker\//, '');
  const { connections } = await ctx.client(node).call('listBrokerConnections', { kind: f.kind });
  const c = connections.find((x) => x.workerAddress === worker || x.senderAddress === worker);
  if (!c) throw new OckamError('node', 'not-found', `No ${f.title} connection ${address} on node ${node}`);
  return c;
}

/**
 * `kafka-inlet` and `kafka-outlet` (KAFKA.md §3): Ockam's Kafka portals, with its flags, defaults,
 * JSON and texts; and the hidden, deprecated `kafka-consumer` / `kafka-producer` that map onto
 * `kafka-inlet` (§3.4).
 */
import { MultiAddr, OckamError, parseHostPort } from '@ockam/core';
import type { KafkaInletConfig, KafkaInletInfo, KafkaOutletInfo } from '@ockam/node/control';
import { type Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { table } from '../output.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

export const KAFKA_DEFAULT_BOOTSTRAP_SERVER = '127.0.0.1:9092';
export const KAFKA_DEFAULT_INLET_FROM = '127.0.0.1:4000';
export const KAFKA_DEFAULT_PRODUCER_FROM = '127.0.0.1:5000';
export const KAFKA_DEFAULT_TO = '/project/default';
const SUPPORTED = 'Kafka clients v3.7.0 and earlier are supported';

function invalid(message: string): OckamError {
  return new OckamError('node', 'invalid', message);
}

/** Ockam's `HostnamePort`: `4000` and `:4000` are `127.0.0.1:4000`. */
export function kafkaHostPort(text: string): string {
  const t = text.startsWith(':') ? text.slice(1) : text;
  const { host, port } = parseHostPort(t);
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** A route flag: `self` is `/secure/api` (Ockam's multiaddr shorthand); anything else must parse. */
export function kafkaRoute(text: string, flag: string): string {
  const route = text === 'self' ? '/secure/api' : text;
  try {
    MultiAddr.parse(route);
  } catch (e) {
    throw invalid(`Invalid ${flag} '${text}': ${(e as Error).message}`);
  }
  return route;
}

/** `START-END`. */
function portRange(text: string): [number, number] {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(text);
  if (!m || Number(m[1]) > Number(m[2]) || Number(m[2]) > 65535) throw invalid('invalid port range');
  return [Number(m[1]), Number(m[2])];
}

export interface KafkaInletFlags {
  addr?: string;
  from?: string;
  brokersPortRange?: string;
  to?: string;
  consumer?: string;
  consumerRelay?: string;
  publishingRelay?: string;
  avoidPublishing?: boolean;
  disableContentEncryption?: boolean;
  encryptedField?: string[];
  allow?: string;
  allowConsumer?: string;
  allowProducer?: string;
}

/**
 * The node's configuration for `kafka-inlet create` flags, with Ockam's defaults and conflicts
 * (KAFKA.md §2.1, §3.1). Shared with the YAML configuration.
 */
export function kafkaInletConfig(flags: KafkaInletFlags): KafkaInletConfig {
  if (flags.consumer !== undefined && flags.consumerRelay !== undefined)
    throw invalid("the argument '--consumer <ROUTE>' cannot be used with '--consumer-relay <ROUTE>'");
  if (flags.avoidPublishing && flags.publishingRelay !== undefined)
    throw invalid("the argument '--avoid-publishing' cannot be used with '--publishing-relay <ROUTE>'");
  const from = kafkaHostPort(flags.from ?? KAFKA_DEFAULT_INLET_FROM);
  const fromPort = parseHostPort(from).port;
  const range: [number, number] =
    flags.brokersPortRange !== undefined
      ? portRange(flags.brokersPortRange)
      : [Math.min(fromPort + 1, 65535), Math.min(fromPort + 100, 65535)];
  if (fromPort >= range[0] && fromPort <= range[1])
    throw invalid(
      `The bootstrap port ${fromPort} can't overlap with the brokers port range ${range[0]}-${range[1]}`,
    );
  const to = kafkaRoute(flags.to ?? KAFKA_DEFAULT_TO, '--to');
  const consumerRelay =
    flags.consumerRelay === undefined ? undefined : kafkaRoute(flags.consumerRelay, '--consumer-relay');
  const consumerResolution: KafkaInletConfig['consumerResolution'] =
    flags.consumer !== undefined
      ? { kind: 'single-node', route: kafkaRoute(flags.consumer, '--consumer') }
      : { kind: 'via-relay', route: consumerRelay ?? to };
  const consumerPublishing: KafkaInletConfig['consumerPublishing'] = flags.avoidPublishing
    ? { kind: 'none' }
    : {
        kind: 'relay',
        route:
          flags.publishingRelay !== undefined
            ? kafkaRoute(flags.publishingRelay, '--publishing-relay')
            : (consumerRelay ?? to),
      };
  return {
    addr: flags.addr ?? 'kafka_inlet',
    from,
    brokersPortRange: range,
    to,
    consumerResolution,
    consumerPublishing,
    ...(flags.disableContentEncryption ? { encryptContent: false } : {}),
    ...(flags.encryptedField?.length ? { encryptedFields: flags.encryptedField } : {}),
    ...(flags.allow !== undefined ? { allow: flags.allow } : {}),
    ...(flags.allowConsumer !== undefined ? { allowConsumer: flags.allowConsumer } : {}),
    ...(flags.allowProducer !== undefined ? { allowProducer: flags.allowProducer } : {}),
  };
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** Ockam's `kafka-inlet create` output. */
function inletCreated(i: KafkaInletInfo, node: string) {
  return {
    node_name: node,
    from: i.from,
    brokers_port_range: `${i.brokersPortRange[0]}-${i.brokersPortRange[1]}`,
    to: i.to,
  };
}

/** `kafka-inlet create` on the node `at`; shared by the deprecated aliases. */
async function createInlet(ctx: CliContext, at: string | undefined, flags: KafkaInletFlags): Promise<void> {
  const config = kafkaInletConfig(flags);
  const node = await ctx.runningNode(at);
  const i = await ctx.client(node.name).call('createKafkaInlet', config, { timeoutMs: 120_000 });
  const out = inletCreated(i, node.name);
  ctx.out.result(
    `Created a new Kafka Inlet in the Node ${node.name} bound to ${out.from}\nwith the brokers port range set to ${out.brokers_port_range}\nsending traffic to the Kafka Outlet at ${out.to}\n${SUPPORTED}`,
    out,
    out.from,
  );
}

function addInletFlags(cmd: Command, fromDefault: string, fromFlag = '--from <HOSTNAME_PORT>'): Command {
  return cmd
    .option('--at <NODE_NAME>', 'node (default node if omitted)')
    .option('--addr <ADDRESS>', 'the local address of the service', 'kafka_inlet')
    .option(fromFlag, `the local address the Kafka clients connect to (default ${fromDefault})`)
    .option(
      '--brokers-port-range <BROKERS_PORT_RANGE>',
      'local ports for the brokers (START-END; default the 100 ports after --from)',
    );
}

export function registerKafkaCommands(program: Command, run: Run): void {
  // ---- kafka-inlet ----
  const inlet = program
    .command('kafka-inlet')
    .description(
      `Kafka Inlets: a local Kafka bootstrap server whose traffic reaches a Kafka Outlet, records end to end encrypted. ${SUPPORTED}`,
    );
  addInletFlags(
    inlet.command('create').description(`Create a new Kafka Inlet. ${SUPPORTED}`),
    KAFKA_DEFAULT_INLET_FROM,
  )
    .option(
      '--to <ROUTE>',
      `route to the node running the Kafka Outlet (self = /secure/api; default ${KAFKA_DEFAULT_TO})`,
    )
    .option(
      '--consumer <ROUTE>',
      "route to the consumer's node, for all topics (conflicts with --consumer-relay)",
    )
    .option('--consumer-relay <ROUTE>', 'where consumers publish their relays (default --to)')
    .option(
      '--publishing-relay <ROUTE>',
      'where this consumer publishes its relays (default --consumer-relay, else --to)',
    )
    .option('--avoid-publishing', 'do not publish consumer relays')
    .option('--disable-content-encryption', 'leave record values in plaintext')
    .option('--encrypted-field <FIELD>', 'encrypt only this top-level JSON field (repeatable)', collect)
    .addOption(new Option('--encrypted-fields <FIELD>').argParser(collect).hideHelp())
    .addOption(new Option('--allow <EXPRESSION>', 'policy of the inlet').hideHelp())
    .addOption(
      new Option('--allow-consumer <EXPRESSION>', 'policy for consumers (kafka-consumer)').hideHelp(),
    )
    .addOption(
      new Option('--allow-producer <EXPRESSION>', 'policy for producers (kafka-producer)').hideHelp(),
    )
    .addHelpText(
      'after',
      '\nThe consumer and producer policies fall back to the kafka-consumer and kafka-producer resource-type policies:\n  $ ockam policy show --resource-type kafka-consumer\n\nExamples:\n  $ ockam kafka-inlet create --from 4000 --to /project/default/service/forward_to_kafka/secure/api\n  $ ockam kafka-inlet create --from 4000 --to self --consumer self --avoid-publishing',
    )
    .action((opts: KafkaInletFlags & { at?: string; encryptedFields?: string[] }) =>
      run((ctx) =>
        createInlet(ctx, opts.at, {
          ...opts,
          ...(opts.encryptedFields
            ? { encryptedField: [...(opts.encryptedField ?? []), ...opts.encryptedFields] }
            : {}),
        }),
      ),
    );
  registerCrud(inlet, run, 'inlet');

  // ---- kafka-outlet ----
  const outlet = program
    .command('kafka-outlet')
    .description('Kafka Outlets: reach the Kafka brokers from Kafka Inlets, next to the brokers');
  outlet
    .command('create')
    .description(`Create a new Kafka Outlet. ${SUPPORTED}`)
    .option('--at <NODE_NAME>', 'node (default node if omitted)')
    .option('--addr <ADDRESS>', 'the local address of the service', 'kafka_outlet')
    .option(
      '--bootstrap-server <BOOTSTRAP_SERVER>',
      'the Kafka bootstrap server',
      KAFKA_DEFAULT_BOOTSTRAP_SERVER,
    )
    .option('--tls', 'connect to the brokers with TLS')
    .addOption(new Option('--allow <EXPRESSION>', 'policy of the outlet').hideHelp())
    .addHelpText('after', '\nExamples:\n  $ ockam kafka-outlet create --bootstrap-server 127.0.0.1:9092')
    .action((opts: { at?: string; addr: string; bootstrapServer: string; tls?: boolean; allow?: string }) =>
      run(async (ctx) => {
        const bootstrapServer = kafkaHostPort(opts.bootstrapServer);
        const node = await ctx.runningNode(opts.at);
        const o = await ctx.client(node.name).call('createKafkaOutlet', {
          addr: opts.addr,
          bootstrapServer,
          ...(opts.tls ? { tls: true } : {}),
          ...(opts.allow !== undefined ? { allow: opts.allow } : {}),
        });
        ctx.out.result(
          `Created a new Kafka Outlet in the Node ${node.name} bound to ${o.bootstrapServer}`,
          { node_name: node.name, bootstrap_server: o.bootstrapServer },
          o.bootstrapServer,
        );
      }),
    );
  registerCrud(outlet, run, 'outlet');

  // ---- deprecated aliases ----
  for (const [name, from] of [
    ['kafka-consumer', KAFKA_DEFAULT_INLET_FROM],
    ['kafka-producer', KAFKA_DEFAULT_PRODUCER_FROM],
  ] as const) {
    const alias = program.command(name, { hidden: true }).description(`[DEPRECATED] use kafka-inlet instead`);
    addInletFlags(
      alias.command('create').description('[DEPRECATED] Create a Kafka Inlet'),
      from,
      '--bootstrap-server <HOSTNAME_PORT>',
    )
      .option('--project-route <ROUTE>', `route to the Kafka Outlet (default ${KAFKA_DEFAULT_TO})`)
      .action(
        (opts: {
          at?: string;
          addr: string;
          bootstrapServer?: string;
          brokersPortRange?: string;
          projectRoute?: string;
        }) =>
          run(async (ctx) => {
            ctx.out.warn(`The ${name} command is deprecated; use kafka-inlet instead`);
            await createInlet(ctx, opts.at, {
              addr: opts.addr,
              from: opts.bootstrapServer ?? from,
              ...(opts.brokersPortRange !== undefined ? { brokersPortRange: opts.brokersPortRange } : {}),
              ...(opts.projectRoute !== undefined ? { to: opts.projectRoute } : {}),
            });
          }),
      );
    registerCrud(alias, run, 'inlet', { show: false });
  }
}

/** `show`, `list` and `delete` of kafka inlets or outlets, Ockam's `{ addr, type }` items. */
function registerCrud(
  parent: Command,
  run: Run,
  kind: 'inlet' | 'outlet',
  options: { show?: boolean } = {},
): void {
  const title = kind === 'inlet' ? 'Kafka Inlet' : 'Kafka Outlet';
  const defaultAddr = kind === 'inlet' ? 'kafka_inlet' : 'kafka_outlet';
  const list = async (ctx: CliContext, at: string | undefined) => {
    const node = await ctx.runningNode(at);
    const api = ctx.client(node.name);
    const items: Array<KafkaInletInfo | KafkaOutletInfo> =
      kind === 'inlet'
        ? (await api.call('listKafkaInlets', {})).inlets
        : (await api.call('listKafkaOutlets', {})).outlets;
    return { node, api, items };
  };
  const status = (i: KafkaInletInfo | KafkaOutletInfo) => ({ addr: i.addr, type: i.type });
  if (options.show !== false)
    parent
      .command('show')
      .description(`Show a ${title}`)
      .argument('[ADDRESS]', `the service address (default ${defaultAddr})`)
      .option('--at <NODE_NAME>', 'node (default node if omitted)')
      .action((address: string | undefined, opts: { at?: string }) =>
        run(async (ctx) => {
          const { items } = await list(ctx, opts.at);
          const found = items.find((i) => i.addr === (address ?? defaultAddr));
          if (found === undefined) throw new OckamError('node', 'not-found', `${title} not found`);
          ctx.out.result(
            `${found.type} service at ${found.addr}${details(found)}`,
            status(found),
            found.addr,
          );
        }),
      );
  parent
    .command('list')
    .description(`List ${title}s`)
    .option('--at <NODE_NAME>', 'node (default node if omitted)')
    .action((opts: { at?: string }) =>
      run(async (ctx) => {
        const { items } = await list(ctx, opts.at);
        const out = items.map(status);
        ctx.out.result(
          () =>
            items.length === 0
              ? `No ${title}s found`
              : table(
                  ['ADDRESS', 'TYPE', kind === 'inlet' ? 'FROM' : 'BOOTSTRAP SERVER'],
                  items.map((i) => [i.addr, i.type, 'from' in i ? i.from : i.bootstrapServer]),
                ),
          out,
          JSON.stringify(out, null, 2),
        );
      }),
    );
  parent
    .command('delete')
    .description(`Delete a ${title}`)
    .argument('[ADDRESS]', `the service address (default ${defaultAddr})`)
    .option('--at <NODE_NAME>', 'node (default node if omitted)')
    .option('--all', `delete every ${title} of the node`)
    .option('-y, --yes', 'do not ask for confirmation')
    .action((address: string | undefined, opts: { at?: string; all?: boolean }) =>
      run(async (ctx) => {
        const { api, items } = await list(ctx, opts.at);
        const chosen = opts.all ? items.map((i) => i.addr) : [address ?? defaultAddr];
        for (const addr of chosen) {
          if (kind === 'inlet') await api.call('deleteKafkaInlet', { addr });
          else await api.call('deleteKafkaOutlet', { addr });
        }
        ctx.out.result(
          chosen.length === 0
            ? `There are no ${title}s to delete`
            : `${title} with address ${chosen.join(', ')} has been deleted`,
          { deleted: chosen },
          chosen.join('\n'),
        );
      }),
    );
}

function details(i: KafkaInletInfo | KafkaOutletInfo): string {
  if ('from' in i)
    return ` (from ${i.from} to ${i.to}, brokers ${i.brokersPortRange[0]}-${i.brokersPortRange[1]})`;
  return ` (bootstrap server ${i.bootstrapServer})`;
}

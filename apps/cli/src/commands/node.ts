import { closeSync, existsSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { OckamError, parseHostPort } from '@ockam/core';
import {
  isNodeProcess,
  isNodeRunning,
  parseLogLevel,
  resolveLogLevel,
  runForegroundNode,
  type SpawnNodeOptions,
  spawnNode,
  stopNodeProcess,
} from '@ockam/daemon';
import { type NodeRecord, validateNodeName } from '@ockam/state';
import { type Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { table } from '../output.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

function randomName(): string {
  return `node-${Math.random().toString(16).slice(2, 8)}`;
}

/**
 * Names `node create` accepts, as Ockam: letters, digits, '_' and '-' (no '.', so that a name is
 * never taken for a configuration file), 1-64 of them.
 */
const CREATE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Ockam's route to a node's TCP listener: `/dnsaddr/localhost/tcp/PORT` (`/ip4/…` off localhost). */
export function listenerRoute(hostPort: string): string {
  const i = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, i);
  const port = hostPort.slice(i + 1);
  if (host === '127.0.0.1' || host === 'localhost') return `/dnsaddr/localhost/tcp/${port}`;
  return /^\d+\.\d+\.\d+\.\d+$/.test(host) ? `/ip4/${host}/tcp/${port}` : `/dnsaddr/${host}/tcp/${port}`;
}

/** One node of `node list --output json`, in Ockam's shape. */
async function listItem(ctx: CliContext, n: NodeRecord) {
  const running = await isNodeRunning(ctx.home, n);
  const pid = running ? n.pid : null;
  return {
    node_name: n.name,
    status: { status: running ? 'running' : 'stopped', pid },
    pid,
    is_default: n.isDefault,
    tcpListenerAddress: n.tcpListenerAddress,
  };
}

/**
 * What `node show`, `node start` and `node create` print as JSON: Ockam's fields (name, status,
 * route, services with `addr`, http_server_address, …) and ours (identifier, listener and
 * connection details, the log's path). A stopped node shows its record and no resources.
 */
export async function nodeResources(ctx: CliContext, record: NodeRecord) {
  const running = await isNodeRunning(ctx.home, record);
  const base = {
    name: record.name,
    identity_name: typeof record.options.identity === 'string' ? record.options.identity : null,
    is_default: record.isDefault,
    status: running ? 'running' : 'stopped',
    pid: running ? record.pid : null,
    route: {
      short: `/node/${record.name}`,
      ...(record.tcpListenerAddress ? { verbose: listenerRoute(record.tcpListenerAddress) } : {}),
    },
    tcpListenerAddress: record.tcpListenerAddress,
    logPath: ctx.home.logPath(record.name),
  };
  if (!running)
    return {
      ...base,
      identifier: null,
      http_server_address: null,
      websocketListenerAddress: null,
      transports: [],
      secure_channel_listeners: [],
      inlets: [],
      outlets: [],
      services: [],
      tcpConnections: [],
    };
  const api = ctx.client(record.name);
  const [status, listeners, channelListeners, inlets, outlets, services] = await Promise.all([
    api.call('status', {}),
    api.call('listTcpListeners', {}),
    api.call('listSecureChannelListeners', {}),
    api.call('listInlets', {}),
    api.call('listOutlets', {}),
    api.call('listServices', {}),
  ]);
  return {
    ...base,
    identifier: status.identifier,
    http_server_address: status.httpServerAddress,
    websocketListenerAddress: status.websocketListenerAddress,
    transports: [
      ...listeners.listeners.map((l) => ({
        type: 'Tcp',
        mode: 'Listen',
        socket_addr: l.address,
        processor_address: l.processorAddress,
        flow_control_id: l.flowControlId,
      })),
      ...status.tcpConnections.map((c) => ({
        type: 'Tcp',
        mode: 'Outgoing',
        socket_addr: c.peer,
        worker_addr: c.workerAddress,
        flow_control_id: c.flowControlId,
      })),
    ],
    secure_channel_listeners: channelListeners.listeners,
    inlets: inlets.inlets,
    outlets: outlets.outlets,
    services: services.services.map((s) => ({ addr: s.address, type: s.type })),
    tcpConnections: status.tcpConnections,
  };
}

type Resources = Awaited<ReturnType<typeof nodeResources>>;

/** A node's resources for people. */
function plainResources(r: Resources): string {
  return [
    `Node:         ${r.name}${r.is_default ? ' (default)' : ''}`,
    `Status:       ${r.status}${r.pid ? ` (pid ${r.pid})` : ''}`,
    `Route:        ${r.route.short}${r.route.verbose ? ` or ${r.route.verbose}` : ''}`,
    `Identifier:   ${r.identifier ?? '-'}${r.identity_name ? ` (identity ${r.identity_name})` : ''}`,
    ...(r.http_server_address ? [`HTTP server:  ${r.http_server_address}`] : []),
    `Services:     ${r.services.map((s) => s.addr).join(', ') || '-'}`,
    `Connections:  ${r.tcpConnections.map((c) => `${c.peer} via /worker/${c.workerAddress}`).join(', ') || '-'}`,
    `Logs:         ${r.logPath}`,
  ].join('\n');
}

/** Prints a node's resources: plain for a terminal, JSON with --output json or when piped (as Ockam). */
function printResources(ctx: CliContext, r: Resources, plain?: string): void {
  ctx.out.result(() => plain ?? plainResources(r), r, JSON.stringify(r, null, 2));
}

/** The named node, or the default one (an error when there is none). */
function nodeOrDefault(ctx: CliContext, name: string | undefined): NodeRecord {
  const record = name ? ctx.requireNode(name) : ctx.state.defaultNode();
  if (!record)
    throw new OckamError(
      'node',
      'not-found',
      "There is no default node; create one with 'ockam node create'",
    );
  return record;
}

/** Stops a node's process if it is one of ours (a foreground node's too: its daemon is a child). */
async function stopIfRunning(record: NodeRecord): Promise<'stopped' | 'killed' | 'not-running'> {
  if (record.pid && isNodeProcess(record.pid, record.name)) return stopNodeProcess(record.pid);
  return 'not-running';
}

export function registerNodeCommands(program: Command, run: Run): void {
  const node = program.command('node').description('Create and manage Ockam nodes');

  node
    .command('create')
    .description(
      'Create a node and start it in the background, with a TCP listener and the standard services (echo, uppercase)',
    )
    .argument('[name]', 'node name (random if omitted), or a configuration file')
    .addOption(
      new Option('-t, --tcp-listener-address <host:port>', 'address of the TCP listener').default(
        '127.0.0.1:0',
      ),
    )
    .option('-f, --foreground', 'run the node attached to this terminal, logging to stderr, until Ctrl-C')
    .option('-e, --exit-on-eof', 'with --foreground: stop the node when stdin ends')
    .option(
      '-s, --skip-is-running-check',
      'accepted for compatibility with Ockam; a node that is running is never created twice',
    )
    .option('--log-level <level>', 'trace, debug, info, warn, error or off')
    .option(
      '--identity <name>',
      'identity the node presents in secure channels (default identity if omitted)',
    )
    .option(
      '--http-server [[host:]port]',
      'serve /health, /show and Prometheus /metrics over HTTP; on a free port of 127.0.0.1 without a value',
    )
    .option('--http-server-port <port>', 'serve the HTTP server on this port of 127.0.0.1')
    .option('--project <name>', 'project whose authority the node trusts (default: "default" when it exists)')
    .option(
      '--websocket-listener-address <host:port>',
      'also listen for WebSocket connections (browsers, proxies)',
    )
    .option(
      '--websocket-allowed-origin <origin>',
      'a web page (scheme://host[:port]) that may open WebSocket connections, besides same-origin ones (repeatable)',
      collect,
    )
    .option(
      '--http-server-allowed-host <host[:port]>',
      'a Host name the HTTP server answers to besides its own addresses, e.g. behind a proxy (repeatable)',
      collect,
    )
    .option(
      '--udp',
      'enable the UDP transport and puncture negotiation (with --rendezvous or $OCKAM_RENDEZVOUS_SERVER)',
    )
    .option('--rendezvous <host:port>', 'UDP address of the rendezvous service, for --udp')
    .option(
      '--enable-hop',
      "also start the 'hop' service, which forwards to the next address of a route (off by default, as in Ockam; it reaches only what its sender could reach itself)",
    )
    .option('--configuration <yaml>', 'an inline configuration (YAML or JSON), as in a configuration file')
    .option(
      '--authority-identity <hex>',
      "trust this authority without a project: its exported identity ('ockam identity show NAME --full --encoding hex'); deny by default",
    )
    .option('--authority-route <route>', 'where that authority listens (a multiaddr)')
    .option(
      '--credential-scope <scope>',
      "present the credential stored for the node's identity with this scope ('ockam credential store --scope')",
    )
    .option('--enrollment-ticket <ticket>', "enroll the node's identity with this project ticket first")
    .option(
      '--variable <NAME=VALUE>',
      'a variable of the configuration, before the environment (repeatable)',
      collect,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam node create n1\n  $ ockam node create n2 --tcp-listener-address 127.0.0.1:4000\n  $ ockam node create n3 --foreground' +
        "\n  $ ockam node create --configuration '{name: n4, tcp-outlets: {db: {to: 5432}}}'" +
        '\n\nLimits on what peers of the TCP and WebSocket listeners may hold (environment, read when the node starts; 0 turns a timeout off):' +
        '\n  OCKAM_TRANSPORT_MAX_CONNECTIONS             connections per listener; more are closed at once (1024)' +
        '\n  OCKAM_TRANSPORT_MAX_BUFFERED_BYTES          bytes held for peers per transport, e.g. unfinished frames (67108864)' +
        '\n  OCKAM_TRANSPORT_CONNECTION_ALLOWANCE_BYTES  bytes each connection holds outside that budget (65536)' +
        '\n  OCKAM_TRANSPORT_HANDSHAKE_TIMEOUT_MS        protocol version byte / WebSocket upgrade (10000)' +
        '\n  OCKAM_TRANSPORT_FRAME_TIMEOUT_MS            each started frame (60000)' +
        '\n  OCKAM_TRANSPORT_FIRST_MESSAGE_TIMEOUT_MS    first message on an accepted connection (120000)',
    )
    .action(
      (
        name: string | undefined,
        opts: {
          websocketListenerAddress?: string;
          websocketAllowedOrigin?: string[];
          httpServerAllowedHost?: string[];
          udp?: boolean;
          rendezvous?: string;
          enableHop?: boolean;
          tcpListenerAddress: string;
          foreground?: boolean;
          exitOnEof?: boolean;
          logLevel?: string;
          identity?: string;
          httpServer?: string | true;
          httpServerPort?: string;
          project?: string;
          configuration?: string;
          authorityIdentity?: string;
          authorityRoute?: string;
          credentialScope?: string;
          enrollmentTicket?: string;
          variable?: string[];
        },
      ) =>
        run(async (ctx) => {
          const variables = parseVariables(opts.variable ?? []);
          if (opts.httpServer !== undefined && opts.httpServerPort !== undefined)
            throw new OckamError('node', 'invalid', 'Give --http-server or --http-server-port, not both');
          const httpServer = httpServerAddress(opts.httpServer, opts.httpServerPort);
          // `ockam node create FILE` (a file that exists) or `--configuration '<yaml>'`.
          const isFile = name !== undefined && isFilePath(name);
          if (isFile || opts.configuration !== undefined) {
            for (const [k, v] of variables) process.env[k] = v;
            const { loadConfig } = await import('../config.js');
            const { applyConfig } = await import('./run.js');
            const loaded = isFile ? loadConfig({ file: name! }) : loadConfig({ text: opts.configuration! });
            const first = loaded.nodes[0]!;
            if (!isFile && name !== undefined) first.name = checkCreateName(name);
            // An unnamed node gets a name of its own, so that two nodes from one configuration
            // never share one (as Ockam).
            for (const n of loaded.nodes) n.name ??= randomName();
            const done = await applyConfig(ctx, loaded.nodes, loaded.baseDir, {
              deleteCreatedOnFailure: true,
            });
            ctx.out.result(
              done.map((d) => `✔ ${d}`).join('\n'),
              { done },
              loaded.nodes.map((n) => n.name).join('\n'),
            );
            return;
          }
          if (variables.size > 0)
            throw new OckamError(
              'node',
              'invalid',
              '--variable is for a configuration (--configuration or a file)',
            );
          await createNode(ctx, name === undefined ? undefined : checkCreateName(name), {
            ...opts,
            ...(httpServer ? { httpServer } : { httpServer: undefined }),
            ...(opts.websocketAllowedOrigin ? { websocketAllowedOrigins: opts.websocketAllowedOrigin } : {}),
            ...(opts.httpServerAllowedHost ? { httpServerAllowedHosts: opts.httpServerAllowedHost } : {}),
          });
        }),
    );

  node
    .command('list')
    .description('List nodes')
    .addHelpText('after', '\nExamples:\n  $ ockam node list\n  $ ockam node list --output json')
    .action(() =>
      run(async (ctx) => {
        const nodes = await Promise.all(ctx.state.listNodes().map((n) => listItem(ctx, n)));
        ctx.out.result(
          () =>
            nodes.length === 0
              ? 'No nodes. Create one with: ockam node create n1'
              : table(
                  ['NAME', 'STATUS', 'PID', 'TCP LISTENER', 'DEFAULT'],
                  nodes.map((n) => [
                    n.node_name,
                    n.status.status,
                    n.pid ? String(n.pid) : '-',
                    n.tcpListenerAddress ?? '-',
                    n.is_default ? 'yes' : '',
                  ]),
                ),
          nodes,
          JSON.stringify(nodes, null, 2),
        );
      }),
    );

  node
    .command('show')
    .description('Show a node: status, route, services, portals and connections')
    .argument('[name]', 'node name (default node if omitted)')
    .addHelpText('after', '\nExamples:\n  $ ockam node show n1\n  $ ockam node show n1 --output json')
    .action((name: string | undefined) =>
      run(async (ctx) => {
        // With no node at all there is nothing to show, which is not an error (as Ockam: `[]`).
        if (ctx.state.listNodes().length === 0) {
          ctx.out.result('There are no nodes to show', [], '[]');
          return;
        }
        printResources(ctx, await nodeResources(ctx, nodeOrDefault(ctx, name)));
      }),
    );

  node
    .command('stop')
    .description('Stop a running node (its state is kept; start it again with `node start`)')
    .argument('[name]', 'node name (default node if omitted)')
    .option('-f, --force', 'deprecated, as in Ockam: a node that does not stop in 10 s is killed anyway')
    .addHelpText('after', '\nExamples:\n  $ ockam node stop n1')
    .action((name: string | undefined) =>
      run(async (ctx) => {
        const record = nodeOrDefault(ctx, name);
        if (!record.pid || !(await isNodeRunning(ctx.home, record)))
          throw new OckamError('node', 'invalid', `Node ${record.name} is not running`);
        const how = await stopNodeProcess(record.pid);
        ctx.out.result(`Node ${record.name} was stopped`, { name: record.name, status: 'stopped', how });
      }),
    );

  node
    .command('start')
    .description('Start a stopped node again, on the TCP listener address it had')
    .argument('[name]', 'node name (default node if omitted)')
    .addHelpText('after', '\nExamples:\n  $ ockam node start n1')
    .action((name: string | undefined) =>
      run(async (ctx) => {
        const record = nodeOrDefault(ctx, name);
        if (await isNodeRunning(ctx.home, record))
          throw new OckamError(
            'node',
            'invalid',
            `Node ${record.name} is already running on ${record.tcpListenerAddress}`,
          );
        const ready = await spawnNode(ctx.home, record.name, {
          ...storedSpawnOptions(record),
          ...(record.tcpListenerAddress ? { tcpListenerAddress: record.tcpListenerAddress } : {}),
        });
        const r = await nodeResources(ctx, ctx.state.requireNode(record.name));
        printResources(ctx, r, `Node ${record.name} started on ${ready.tcpListenerAddress}`);
      }),
    );

  node
    .command('delete')
    .description('Stop and delete a node and its state (foreground nodes of this home too)')
    .argument('[name]', 'node name (default node if omitted)')
    .option('-a, --all', 'delete every node')
    .option('-f, --force', 'deprecated, as in Ockam: a node that does not stop in 10 s is killed anyway')
    .option('-y, --yes', 'do not ask for confirmation (deleting never asks when stdin is not a terminal)')
    .addHelpText('after', '\nExamples:\n  $ ockam node delete n1\n  $ ockam node delete --all')
    .action((name: string | undefined, opts: { all?: boolean }) =>
      run(async (ctx) => {
        const targets = opts.all ? ctx.state.listNodes() : [nodeOrDefault(ctx, name)];
        for (const t of targets) {
          await stopIfRunning(t);
          ctx.state.deleteNode(t.name);
          rmSync(ctx.home.nodeDir(t.name), { recursive: true, force: true });
        }
        const names = targets.map((t) => t.name);
        ctx.out.result(
          names.length ? `Deleted ${names.map((n) => `node ${n}`).join(', ')}` : 'No nodes to delete',
          { deleted: names },
        );
      }),
    );

  node
    .command('logs')
    .description("Print a node's log; with --follow keep printing new lines (across rotations) until Ctrl-C")
    .argument('[name]', 'node name (default node if omitted)')
    .option('-n, --lines <n>', 'only the last N lines')
    .option('-f, --follow', 'keep printing lines as they are written')
    .addHelpText('after', '\nExamples:\n  $ ockam node logs n1\n  $ ockam node logs n1 -n 20 --follow')
    .action((name: string | undefined, opts: { lines?: string; follow?: boolean }) =>
      run(async (ctx) => {
        const record = name ? ctx.requireNode(name) : ctx.state.defaultNode();
        if (!record) throw new OckamError('node', 'not-found', 'There is no default node');
        const path = ctx.home.logPath(record.name);
        const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
        let lines = text.split('\n').filter((l) => l !== '');
        if (opts.lines) {
          const n = Number(opts.lines);
          if (!Number.isInteger(n) || n < 0)
            throw new OckamError('node', 'invalid', `Invalid line count '${opts.lines}'`);
          lines = lines.slice(-n);
        }
        ctx.out.result(lines.join('\n'), { path, lines });
        if (opts.follow) await follow(path, Buffer.byteLength(text));
      }),
    );

  node
    .command('default')
    .description('Show the default node, or make NAME the default')
    .argument('[name]', 'node to make the default')
    .addHelpText('after', '\nExamples:\n  $ ockam node default\n  $ ockam node default n2')
    .action((name: string | undefined) =>
      run(async (ctx) => {
        if (name) ctx.state.setDefaultNode(name);
        const d = ctx.state.defaultNode();
        ctx.out.result(d ? `The default node is ${d.name}` : 'There is no default node', {
          default: d?.name ?? null,
        });
      }),
    );
}

/** Prints what is appended to `path` from `offset` on, reopening it when it is rotated. Never returns. */
async function follow(path: string, offset: number): Promise<never> {
  let position = offset;
  let inode = existsSync(path) ? statSync(path).ino : 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    if (!existsSync(path)) continue;
    const st = statSync(path);
    if (st.ino !== inode || st.size < position) {
      inode = st.ino;
      position = 0;
    }
    if (st.size > position) {
      const fd = openSync(path, 'r');
      const buf = Buffer.alloc(st.size - position);
      readSync(fd, buf, 0, buf.length, position);
      closeSync(fd);
      position = st.size;
      process.stdout.write(buf);
    }
  }
}

export interface CreateNodeOptions {
  tcpListenerAddress: string;
  foreground?: boolean;
  /** With `foreground`: stop the node when stdin ends. */
  exitOnEof?: boolean;
  logLevel?: string;
  identity?: string;
  httpServer?: string | undefined;
  project?: string;
  websocketListenerAddress?: string;
  websocketAllowedOrigins?: string[];
  httpServerAllowedHosts?: string[];
  udp?: boolean;
  rendezvous?: string;
  rendezvousService?: string;
  /** Start the `hop` service (kept in the node's state: `node start` starts it again). */
  enableHop?: boolean;
  /** Trust options (`--authority-identity`, …): see `createTrustOptions` in project.ts. */
  authorityIdentity?: string;
  authorityRoute?: string;
  credentialScope?: string;
  enrollmentTicket?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** `{ [key]: list }` when a stored node option is a list of strings, for `node start`. */
function stringList<K extends string>(options: Record<string, unknown>, key: K): { [k in K]?: string[] } {
  const v = options[key];
  return Array.isArray(v) && v.every((x) => typeof x === 'string')
    ? ({ [key]: v } as { [k in K]: string[] })
    : {};
}

/** What a node was created with, for starting it again. */
function storedSpawnOptions(record: NodeRecord): SpawnNodeOptions {
  const o = record.options;
  const logLevel = typeof o.logLevel === 'string' ? parseLogLevel(o.logLevel, 'info') : undefined;
  return {
    ...(typeof o.identity === 'string' ? { identity: o.identity } : {}),
    ...(typeof o.httpServer === 'string' ? { httpServer: o.httpServer } : {}),
    ...(typeof o.websocketListenerAddress === 'string'
      ? { websocketListenerAddress: o.websocketListenerAddress }
      : {}),
    ...stringList(o, 'websocketAllowedOrigins'),
    ...stringList(o, 'httpServerAllowedHosts'),
    ...(o.udp === true ? { udp: true } : {}),
    ...(typeof o.rendezvous === 'string' ? { rendezvous: o.rendezvous } : {}),
    ...(typeof o.rendezvousService === 'string' ? { rendezvousService: o.rendezvousService } : {}),
    ...(logLevel ? { logLevel } : {}),
  };
}

/** `--http-server` (a switch, or our `[host:]port`) and Ockam's `--http-server-port PORT`, as an address. */
function httpServerAddress(flag: string | true | undefined, port: string | undefined): string | undefined {
  if (port !== undefined) {
    const n = Number(port);
    if (!/^\d+$/.test(port) || n > 65535)
      throw new OckamError('node', 'invalid', `Invalid --http-server-port '${port}': a port, 0-65535`);
    return `127.0.0.1:${n}`;
  }
  if (flag === undefined) return undefined;
  if (flag === true) return '127.0.0.1:0';
  const address = /^\d+$/.test(flag) ? `127.0.0.1:${flag}` : flag;
  parseHostPort(address);
  return address;
}

/** `--variable NAME=VALUE`s; an empty value is refused (as Ockam, in its words). */
function parseVariables(items: string[]): Map<string, string> {
  const vars = new Map<string, string>();
  for (const item of items) {
    const i = item.indexOf('=');
    if (i <= 0) throw new OckamError('node', 'invalid', `Invalid variable '${item}': use NAME=VALUE`);
    const key = item.slice(0, i);
    const value = item.slice(i + 1);
    if (value === '') throw new OckamError('node', 'invalid', `Empty value for variable '${key}'`);
    if (vars.has(key)) throw new OckamError('node', 'invalid', `The variable ${key} is given twice`);
    vars.set(key, value);
  }
  return vars;
}

/** Whether `node create`'s argument names a configuration file rather than a node. */
function isFilePath(name: string): boolean {
  try {
    return statSync(name).isFile();
  } catch {
    return false;
  }
}

function checkCreateName(name: string): string {
  if (!CREATE_NAME.test(name))
    throw new OckamError(
      'node',
      'invalid',
      `Invalid node name '${name}': use 1-64 letters, digits, '_' or '-', starting with a letter or digit (or give a configuration file that exists)`,
    );
  return validateNodeName(name);
}

/** `ockam node create`, also used by configuration files. */
export async function createNode(
  ctx: CliContext,
  name: string | undefined,
  opts: CreateNodeOptions,
): Promise<void> {
  const nodeName = validateNodeName(name ?? randomName());
  parseHostPort(opts.tcpListenerAddress);
  // Precedence: --log-level, then -v, then OCKAM_LOG_LEVEL (read by the node), then info.
  const logLevel =
    opts.logLevel || ctx.out.verbose ? resolveLogLevel(opts.logLevel, ctx.out.verbose) : undefined;
  const existing = ctx.state.getNode(nodeName);
  if (existing && (await isNodeRunning(ctx.home, existing))) {
    throw new OckamError(
      'node',
      'already-exists',
      `Node ${nodeName} already exists and is running on ${existing.tcpListenerAddress}`,
    );
  }
  // The identity must exist before the node starts (the default one is created here if needed).
  const identity = (await ctx.identities.ensureIdentity(opts.identity)).name;
  if (opts.httpServer) parseHostPort(opts.httpServer);
  // Loaded here, not at the top: project.ts brings identities and the node library, which
  // `node list` and `node show` must not pay for at startup.
  const { nodeTrustOptions } = await import('./project.js');
  const trust = await nodeTrustOptions(ctx, identity, opts);
  const options = {
    identity,
    ...trust,
    ...(logLevel ? { logLevel } : {}),
    ...(opts.httpServer ? { httpServer: opts.httpServer } : {}),
    ...(opts.websocketListenerAddress ? { websocketListenerAddress: opts.websocketListenerAddress } : {}),
    ...(opts.websocketAllowedOrigins?.length
      ? { websocketAllowedOrigins: opts.websocketAllowedOrigins }
      : {}),
    ...(opts.httpServerAllowedHosts?.length ? { httpServerAllowedHosts: opts.httpServerAllowedHosts } : {}),
    ...(opts.udp ? { udp: true } : {}),
    ...(opts.rendezvous ? { rendezvous: opts.rendezvous } : {}),
    ...(opts.rendezvousService ? { rendezvousService: opts.rendezvousService } : {}),
    ...(opts.enableHop ? { enableHop: true } : {}),
  };
  // A node that exists but is not running (stopped, killed, or its machine restarted) is created
  // again with the options given now, keeping its resources, as Ockam does.
  if (existing) ctx.state.setNodeOptions(nodeName, { ...existing.options, ...options });
  else ctx.state.createNode(nodeName, options);
  const spawnOptions: SpawnNodeOptions = {
    tcpListenerAddress: opts.tcpListenerAddress,
    identity,
    ...(logLevel ? { logLevel } : {}),
    ...(opts.httpServer ? { httpServer: opts.httpServer } : {}),
    ...(opts.websocketListenerAddress ? { websocketListenerAddress: opts.websocketListenerAddress } : {}),
    ...(opts.websocketAllowedOrigins ? { websocketAllowedOrigins: opts.websocketAllowedOrigins } : {}),
    ...(opts.httpServerAllowedHosts ? { httpServerAllowedHosts: opts.httpServerAllowedHosts } : {}),
    ...(opts.udp ? { udp: true } : {}),
    ...(opts.rendezvous ? { rendezvous: opts.rendezvous } : {}),
    ...(opts.rendezvousService ? { rendezvousService: opts.rendezvousService } : {}),
  };
  if (opts.foreground) {
    ctx.close();
    const code = await runForegroundNode(ctx.home, nodeName, {
      ...spawnOptions,
      ...(opts.exitOnEof ? { exitOnEof: true } : {}),
    });
    if (code !== 0) throw new OckamError('node', 'internal', `Node ${nodeName} exited with code ${code}`);
    return;
  }
  try {
    const ready = await spawnNode(ctx.home, nodeName, spawnOptions);
    const r = await nodeResources(ctx, ctx.state.requireNode(nodeName));
    ctx.out.result(`Node ${nodeName} created and running on ${ready.tcpListenerAddress}`, r, nodeName);
  } catch (e) {
    if (!existing) ctx.state.deleteNode(nodeName);
    throw e;
  }
}

import { closeSync, existsSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { OckamError, parseHostPort } from '@ockam/core';
import {
  isNodeProcess,
  isNodeRunning,
  parseLogLevel,
  resolveLogLevel,
  spawnNode,
  stopNodeProcess,
} from '@ockam/daemon';
import type { NodeStatus } from '@ockam/node/control';
import { type NodeRecord, validateNodeName } from '@ockam/state';
import { type Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { table } from '../output.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

function randomName(): string {
  return `node-${Math.random().toString(16).slice(2, 8)}`;
}

async function describe(ctx: CliContext, n: NodeRecord) {
  const running = await isNodeRunning(ctx.home, n);
  return {
    name: n.name,
    status: running ? 'running' : 'stopped',
    pid: running ? n.pid : null,
    tcpListenerAddress: n.tcpListenerAddress,
    default: n.isDefault,
  };
}

export function registerNodeCommands(program: Command, run: Run): void {
  const node = program.command('node').description('Create and manage Ockam nodes');

  node
    .command('create')
    .description(
      'Create a node and start it in the background, with a TCP listener and the standard services (echo, uppercase)',
    )
    .argument('[name]', 'node name (random if omitted)')
    .addOption(
      new Option('-t, --tcp-listener-address <host:port>', 'address of the TCP listener').default(
        '127.0.0.1:0',
      ),
    )
    .option('-f, --foreground', 'run the node in this process, logging to stderr, until Ctrl-C')
    .option('--log-level <level>', 'trace, debug, info, warn, error or off')
    .option(
      '--identity <name>',
      'identity the node presents in secure channels (default identity if omitted)',
    )
    .option(
      '--http-server <[host:]port>',
      'serve /health, /show and Prometheus /metrics over HTTP on this address',
    )
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
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam node create n1\n  $ ockam node create n2 --tcp-listener-address 127.0.0.1:4000\n  $ ockam node create n3 --foreground' +
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
          logLevel?: string;
          identity?: string;
          httpServer?: string;
          project?: string;
          configuration?: string;
          authorityIdentity?: string;
          authorityRoute?: string;
          credentialScope?: string;
          enrollmentTicket?: string;
        },
      ) =>
        run(async (ctx) => {
          // `ockam node create FILE.yaml` or `--configuration '<yaml>'`: a node from a configuration.
          const isFile =
            name !== undefined &&
            (/\.(ya?ml|json)$/.test(name) || (existsSync(name) && !validNodeName(name)));
          if (isFile || opts.configuration !== undefined) {
            const { loadConfig } = await import('../config.js');
            const { applyConfig } = await import('./run.js');
            const loaded = isFile ? loadConfig({ file: name! }) : loadConfig({ text: opts.configuration! });
            if (!isFile && name !== undefined) loaded.nodes[0]!.name ??= name;
            const done = await applyConfig(ctx, loaded.nodes, loaded.baseDir);
            ctx.out.result(done.map((d) => `✔ ${d}`).join('\n'), { done });
            return;
          }
          await createNode(ctx, name, {
            ...opts,
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
        const nodes = await Promise.all(ctx.state.listNodes().map((n) => describe(ctx, n)));
        ctx.out.result(
          () =>
            nodes.length === 0
              ? 'No nodes. Create one with: ockam node create n1'
              : table(
                  ['NAME', 'STATUS', 'PID', 'TCP LISTENER', 'DEFAULT'],
                  nodes.map((n) => [
                    n.name,
                    n.status,
                    n.pid ? String(n.pid) : '-',
                    n.tcpListenerAddress ?? '-',
                    n.default ? 'yes' : '',
                  ]),
                ),
          nodes,
        );
      }),
    );

  node
    .command('show')
    .description('Show a node: status, listener, services and connections')
    .argument('[name]', 'node name (default node if omitted)')
    .addHelpText('after', '\nExamples:\n  $ ockam node show n1\n  $ ockam node show n1 --output json')
    .action((name: string | undefined) =>
      run(async (ctx) => {
        const record = name ? ctx.requireNode(name) : ctx.state.defaultNode();
        if (!record)
          throw new OckamError(
            'node',
            'not-found',
            "There is no default node; create one with 'ockam node create'",
          );
        const d = await describe(ctx, record);
        let status: NodeStatus | undefined;
        if (d.status === 'running') status = await ctx.client(record.name).call('status', {});
        const json = {
          ...d,
          identifier: status?.identifier ?? null,
          httpServerAddress: status?.httpServerAddress ?? null,
          websocketListenerAddress: status?.websocketListenerAddress ?? null,

          services: status?.services ?? [],
          tcpConnections: status?.tcpConnections ?? [],
          logPath: ctx.home.logPath(record.name),
        };
        ctx.out.result(
          () =>
            [
              `Node:         ${d.name}${d.default ? ' (default)' : ''}`,
              `Status:       ${d.status}${d.pid ? ` (pid ${d.pid})` : ''}`,
              `TCP listener: ${d.tcpListenerAddress ?? '-'}`,
              `Identifier:   ${json.identifier ?? '-'}`,
              `Services:     ${json.services.join(', ') || '-'}`,
              `Connections:  ${json.tcpConnections.map((c) => `${c.peer} via ${c.senderAddress}`).join(', ') || '-'}`,
              `Logs:         ${json.logPath}`,
            ].join('\n'),
          json,
          // Piped, Ockam prints a node as JSON (`"status": "running"`): so do we.
          JSON.stringify(json, null, 2),
        );
      }),
    );

  node
    .command('stop')
    .description('Stop a running node (its state is kept; start it again with `node start`)')
    .argument('[name]', 'node name (default node if omitted)')
    .addHelpText('after', '\nExamples:\n  $ ockam node stop n1')
    .action((name: string | undefined) =>
      run(async (ctx) => {
        const record = name ? ctx.requireNode(name) : ctx.state.defaultNode();
        if (!record) throw new OckamError('node', 'not-found', 'There is no default node');
        if (!record.pid || !(await isNodeRunning(ctx.home, record)))
          throw new OckamError('node', 'invalid', `Node ${record.name} is not running`);
        const how = await stopNodeProcess(record.pid);
        ctx.out.result(`Node ${record.name} stopped`, { name: record.name, status: 'stopped', how });
      }),
    );

  node
    .command('start')
    .description('Start a stopped node again, on the TCP listener address it had')
    .argument('[name]', 'node name (default node if omitted)')
    .addHelpText('after', '\nExamples:\n  $ ockam node start n1')
    .action((name: string | undefined) =>
      run(async (ctx) => {
        const record = name ? ctx.requireNode(name) : ctx.state.defaultNode();
        if (!record) throw new OckamError('node', 'not-found', 'There is no default node');
        if (await isNodeRunning(ctx.home, record))
          throw new OckamError(
            'node',
            'invalid',
            `Node ${record.name} is already running on ${record.tcpListenerAddress}`,
          );
        const logLevel =
          typeof record.options.logLevel === 'string'
            ? parseLogLevel(record.options.logLevel, 'info')
            : undefined;
        const ready = await spawnNode(ctx.home, record.name, {
          ...(typeof record.options.identity === 'string' ? { identity: record.options.identity } : {}),
          ...(typeof record.options.httpServer === 'string' ? { httpServer: record.options.httpServer } : {}),
          ...(typeof record.options.websocketListenerAddress === 'string'
            ? { websocketListenerAddress: record.options.websocketListenerAddress }
            : {}),
          ...stringList(record.options, 'websocketAllowedOrigins'),
          ...stringList(record.options, 'httpServerAllowedHosts'),
          ...(record.options.udp === true ? { udp: true } : {}),
          ...(typeof record.options.rendezvous === 'string' ? { rendezvous: record.options.rendezvous } : {}),
          ...(typeof record.options.rendezvousService === 'string'
            ? { rendezvousService: record.options.rendezvousService }
            : {}),

          ...(record.tcpListenerAddress ? { tcpListenerAddress: record.tcpListenerAddress } : {}),
          ...(logLevel ? { logLevel } : {}),
        });
        ctx.out.result(`Node ${record.name} started on ${ready.tcpListenerAddress}`, {
          name: record.name,
          status: 'running',
          pid: ready.pid,
          tcpListenerAddress: ready.tcpListenerAddress,
        });
      }),
    );

  node
    .command('delete')
    .description('Stop and delete a node and its state')
    .argument('[name]', 'node name (default node if omitted)')
    .option('-a, --all', 'delete every node')
    .option('-y, --yes', 'do not ask for confirmation (deleting never asks when stdin is not a terminal)')
    .addHelpText('after', '\nExamples:\n  $ ockam node delete n1\n  $ ockam node delete --all')
    .action((name: string | undefined, opts: { all?: boolean }) =>
      run(async (ctx) => {
        let targets: NodeRecord[];
        if (opts.all) targets = ctx.state.listNodes();
        else {
          const record = name ? ctx.requireNode(name) : ctx.state.defaultNode();
          if (!record) throw new OckamError('node', 'not-found', 'There is no default node');
          targets = [record];
        }
        for (const t of targets) {
          if (t.pid && isNodeProcess(t.pid, t.name)) await stopNodeProcess(t.pid);
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
  logLevel?: string;
  identity?: string;
  httpServer?: string;
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
  if (existing)
    throw new OckamError(
      'node',
      'already-exists',
      `Node ${nodeName} already exists; start it with 'ockam node start ${nodeName}'`,
    );
  // The identity must exist before the node starts (the default one is created here if needed).
  const identity = (await ctx.identities.ensureIdentity(opts.identity)).name;
  if (opts.httpServer) parseHostPort(opts.httpServer);
  // Loaded here, not at the top: project.ts brings identities and the node library, which
  // `node list` and `node show` must not pay for at startup.
  const { nodeTrustOptions } = await import('./project.js');
  const trust = await nodeTrustOptions(ctx, identity, opts);
  ctx.state.createNode(nodeName, {
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
  });
  if (opts.foreground) {
    ctx.close();
    const args = [
      '--name',
      nodeName,
      '--home',
      ctx.home.root,
      '--foreground',
      '--tcp-listener-address',
      opts.tcpListenerAddress,
      '--identity',
      identity,
    ];
    if (opts.httpServer) args.push('--http-server', opts.httpServer);
    if (opts.websocketListenerAddress)
      args.push('--websocket-listener-address', opts.websocketListenerAddress);
    for (const o of opts.websocketAllowedOrigins ?? []) args.push('--websocket-allowed-origin', o);
    for (const h of opts.httpServerAllowedHosts ?? []) args.push('--http-server-allowed-host', h);
    if (opts.udp) args.push('--udp');
    if (opts.rendezvous) args.push('--rendezvous', opts.rendezvous);
    if (opts.rendezvousService) args.push('--rendezvous-service', opts.rendezvousService);
    if (logLevel) args.push('--log-level', logLevel);
    // The node runtime (transports, channels, portals) is loaded only for a foreground node.
    const { runDaemon } = await import('@ockam/daemon');
    await runDaemon(args);
    await new Promise(() => {}); // the daemon exits the process on SIGINT/SIGTERM
  }
  try {
    const ready = await spawnNode(ctx.home, nodeName, {
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
    });
    ctx.out.result(`Node ${nodeName} created and running on ${ready.tcpListenerAddress}`, {
      name: nodeName,
      status: 'running',
      pid: ready.pid,
      tcpListenerAddress: ready.tcpListenerAddress,
    });
  } catch (e) {
    ctx.state.deleteNode(nodeName);
    throw e;
  }
}

function validNodeName(name: string): boolean {
  try {
    validateNodeName(name);
    return true;
  } catch {
    return false;
  }
}

import { existsSync, readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { isNodeProcess, isNodeRunning, spawnNode, stopNodeProcess } from '@ockam/daemon';
import type { Command } from 'commander';
import { loadConfig, type NodeConfig } from '../config.js';
import type { CliContext } from '../context.js';
import { KAFKA_DEFAULT_BOOTSTRAP_SERVER, kafkaHostPort, kafkaInletConfig } from './kafka.js';
import { createNode } from './node.js';
import { expandInletTo } from './portals.js';
import { enrollTicket } from './project.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

function hostPort(v: string): string {
  return /^\d+$/.test(v) ? `127.0.0.1:${v}` : v;
}

/**
 * Brings nodes up as a configuration describes (it was fully checked before this runs). With
 * `deleteCreatedOnFailure` (`node create --configuration`, as Ockam), a failure stops and deletes
 * the nodes this call created before it rethrows.
 */
export async function applyConfig(
  ctx: CliContext,
  nodes: NodeConfig[],
  baseDir: string,
  options: { deleteCreatedOnFailure?: boolean } = {},
): Promise<string[]> {
  const created: string[] = [];
  try {
    return await applyNodes(ctx, nodes, baseDir, created);
  } catch (e) {
    if (options.deleteCreatedOnFailure) {
      for (const name of created) {
        const record = ctx.state.getNode(name);
        if (record?.pid && isNodeProcess(record.pid, name)) await stopNodeProcess(record.pid);
        if (record) ctx.state.deleteNode(name);
        rmSync(ctx.home.nodeDir(name), { recursive: true, force: true });
      }
    }
    throw e;
  }
}

async function applyNodes(
  ctx: CliContext,
  nodes: NodeConfig[],
  baseDir: string,
  created: string[],
): Promise<string[]> {
  const done: string[] = [];
  for (const n of nodes) {
    if (n.ticket) {
      const path = resolve(baseDir, n.ticket);
      const ticket = existsSync(path) ? readFileSync(path, 'utf8').trim() : n.ticket;
      const { project } = await enrollTicket(ctx, ticket, n.identity);
      done.push(`enrolled in project ${project.name}`);
    }
    const name = n.name ?? 'default';
    const existing = ctx.state.getNode(name);
    if (!existing) {
      await ctx.out.muted(() =>
        createNode(ctx, name, {
          tcpListenerAddress: n.tcpListenerAddress ? hostPort(n.tcpListenerAddress) : '127.0.0.1:0',
          ...(n.identity ? { identity: n.identity } : {}),
          ...(n.httpServer ? { httpServer: hostPort(n.httpServer) } : {}),
          ...(n.project ? { project: n.project } : {}),
        }),
      );
      created.push(name);
      done.push(`node ${name} created`);
    } else if (!(await isNodeRunning(ctx.home, existing))) {
      await spawnNode(
        ctx.home,
        name,
        existing.tcpListenerAddress ? { tcpListenerAddress: existing.tcpListenerAddress } : {},
      );
      done.push(`node ${name} started`);
    }
    const api = ctx.client(name);
    for (const p of n.policies) {
      const at = p.at ? ctx.client(p.at) : api;
      await at.call('setPolicy', {
        ...(p.resource ? { resource: p.resource } : { resourceType: p.resourceType! }),
        expression: p.expression,
      });
      done.push(`policy for ${p.resource ?? p.resourceType}`);
    }
    for (const o of n.outlets) {
      await api.call('createOutlet', {
        address: o.from,
        to: hostPort(o.to),
        ...(o.allow ? { allow: o.allow } : {}),
      });
      done.push(`tcp outlet ${o.name} → ${hostPort(o.to)}`);
    }
    for (const k of n.kafkaOutlets) {
      const f = k.flags;
      const at = typeof f.at === 'string' ? ctx.client(f.at) : api;
      const o = await at.call('createKafkaOutlet', {
        addr: k.addr,
        bootstrapServer: kafkaHostPort(
          (f['bootstrap-server'] as string | undefined) ?? KAFKA_DEFAULT_BOOTSTRAP_SERVER,
        ),
        ...(f.tls === true ? { tls: true } : {}),
        ...(typeof f.allow === 'string' ? { allow: f.allow } : {}),
      });
      done.push(`kafka outlet ${k.addr} → ${o.bootstrapServer}`);
    }
    for (const r of n.relays) {
      await api.call('createRelay', { name: r.name, at: r.at ?? '/project/default' });
      done.push(`relay ${r.name}`);
    }
    for (const i of n.inlets) {
      await api.call('createInlet', {
        name: i.name,
        from: hostPort(i.from),
        to: expandInletTo(i.to, i.via, undefined),
        ...(i.allow ? { allow: i.allow } : {}),
        ...(i.authorized ? { authorized: i.authorized } : {}),
      });
      done.push(`tcp inlet ${i.name} on ${hostPort(i.from)}`);
    }
    for (const k of n.kafkaInlets) {
      const f = k.flags;
      const text = (flag: string) => (typeof f[flag] === 'string' ? (f[flag] as string) : undefined);
      const config = kafkaInletConfig({
        addr: k.addr,
        ...optional('from', text('from')),
        ...optional('brokersPortRange', text('brokers-port-range')),
        ...optional('to', text('to')),
        ...optional('consumer', text('consumer')),
        ...optional('consumerRelay', text('consumer-relay')),
        ...optional('publishingRelay', text('publishing-relay')),
        ...(f['avoid-publishing'] === true ? { avoidPublishing: true } : {}),
        ...(f['disable-content-encryption'] === true ? { disableContentEncryption: true } : {}),
        ...(Array.isArray(f['encrypted-field']) ? { encryptedField: f['encrypted-field'] } : {}),
        ...optional('allow', text('allow')),
        ...optional('allowConsumer', text('allow-consumer')),
        ...optional('allowProducer', text('allow-producer')),
      });
      const at = text('at') !== undefined ? ctx.client(text('at')!) : api;
      const i = await at.call('createKafkaInlet', config, { timeoutMs: 120_000 });
      done.push(`kafka inlet ${k.addr} on ${i.from}`);
    }
  }
  return done;
}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}

export function registerRunCommand(program: Command, run: Run): void {
  program
    .command('run')
    .description('Bring up the nodes, relays, policies, inlets and outlets a configuration file describes')
    .argument('[file]', 'YAML or JSON configuration (default: ockam.yaml)')
    .option('--inline <contents>', 'the configuration itself (YAML or JSON) instead of a file')
    .option(
      '--blocking',
      'stay until every node of the configuration has exited; Ctrl-C or SIGTERM stops them (for containers)',
    )
    .addHelpText(
      'after',
      "\nExamples:\n  $ ockam run portal.yaml\n  $ PG_PORT=5433 ockam run db.yaml     # environment variables override variables:\n  $ ockam run --inline '{name: n1, tcp-outlets: {db: {to: 5432}}}' --blocking",
    )
    .action((file: string | undefined, opts: { inline?: string; blocking?: boolean }) =>
      run(async (ctx) => {
        if (file !== undefined && opts.inline !== undefined)
          throw new Error('Give a configuration file or --inline, not both');
        const { nodes, baseDir } =
          opts.inline !== undefined
            ? loadConfig({ text: opts.inline })
            : loadConfig({ file: file ?? 'ockam.yaml' });
        const done = await applyConfig(ctx, nodes, baseDir);
        ctx.out.result(done.map((d) => `✔ ${d}`).join('\n'), { file: file ?? null, done });
        if (opts.blocking) await blockUntilExited(ctx, [...new Set(nodes.map((n) => n.name ?? 'default'))]);
      }),
    );
}

/**
 * `run --blocking`, as Ockam's: waits until none of `names` runs any more, and passes Ctrl-C and
 * SIGTERM on to them (each is stopped), so a container's main process lives as long as its nodes.
 */
async function blockUntilExited(ctx: CliContext, names: string[]): Promise<void> {
  const pids = (): number[] =>
    names.flatMap((n) => {
      const pid = ctx.state.getNode(n)?.pid;
      return pid && isNodeProcess(pid, n) ? [pid] : [];
    });
  let stopping = false;
  const stopAll = () => {
    if (stopping) return;
    stopping = true;
    for (const pid of pids()) void stopNodeProcess(pid).catch(() => {});
  };
  process.on('SIGINT', stopAll);
  process.on('SIGTERM', stopAll);
  try {
    // Our nodes are not our children, so there is no exit event to wait on: look every 250 ms.
    while (pids().length > 0) await new Promise((r) => setTimeout(r, 250));
  } finally {
    process.off('SIGINT', stopAll);
    process.off('SIGTERM', stopAll);
  }
}

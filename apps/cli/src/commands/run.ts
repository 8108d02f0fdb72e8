import { existsSync, readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { isNodeProcess, isNodeRunning, spawnNode, stopNodeProcess } from '@ockam/daemon';
import type { Command } from 'commander';
import { loadConfig, type NodeConfig } from '../config.js';
import type { CliContext } from '../context.js';
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
  }
  return done;
}

export function registerRunCommand(program: Command, run: Run): void {
  program
    .command('run')
    .description('Bring up the nodes, relays, policies, inlets and outlets a configuration file describes')
    .argument('[file]', 'YAML or JSON configuration', 'ockam.yaml')
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam run portal.yaml\n  $ PG_PORT=5433 ockam run db.yaml     # environment variables override variables:',
    )
    .action((file: string) =>
      run(async (ctx) => {
        const { nodes, baseDir } = loadConfig({ file });
        const done = await applyConfig(ctx, nodes, baseDir);
        ctx.out.result(done.map((d) => `✔ ${d}`).join('\n'), { file, done });
      }),
    );
}

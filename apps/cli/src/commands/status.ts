import { isNodeRunning } from '@ockam/daemon';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { parseDuration } from '../output.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

export function registerStatusCommand(program: Command, run: Run): void {
  program
    .command('status')
    .description('Show every node with its listeners, connections, secure channels and their health')
    .option('--timeout <duration>', 'how long to wait for each node to answer (e.g. 500ms, 10s)', '5s')
    .addHelpText('after', '\nExamples:\n  $ ockam status\n  $ ockam status --output json --timeout 10s')
    .action((opts: { timeout: string }) =>
      run(async (ctx) => {
        const timeoutMs = parseDuration(opts.timeout);
        const identities = ctx.identities
          .listIdentities()
          .map((i) => ({ name: i.name, identifier: i.identifier, default: i.isDefault }));
        const nodes = await Promise.all(
          ctx.state.listNodes().map(async (n) => {
            if (!(await isNodeRunning(ctx.home, n)))
              return { name: n.name, status: 'stopped' as const, tcpListenerAddress: n.tcpListenerAddress };
            const c = ctx.client(n.name);
            try {
              const [s, ch, ls] = await Promise.all([
                c.call('status', {}, { timeoutMs }),
                c.call('listSecureChannels', {}, { timeoutMs }),
                c.call('listSecureChannelListeners', {}, { timeoutMs }),
              ]);
              return {
                ...s,
                status: 'running' as const,
                secureChannelList: ch.channels,
                secureChannelListeners: ls.listeners,
              };
            } catch (e) {
              return {
                name: n.name,
                status: 'unresponsive' as const,
                error: (e as Error).message,
                tcpListenerAddress: n.tcpListenerAddress,
              };
            }
          }),
        );
        ctx.out.result(
          () => {
            const lines: string[] = [];
            lines.push(
              `Identities: ${identities.map((i) => `${i.name}${i.default ? '*' : ''} ${i.identifier}`).join(', ') || 'none'}`,
            );
            if (nodes.length === 0) lines.push('Nodes: none (create one with: ockam node create n1)');
            for (const n of nodes) {
              lines.push('', `Node ${n.name}: ${n.status}`);
              if (n.status !== 'running') {
                if ('error' in n) lines.push(`  ${n.error}`);
                continue;
              }
              lines.push(
                `  TCP listener    ${n.tcpListenerAddress}   identifier ${n.identifier}   uptime ${Math.round(n.uptimeMs / 1000)} s`,
              );
              if (n.httpServerAddress) lines.push(`  HTTP status     http://${n.httpServerAddress}/health`);
              lines.push(`  Services        ${n.services.join(', ')}`);
              lines.push(
                `  Listeners       ${n.secureChannelListeners.map((l) => `${l.address} (${l.channels} channels)`).join(', ')}`,
              );
              lines.push(
                `  TCP connections ${n.tcpConnections.length ? n.tcpConnections.map((t) => t.peer).join(', ') : '-'}`,
              );
              lines.push(
                `  Secure channels ${n.secureChannelList.length ? n.secureChannelList.map((c) => `/service/${c.address} → ${c.peerIdentifier.slice(0, 12)}…${c.isOpen ? '' : ' (closed)'}`).join(', ') : '-'}`,
              );
            }
            return lines.join('\n');
          },
          { identities, nodes },
        );
      }),
    );
}

/**
 * Nodes under attack: `ockam` daemons in their own processes, each in its own OCKAM_HOME, and the
 * measurements every attack test asserts on: the node still answers within a second, its memory
 * stays under a bound, and its log says why it refused, once.
 */
import { readFileSync } from 'node:fs';
import { controlRequest, OckamEnv, rssOf } from '@ockam/hardening/ockam';

export { OckamEnv, rssOf };

export interface RunningNode {
  readonly env: OckamEnv;
  readonly name: string;
  readonly pid: number;
  /** The node's TCP listener, `host:port`. */
  readonly tcpListenerAddress: string;
}

/**
 * Creates and starts a node; `args` go to `ockam node create NAME …`, `variables` to its
 * environment (the daemon inherits it: `OCKAM_…` limits).
 */
export async function startNode(
  env: OckamEnv,
  name: string,
  args: readonly string[] = [],
  variables: Record<string, string> = {},
): Promise<RunningNode> {
  const created = await env.run(['node', 'create', name, ...args], { timeoutMs: 120_000, env: variables });
  if (created.code !== 0)
    throw new Error(`ockam node create ${name} exited ${created.code}: ${created.stderr.trim()}`);
  const shown = await env.json<{ pid: number; tcpListenerAddress: string }>(['node', 'show', name]);
  return { env, name, pid: shown.pid, tcpListenerAddress: shown.tcpListenerAddress };
}

/**
 * How long the node takes to route one message to its own `echo` service and back, asked over its
 * control socket: a stalled router or event loop shows here. Rejects if there is no answer within
 * `timeoutMs`.
 */
export async function echoTime(node: RunningNode, timeoutMs = 10_000): Promise<number> {
  const started = performance.now();
  const answer = await controlRequest(
    node.env.socketPath(node.name),
    'POST',
    '/messages',
    JSON.stringify({ route: ['0#echo'], payloadHex: '0568656c6c6f', timeoutMs }),
    timeoutMs,
  );
  if (answer.status !== 200) throw new Error(`echo answered ${answer.status}: ${answer.body}`);
  return performance.now() - started;
}

/** Resident memory of the node's process in MiB. */
export function rssMiB(node: RunningNode): number {
  const bytes = rssOf(node.pid);
  if (bytes === undefined) throw new Error(`node ${node.name} (pid ${node.pid}) is gone`);
  return bytes / 1024 / 1024;
}

/** The node's log lines (JSON lines) whose text matches `pattern`. */
export function logLines(node: RunningNode, pattern: RegExp): string[] {
  let text: string;
  try {
    text = readFileSync(node.env.logPath(node.name), 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((line) => pattern.test(line));
}

/**
 * How many events rate-limited log lines stand for: 1 for a line, the count for a line carrying
 * `suppressed` (core's `LogLimiter` writes that field on the line after, or on a summary line).
 */
export function countedEvents(lines: string[]): number {
  return lines.reduce((n, l) => n + Number(/"suppressed":(\d+)/.exec(l)?.[1] ?? 1), 0);
}

/**
 * Runs `attack` while probing the node's echo every `everyMs`; resolves with the slowest answer
 * seen during the attack and one more probe after it. Every attack test asserts that both stay
 * under a second.
 */
export async function underAttack(
  node: RunningNode,
  attack: () => Promise<void>,
  everyMs = 100,
): Promise<{ during: number; after: number }> {
  let during = 0;
  let running = true;
  const probing = (async () => {
    while (running) {
      during = Math.max(during, await echoTime(node));
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  try {
    await attack();
  } finally {
    running = false;
    await probing;
  }
  return { during, after: await echoTime(node) };
}

/**
 * Helpers for transport tests (`@ockam/core/testing`): a node whose log lines are kept, with one
 * transport registered, and a wait for a condition that never sleeps a fixed time.
 *
 * @example
 * ```ts
 * import { echoNode, recordingNode, waitFor } from '@ockam/core/testing';
 * const server = recordingNode('server', (node) => new TcpTransport(node));
 * await waitFor(() => server.transport.connections().length === 1, 'the accept');
 * expect(server.lines.some((l) => l.level === 'warn')).toBe(false);
 * await server.stop();
 * const echo = await echoNode('echo', (node) => new TcpTransport(node), (tcp) => tcp.listen('127.0.0.1:0'));
 * ```
 */
import type { FlowControlId } from '../flow-control.js';
import { type LogLine, recordingLogger } from '../logger.js';
import { Node } from '../node.js';
import { startEcho } from '../services.js';
import type { Transport } from '../transport.js';

export interface RecordingNode<T extends Transport> {
  readonly node: Node;
  readonly transport: T;
  /** Every log line of the node, down to `trace`. */
  readonly lines: LogLine[];
  stop(): Promise<void>;
}

/** A node named `name` that records its log lines, with the transport `create` makes registered. */
export function recordingNode<T extends Transport>(
  name: string,
  create: (node: Node) => T,
): RecordingNode<T> {
  const { logger, lines } = recordingLogger('trace');
  const node = new Node({ name, logger });
  const transport = create(node);
  node.registerTransport(transport);
  return { node, transport, lines, stop: () => node.stop() };
}

/**
 * A recording node whose transport listens (`listen`), with the echo service exposed to the
 * listener's clients.
 */
export async function echoNode<T extends Transport, L extends { readonly flowControlId: FlowControlId }>(
  name: string,
  create: (node: Node) => T,
  listen: (transport: T) => Promise<L>,
): Promise<RecordingNode<T> & { readonly listener: L }> {
  const t = recordingNode(name, create);
  const listener = await listen(t.transport);
  startEcho(t.node);
  t.node.flowControls.addConsumer('echo', listener.flowControlId);
  return { ...t, listener };
}

/** Polls `condition` until it holds; fails naming `what` after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean,
  what = 'condition',
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

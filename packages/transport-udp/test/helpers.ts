import { type Logger, type LogLine, Node, recordingLogger } from '@ockam/core';
import { UdpTransport, type UdpTransportOptions } from '../src/index.js';

export type { LogLine };

/** Every log line of a test node, kept for assertions. */
export const capturingLogger = (): { logger: Logger; lines: LogLine[] } => recordingLogger('debug');

export interface TestNode {
  node: Node;
  udp: UdpTransport;
  lines: LogLine[];
  stop(): Promise<void>;
}

export function testNode(name: string, options: UdpTransportOptions = {}): TestNode {
  const { logger, lines } = capturingLogger();
  const node = new Node({ name, logger });
  const udp = new UdpTransport(node, options);
  node.registerTransport(udp);
  return { node, udp, lines, stop: () => node.stop() };
}

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

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const pattern = (n: number, seed = 0): Uint8Array =>
  new Uint8Array(n).map((_, i) => (i * 7 + seed) & 0xff);

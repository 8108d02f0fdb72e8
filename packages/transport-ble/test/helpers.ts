import { type Logger, type LogLine, Node, recordingLogger } from '@ockam/core';
import { type BleAdapter, BleTransport, type BleTransportOptions } from '../src/index.js';

export type { LogLine };

/** Every log line of a test node, kept for assertions. */
export const capturingLogger = (): { logger: Logger; lines: LogLine[] } => recordingLogger('trace');

export function bleNode(
  name: string,
  adapter: BleAdapter,
  options: BleTransportOptions = {},
): { node: Node; ble: BleTransport; lines: LogLine[] } {
  const { logger, lines } = capturingLogger();
  const node = new Node({ name, logger });
  const ble = new BleTransport(node, adapter, options);
  node.registerTransport(ble);
  return { node, ble, lines };
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

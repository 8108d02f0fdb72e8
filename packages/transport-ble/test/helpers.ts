import type { LogLine, Node } from '@ockam/core';
import { recordingNode, waitFor } from '@ockam/core/testing';
import { type BleAdapter, BleTransport, type BleTransportOptions } from '../src/index.js';

export type { LogLine };

export function bleNode(
  name: string,
  adapter: BleAdapter,
  options: BleTransportOptions = {},
): { node: Node; ble: BleTransport; lines: LogLine[] } {
  const t = recordingNode(name, (node) => new BleTransport(node, adapter, options));
  return { ...t, ble: t.transport };
}

export { waitFor };

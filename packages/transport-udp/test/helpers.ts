import { type RecordingNode, recordingNode, waitFor } from '@ockam/core/testing';
import { UdpTransport, type UdpTransportOptions } from '../src/index.js';

export type TestNode = RecordingNode<UdpTransport> & { readonly udp: UdpTransport };

export function testNode(name: string, options: UdpTransportOptions = {}): TestNode {
  const t = recordingNode(name, (node) => new UdpTransport(node, options));
  return { ...t, udp: t.transport };
}

export { waitFor };

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const pattern = (n: number, seed = 0): Uint8Array =>
  new Uint8Array(n).map((_, i) => (i * 7 + seed) & 0xff);

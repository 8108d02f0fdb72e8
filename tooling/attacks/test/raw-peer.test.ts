import { decodeBareString, encodeBareString } from '@ockam/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoTime, OckamEnv, type RunningNode, startNode } from '../src/nodes.js';
import { RawPeer } from '../src/peer.js';

describe('the raw peer the attack tests use', () => {
  const env = new OckamEnv();
  let node: RunningNode;
  beforeAll(async () => {
    node = await startNode(env, 'target');
  });
  afterAll(() => env.dispose());

  it('speaks the TCP framing well enough to get an answer from uppercase on a plain node', async () => {
    const peer = await RawPeer.connect(node.tcpListenerAddress);
    try {
      peer.send(['uppercase'], encodeBareString('hello'));
      expect(await peer.waitFor(() => peer.received.length > 0, 10_000)).toBe(true);
      expect(decodeBareString(peer.received[0]!.payload, 'reply')).toBe('HELLO');
      expect(peer.received[0]!.onwardRoute.toString()).toBe('0#attacker');
    } finally {
      peer.destroy();
    }
  });

  it('measures the node answering an echo over its control socket', async () => {
    expect(await echoTime(node)).toBeLessThan(1_000);
  });
});

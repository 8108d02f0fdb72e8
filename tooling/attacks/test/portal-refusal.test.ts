/**
 * A refused portal connection is answered, not left to time out (issue 16): an outlet whose policy
 * refuses a Ping answers it with one `Disconnect` (PROTOCOL.md §7.1). That answer must give a
 * refused peer nothing more: a raw attacker with a throwaway identity completes a real handshake
 * through the node's TCP listener and floods the outlet with Pings through its channel. Each Ping
 * gets at most one one-byte Disconnect (no amplification), the target service never sees a
 * connection, the log says why in a few lines, and the node keeps answering.
 */
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRawChannel } from '../src/handshake.js';
import {
  countedEvents,
  logLines,
  OckamEnv,
  type RunningNode,
  rssMiB,
  startNode,
  underAttack,
} from '../src/nodes.js';
import { RawPeer } from '../src/peer.js';

const PINGS = 300;
const RSS_BOUND_MIB = 200;
const PING = Uint8Array.of(0);
const DISCONNECT = 2;

describe('Pings an outlet policy refuses, from a raw peer through a secure channel', () => {
  const env = new OckamEnv();
  let node: RunningNode;
  let target: Server;
  let targetConnections = 0;

  beforeAll(async () => {
    target = createServer((socket) => {
      targetConnections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    node = await startNode(env, 'n');
    const port = (target.address() as { port: number }).port;
    // Only identities with a `component=web` attribute may open portal connections: none here.
    await env.ok([
      'tcp-outlet',
      'create',
      '--at',
      'n',
      '--to',
      `127.0.0.1:${port}`,
      '--allow',
      '(= subject.component "web")',
    ]);
  }, 120_000);
  afterAll(async () => {
    target.close();
    await env.dispose();
  });

  it('answers each with at most one Disconnect, opens nothing, and logs it in a few lines', async () => {
    const peer = await RawPeer.connect(node.tcpListenerAddress);
    try {
      const channel = await openRawChannel(peer);
      const timing = await underAttack(node, async () => {
        for (let i = 0; i < PINGS; i++) channel.send(['outlet'], PING);
        // Every Ping is answered unless more than the outlet's bound wait at once; the last ones surely are.
        await peer.waitFor(() => channel.replies().length >= PINGS / 2, 30_000);
      });
      const replies = channel.replies();
      const refused = logLines(node, /tcp outlet refused a Ping/);
      console.log(
        `outlet refusals: ${PINGS} Pings, ${replies.length} Disconnects; echo ${timing.during.toFixed(0)} ms during, ${timing.after.toFixed(0)} ms after; RSS ${rssMiB(node).toFixed(0)} MiB; ${refused.length} log lines for ${countedEvents(refused)} refusals`,
      );
      expect(replies.length).toBeGreaterThanOrEqual(PINGS / 2);
      expect(replies.length).toBeLessThanOrEqual(PINGS);
      expect(replies.every((r) => r.length === 1 && r[0] === DISCONNECT)).toBe(true);
      expect(targetConnections).toBe(0);
      expect(refused.length).toBeGreaterThanOrEqual(1);
      expect(refused.length).toBeLessThanOrEqual(3);
      expect(timing.during).toBeLessThan(1_000);
      expect(timing.after).toBeLessThan(1_000);
      expect(rssMiB(node)).toBeLessThan(RSS_BOUND_MIB);
      // The channel itself stays usable: refusing a Ping is not a reason to close it.
      expect(channel.closedByNode()).toBe(false);
    } finally {
      peer.destroy();
    }
  });
});

import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain JS module shared with the benchmark
import { createTopology, netnsUnavailable } from './fixtures/netns-topology.mjs';

const script = fileURLToPath(new URL('./fixtures/nat-node.mjs', import.meta.url));
const unavailable: string | undefined = netnsUnavailable();
if (unavailable !== undefined) console.warn(`SKIPPED NAT hole-punching tests: ${unavailable}`);

interface Proc {
  // biome-ignore lint/suspicious/noExplicitAny: events are JSON from the child process
  next(name: string, timeoutMs?: number): Promise<Record<string, any>>;
  send(command: Record<string, unknown>): void;
  kill(): Promise<void>;
}

describe.skipIf(unavailable !== undefined)('hole punching between two NATs (network namespaces)', () => {
  it('two private nodes punch through masquerading NATs, run a secure channel over UDP only, and fall back to the relay when the path dies', async () => {
    const topo = createTopology();
    const procs: Proc[] = [];
    try {
      const pub: Proc = topo.spawnNode(topo.ns.pub, script, ['public', topo.publicIp]);
      procs.push(pub);
      await pub.next('ready');
      const b: Proc = topo.spawnNode(topo.ns.b, script, ['responder', topo.publicIp]);
      procs.push(b);
      const { identifier } = await b.next('ready');
      const a: Proc = topo.spawnNode(topo.ns.a, script, ['initiator', topo.publicIp, identifier]);
      procs.push(a);
      await a.next('relayed');
      const punctured = await a.next('punctured');
      // The NATs mapped both sides to their WAN addresses, keeping the ports (endpoint-independent).
      expect(punctured.peer).toMatch(/^10\.200\.0\.3:\d+$/);
      expect(punctured.local.host).toBe('0.0.0.0');

      pub.send({ command: 'stats' });
      const before = await pub.next('stats');
      a.send({ command: 'go' });
      const secure = await a.next('secure-over-udp');
      pub.send({ command: 'stats' });
      const after = await pub.next('stats');
      expect(secure.messages).toBe(20);
      expect(secure.peerIdentifier).toBe(identifier);
      // Handshake and 20 echoes went through the puncture; the relay forwarded nothing more.
      expect(after.forwarded).toBe(before.forwarded);
      expect(secure.fallback.viaRelay).toBe(0);
      expect(secure.fallback.viaPuncture).toBeGreaterThanOrEqual(21);
      expect(secure.puncture.payloadsIn).toBeGreaterThanOrEqual(21);
      expect(secure.udp.gaps + secure.udp.malformed + secure.udp.queueFull).toBe(0);
      b.send({ command: 'stats' });
      const bStats = await b.next('stats');
      expect(bStats.punctures[0].peer).toMatch(/^10\.200\.0\.2:\d+$/);
      expect(bStats.punctures[0].payloadsIn).toBeGreaterThanOrEqual(21);

      // Cut the direct path on router A: the puncture stops hearing pongs, closes, traffic goes via the relay.
      topo.nft(topo.ns.ra, [
        'add',
        'rule',
        'ip',
        'filter',
        'forward_filter',
        'ip',
        'daddr',
        '10.200.0.3',
        'udp',
        'dport',
        '!=',
        '4001',
        'drop',
      ]);
      a.send({ command: 'wait-mode', mode: 'relay' });
      await a.next('mode', 10_000);
      a.send({ command: 'echo', count: 5, size: 2000 });
      const relayed = await a.next('echoed');
      pub.send({ command: 'stats' });
      const during = await pub.next('stats');
      expect(relayed.fallback.viaRelay).toBeGreaterThanOrEqual(5);
      expect(during.forwarded).toBeGreaterThanOrEqual(after.forwarded + 5);

      // Restore it: a new puncture is negotiated and traffic moves back to UDP.
      topo.nft(topo.ns.ra, ['flush', 'chain', 'ip', 'filter', 'forward_filter']);
      topo.nft(topo.ns.ra, [
        'add',
        'rule',
        'ip',
        'filter',
        'forward_filter',
        'iifname',
        'wan',
        'ct',
        'state',
        'new',
        'drop',
      ]);
      a.send({ command: 'wait-mode', mode: 'puncture' });
      await a.next('mode', 15_000);
      pub.send({ command: 'stats' });
      const resumed = await pub.next('stats');
      a.send({ command: 'echo', count: 5, size: 2000 });
      const back = await a.next('echoed');
      expect(back.mode).toBe('puncture');
      expect(back.fallback.punctures).toBe(2);
      pub.send({ command: 'stats' });
      const end = await pub.next('stats');
      expect(end.forwarded).toBe(resumed.forwarded);
    } finally {
      await Promise.all(procs.map((p) => p.kill()));
      topo.destroy();
    }
  }, 60_000);
});

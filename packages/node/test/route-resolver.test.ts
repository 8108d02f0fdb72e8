import { Address } from '@ockam/core';
import { describe, expect, it } from 'vitest';
import { buildRoute, type RouteBuilder } from '../src/route-resolver.js';

/** A builder that records what it is asked to build (the command's and the node's do real work). */
function recording(options: { multiNode: boolean; failChannel?: boolean }) {
  const calls: string[] = [];
  const listeners: Record<string, string> = { a: '127.0.0.1:1', b: '127.0.0.1:2', c: '127.0.0.1:3' };
  let n = 0;
  const builder: RouteBuilder = {
    nodeName: 'a',
    nodeListener: (name) => listeners[name],
    async connect(hostPort, from) {
      if (from !== undefined && !options.multiNode) throw new Error('one hop only');
      calls.push(`connect ${hostPort} from ${from ?? 'start'}`);
      return Address.local(`sender${++n}`);
    },
    async brokerHop(kind, name, from) {
      calls.push(`${kind} ${name} from ${from ?? 'start'}`);
      return Address.local(`${kind}_sender${++n}`);
    },
    async createChannel(o) {
      calls.push(`channel ${o.route.toString()} authorized ${o.authorized?.join(',') ?? '-'}`);
      if (options.failChannel && o.route.toString().includes('inner')) throw new Error('handshake failed');
      return { address: `channel${++n}`, flowControlId: `fc${n}` };
    },
    async deleteChannel(address) {
      calls.push(`delete ${address}`);
    },
    project: (name) => ({ route: `/node/${name === 'p' ? 'c' : 'x'}`, identifier: `I${'0'.repeat(64)}` }),
  };
  return { builder, calls };
}

describe('the multiaddr resolver', () => {
  it('asks each local node on the way to make the next TCP hop', async () => {
    const { builder, calls } = recording({ multiNode: true });
    const r = await buildRoute(builder, '/node/a/node/b/node/c/service/echo');
    expect(calls).toEqual(['connect 127.0.0.1:2 from start', 'connect 127.0.0.1:3 from b']);
    expect(r.route.toString()).toBe('0#sender1 => 0#sender2 => 0#echo');
  });

  it('makes one TCP hop on a node alone, and refuses a second', async () => {
    const { builder } = recording({ multiNode: false });
    await expect(buildRoute(builder, '/node/b/node/c/service/echo')).rejects.toThrow('one hop only');
    await expect(buildRoute(builder, '/service/x/node/b')).rejects.toThrow(/TCP hop must come first/);
  });

  it('makes a /kafka or /amqp hop first, or on the node named just before it, and nowhere else', async () => {
    const first = recording({ multiNode: true });
    const r = await buildRoute(first.builder, '/kafka/ockam.b/secure/api/service/echo');
    expect(first.calls).toEqual([
      'kafka ockam.b from start',
      'channel 0#kafka_sender1 => 0#api authorized -',
    ]);
    expect(r.route.toString()).toBe('0#channel2 => 0#echo');
    const after = recording({ multiNode: true });
    await buildRoute(after.builder, '/node/b/amqp/ockam.c/service/echo');
    expect(after.calls).toEqual(['connect 127.0.0.1:2 from start', 'amqp ockam.c from b']);
    const { builder } = recording({ multiNode: true });
    await expect(buildRoute(builder, '/service/x/kafka/t')).rejects.toThrow(
      /must come first, or right after/,
    );
    await expect(buildRoute(builder, '/kafka/a/kafka/b')).rejects.toThrow(/must come first, or right after/);
    await expect(buildRoute(builder, '/ip4/127.0.0.1/tcp/9/kafka/t')).rejects.toThrow(
      /must come first, or right after/,
    );
  });

  it('expands /project/P into a channel to the project node, authorized to the project identity', async () => {
    const { builder, calls } = recording({ multiNode: true });
    const r = await buildRoute(builder, '/project/p/service/echo', { authorized: ['Iother'] });
    expect(calls).toEqual([
      'connect 127.0.0.1:3 from start',
      `channel 0#sender1 => 0#api authorized I${'0'.repeat(64)}`,
    ]);
    expect(r.route.toString()).toBe('0#channel2 => 0#echo');
    expect(r.flowControlId).toBe('fc2');
  });

  it('authorizes the last channel to the identities asked for, and closes the channels it opened when a later one fails', async () => {
    const ok = recording({ multiNode: true });
    await buildRoute(ok.builder, '/node/b/secure/api/service/relay/secure/inner', { authorized: ['Ib'] });
    expect(ok.calls.slice(1)).toEqual([
      'channel 0#sender1 => 0#api authorized -',
      'channel 0#channel2 => 0#relay => 0#inner authorized Ib',
    ]);
    const failing = recording({ multiNode: true, failChannel: true });
    await expect(buildRoute(failing.builder, '/node/b/secure/api/secure/inner')).rejects.toThrow(
      'handshake failed',
    );
    expect(failing.calls.at(-1)).toBe('delete channel2');
    await expect(buildRoute(failing.builder, '/ip4/10.0.0.1/tcp/1/node/b')).rejects.toThrow(
      /only a local node/,
    );
    await expect(buildRoute(failing.builder, '/node/nowhere/service/x')).rejects.toThrow(/does not exist/);
  });
});

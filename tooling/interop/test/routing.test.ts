/**
 * Issue 15, matrix 1: routing between our nodes and Ockam Rust's. Each command sends to the other's
 * `uppercase` and `echo` services, and messages cross three nodes of mixed implementations: through
 * a relay on the middle node, and through the middle node's `hop` service and its own outgoing TCP
 * connection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ockam, rustMissing } from '../src/ockam.js';

const skip = rustMissing();
if (skip) console.warn(`interop routing: skipped: ${skip}`);

const PAIRS = [
  ['ours', 'rust'],
  ['rust', 'ours'],
] as const;

describe.skipIf(skip !== undefined)('routing between our nodes and Ockam Rust 0.139', () => {
  const sides = {} as Record<'ours' | 'rust', Ockam>;
  beforeAll(() => {
    sides.ours = Ockam.ours();
    sides.rust = Ockam.rust();
  });
  afterAll(async () => {
    await Promise.all(Object.values(sides).map((s) => s.dispose()));
  });

  describe.each(PAIRS)('%s command → %s node', (from, to) => {
    it('reaches the uppercase and echo services', async () => {
      const sender = sides[from];
      const node = await sides[to].createNode(`svc-${from}`);
      const upper = await sender.ok([
        'message',
        'send',
        'hello ockam',
        '--to',
        `${node.route}/service/uppercase`,
      ]);
      expect(upper.trim()).toBe('HELLO OCKAM');
      const echo = await sender.ok(['message', 'send', 'Hello Ockam!', '--to', `${node.route}/service/echo`]);
      expect(echo.trim()).toBe('Hello Ockam!');
    });

    it(`crosses a relay on a ${to} node between two ${from} nodes`, async () => {
      const own = sides[from];
      const middle = await sides[to].createNode(`relay-${from}`);
      const end = await own.createNode(`end-${to}`);
      await own.ok(['relay', 'create', `end-${to}`, '--at', middle.route, '--to', end.name]);
      const source = await own.createNode(`source-${to}`);
      const route = `${middle.route}/service/forward_to_end-${to}/service/uppercase`;
      const answer = await own.ok([
        'message',
        'send',
        'through the relay',
        '--from',
        source.name,
        '--to',
        route,
      ]);
      expect(answer.trim()).toBe('THROUGH THE RELAY');
    });

    it(`crosses a ${to} node's hop service and its outgoing TCP connection to a second ${from} node`, async () => {
      const own = sides[from];
      const mid = sides[to];
      const middle = await mid.createNode(`hop-${from}`, mid.impl === 'ours' ? ['--enable-hop'] : []);
      if (mid.impl === 'rust') await mid.ok(['service', 'start', 'hop', '--at', middle.name]);
      const end = await own.createNode(`far-${to}`);
      const created = await mid.ok(['tcp-connection', 'create', '--from', middle.name, '--to', end.tcp]);
      const worker = /[0-9a-f]{32}/.exec(created)?.[0];
      expect(worker, `a worker address in: ${created}`).toBeDefined();
      const route = `${middle.route}/service/hop/worker/${worker}/service/uppercase`;
      const answer = await own.ok(['message', 'send', 'hop by hop', '--to', route]);
      expect(answer.trim()).toBe('HOP BY HOP');
    });
  });
});

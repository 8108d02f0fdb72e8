/**
 * Issue 15, matrix 2: secure channels between our nodes and Ockam Rust's. Each side initiates to a
 * listener of the other with `--authorized` on both ends; messages cross the channel past the
 * rekey interval (32 messages per direction, PROTOCOL.md §3.3); a channel runs through a node of
 * the other implementation that only forwards (its `hop`); and a channel closed by either end is
 * closed on the other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ockam, rustMissing } from '../src/ockam.js';
import { until } from '../src/wait.js';

const skip = rustMissing();
if (skip) console.warn(`interop channels: skipped: ${skip}`);

const PAIRS = [
  ['ours', 'rust'],
  ['rust', 'ours'],
] as const;

/** Messages sent through one channel: past the 32-message rekey interval in each direction. */
const MESSAGES = 40;

describe.skipIf(skip !== undefined)('secure channels between our nodes and Ockam Rust 0.139', () => {
  const sides = {} as Record<'ours' | 'rust', Ockam>;
  beforeAll(() => {
    sides.ours = Ockam.ours();
    sides.rust = Ockam.rust();
  });
  afterAll(async () => {
    await Promise.all(Object.values(sides).map((s) => s.dispose()));
  });

  describe.each(PAIRS)('%s initiates to a %s listener', (init, resp) => {
    it('authenticates both ends, carries messages past the rekey, and closes on both ends', async () => {
      const I = sides[init];
      const R = sides[resp];
      const a = await I.createNode(`a-${resp}`);
      const b = await R.createNode(`b-${init}`);
      const aId = await I.identifier();
      const bId = await R.identifier();
      await R.ok(['secure-channel-listener', 'create', 'only_a', '--at', b.name, '--authorized', aId]);

      // A listener that authorizes someone else refuses us; an initiator that expects someone else
      // refuses the listener.
      await R.ok(['secure-channel-listener', 'create', 'not_a', '--at', b.name, '--authorized', bId]);
      const refused = await I.run(
        ['secure-channel', 'create', '--from', a.name, '--to', `${b.route}/service/not_a`, '--timeout', '5s'],
        { timeoutMs: 60_000 },
      );
      expect(refused.code, refused.stdout).not.toBe(0);
      const wrongPeer = await I.run(
        [
          'secure-channel',
          'create',
          '--from',
          a.name,
          '--to',
          `${b.route}/service/only_a`,
          '--authorized',
          aId,
        ],
        { timeoutMs: 60_000 },
      );
      if (aId !== bId) expect(wrongPeer.code, wrongPeer.stdout).not.toBe(0);

      const before = await I.channels(a.name);
      const out = await I.ok([
        'secure-channel',
        'create',
        '--from',
        a.name,
        '--to',
        `${b.route}/service/only_a`,
        '--authorized',
        bId,
      ]);
      const channel = /\/service\/[0-9a-f]{32}/.exec(out)?.[0];
      expect(channel, `a channel route in: ${out}`).toBeDefined();
      expect(await I.channels(a.name)).toHaveLength(before.length + 1);

      for (let i = 0; i < MESSAGES; i++) {
        const answer = await I.ok([
          'message',
          'send',
          `message ${i}`,
          '--from',
          a.name,
          '--to',
          `${channel}/service/uppercase`,
        ]);
        expect(answer.trim()).toBe(`MESSAGE ${i}`);
      }

      // Close from the initiator: the responder's end stops too.
      const responderBefore = await R.acceptedChannels(b.name);
      expect(responderBefore).toBeGreaterThanOrEqual(1);
      await I.ok(['secure-channel', 'delete', channel!.replace('/service/', ''), '--at', a.name, '--yes']);
      await until(
        async () => (await R.acceptedChannels(b.name)) < responderBefore,
        60_000,
        'responder end closed',
      );
      const after = await I.run([
        'message',
        'send',
        'closed?',
        '--from',
        a.name,
        '--to',
        `${channel}/service/echo`,
        '--timeout',
        '3s',
      ]);
      expect(after.code).not.toBe(0);
    });

    it(`runs through a ${resp} node that only forwards (hop)`, async () => {
      const I = sides[init];
      const M = sides[resp];
      const a = await I.createNode(`ha-${resp}`);
      const z = await I.createNode(`hz-${resp}`);
      const m = await M.createNode(`hm-${init}`, M.impl === 'ours' ? ['--enable-hop'] : []);
      if (M.impl === 'rust') await M.ok(['service', 'start', 'hop', '--at', m.name]);
      const created = await M.ok(['tcp-connection', 'create', '--from', m.name, '--to', z.tcp]);
      const worker = /[0-9a-f]{32}/.exec(created)?.[0] ?? '';
      const tail = `/service/hop/worker/${/tcp_sender_/.test(created) ? `tcp_sender_${worker}` : worker}`;
      const zId = await I.identifier();
      const out = await I.ok([
        'secure-channel',
        'create',
        '--from',
        a.name,
        '--to',
        `${m.route}${tail}/service/api`,
        '--authorized',
        zId,
      ]);
      const channel = /\/service\/[0-9a-f]{32}/.exec(out)?.[0];
      expect(channel, `a channel route in: ${out}`).toBeDefined();
      const answer = await I.ok([
        'message',
        'send',
        'end to end',
        '--from',
        a.name,
        '--to',
        `${channel}/service/uppercase`,
      ]);
      expect(answer.trim()).toBe('END TO END');
    });
  });
});

/**
 * Established secure channels as a resource an unauthenticated peer can take (issue 14, beyond
 * the review's list): with the default trust policy (no authority: any identity is trusted),
 * anyone who reaches a node's TCP listener can complete handshakes with throwaway identities, and
 * each channel (two workers, keys in the vault, flow-control entries) used to live for as long as
 * the node: the handshake caps bound how fast channels come, not how many stay.
 *
 * A raw attacker completes real handshakes (`openRawChannel`, a fresh identity each) through
 * nodes' real TCP listeners:
 * - one connection against the defaults: at most 256 channels, the rest of its msg1 dropped
 *   before a key is generated, logged once; n2 still opens a channel; echo under 1 s; RSS bound;
 * - three and four connections against a node whose listener holds 40 channels
 *   (`OCKAM_SECURE_CHANNEL_MAX_CHANNELS`, `_PER_CONNECTION` 16): the listener-wide cap;
 * - 20 channels left idle on a node with `OCKAM_SECURE_CHANNEL_IDLE_TIMEOUT_MS=5000`: each is
 *   closed, the attacker and n2 receive `Close`, the workers are gone, one log line and a count.
 */
import { LocalMessage } from '@ockam/core';
import { controlGet } from '@ockam/hardening/ockam';
import { encodeFrame } from '@ockam/transport-tcp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { msg1, openRawChannel, type RawChannel } from '../src/handshake.js';
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

/** What `GET /secure-channel-listeners` says of a listener (the fields used here). */
interface ListenerInfo {
  address: string;
  channels: number;
  droppedHandshakes: number;
  idleClosedChannels?: number;
}

/** The default per-connection cap (`DEFAULT_MAX_CHANNELS_PER_CONNECTION`). */
const PER_CONNECTION = 256;
/** msg1 the attacker sends once its connection holds the cap. */
const OVER = 64;
/**
 * RSS growth allowed while one connection holds 256 channels, with the attacker's handshakes and
 * the echo probes on top (measured: about 15 MiB; a channel end holds about 12 KiB of heap).
 */
const RSS_GROWTH_MIB = 60;

const waitFor = async (condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 60_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

const api = async (node: RunningNode): Promise<ListenerInfo> => {
  const { listeners } = await controlGet<{ listeners: ListenerInfo[] }>(
    node.env.socketPath(node.name),
    '/secure-channel-listeners',
  );
  return listeners.find((l) => l.address === 'api')!;
};

const workers = async (node: RunningNode): Promise<string[]> =>
  (await controlGet<{ workers: string[] }>(node.env.socketPath(node.name), '/workers')).workers;

/** `count` handshakes completed over `peer`, with a fresh identity each, `parallel` at a time. */
async function openChannels(peer: RawPeer, count: number, parallel = 16): Promise<RawChannel[]> {
  const opened: RawChannel[] = [];
  for (let i = 0; i < count; i += parallel)
    opened.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(parallel, count - i) }, () => openRawChannel(peer)),
      )),
    );
  return opened;
}

const msg1Frames = (count: number) =>
  Buffer.concat(
    Array.from({ length: count }, () => encodeFrame(new LocalMessage(['api'], ['attacker'], msg1()))),
  );
const msg2Count = (peer: RawPeer) =>
  peer.received.filter((m) => m.onwardRoute.toString() === '0#attacker').length;

/** n's log lines from line `from` on that match `pattern`. */
const linesSince = (node: RunningNode, from: number, pattern: RegExp) =>
  logLines(node, /./)
    .slice(from)
    .filter((l) => pattern.test(l));

describe('throwaway identities completing handshakes against a secure channel listener, through a real TCP listener', () => {
  const env = new OckamEnv();
  let n1: RunningNode;
  beforeAll(async () => {
    n1 = await startNode(env, 'n1');
    // n2 opens channels as a user would (`ockam secure-channel create --from n2`).
    await startNode(env, 'n2');
  });
  afterAll(() => env.dispose());

  /** A channel from n2 to `to`'s listener, through the CLI, as a user would open one. */
  const channelFromN2 = (to: RunningNode) =>
    env.ok(['secure-channel', 'create', '--from', 'n2', '--to', `/node/${to.name}/service/api`], {
      timeoutMs: 60_000,
    });

  it('holds 256 channels at most for one connection that completes handshake after handshake, and n2 still opens one', async () => {
    const logStart = logLines(n1, /./).length;
    const rssBefore = rssMiB(n1);
    let rssMax = 0;
    const peer = await RawPeer.connect(n1.tcpListenerAddress);
    let before = await api(n1);
    const times = await underAttack(n1, async () => {
      await openChannels(peer, PER_CONNECTION);
      await waitFor(
        async () => (await api(n1)).channels === before.channels + PER_CONNECTION,
        '256 channels',
      );
      rssMax = Math.max(rssMax, rssMiB(n1));
      // The connection holds its cap: every further msg1 is dropped, none answered.
      before = await api(n1);
      peer.write(msg1Frames(OVER));
      await waitFor(
        async () => (await api(n1)).droppedHandshakes - before.droppedHandshakes + msg2Count(peer) >= OVER,
        'every msg1 over the cap to be dropped or answered',
      );
      expect(msg2Count(peer)).toBe(0);
      expect((await api(n1)).channels).toBe(before.channels);
      rssMax = Math.max(rssMax, rssMiB(n1));
      // Another node, on its own connection, still gets its channel.
      expect(await channelFromN2(n1)).toMatch(/^\/service\//);
    });
    expect(times.during).toBeLessThan(1_000);
    expect(times.after).toBeLessThan(1_000);
    const after = await api(n1);
    expect(after.channels).toBe(PER_CONNECTION + 1);
    const growth = Math.max(rssMax, rssMiB(n1)) - rssBefore;
    console.log(
      `one connection: 256 channels held, ${OVER} msg1 dropped; echo ${times.during.toFixed(0)} ms during, ${times.after.toFixed(0)} ms after; RSS ${rssBefore.toFixed(0)} MiB + ${growth.toFixed(1)} MiB with 257 channels`,
    );
    expect(growth).toBeLessThan(RSS_GROWTH_MIB);
    const drops = linesSince(n1, logStart, /secure channel listener dropped a msg1/);
    expect(drops.filter((l) => !/"suppressed":/.test(l))).toHaveLength(1);
    expect(drops[0]).toMatch(/channels:connection/);
    // 257 channels established, 64 msg1 dropped: a handful of lines, each with a count.
    const established = linesSince(n1, logStart, /"message":"secure channel established"/);
    expect(established.length).toBeLessThanOrEqual(4);
    expect(linesSince(n1, logStart, /"message":"secure channel/).length).toBeLessThanOrEqual(10);
    peer.destroy();
  });

  it('holds the listener-wide cap (OCKAM_SECURE_CHANNEL_MAX_CHANNELS) against connections that each stay under theirs', async () => {
    const n3 = await startNode(env, 'n3', [], {
      OCKAM_SECURE_CHANNEL_MAX_CHANNELS: '40',
      OCKAM_SECURE_CHANNEL_MAX_CHANNELS_PER_CONNECTION: '16',
    });
    const logStart = logLines(n3, /./).length;
    const peers = await Promise.all(Array.from({ length: 4 }, () => RawPeer.connect(n3.tcpListenerAddress)));
    const [c1, c2, c3, c4] = peers as [RawPeer, RawPeer, RawPeer, RawPeer];
    const before = await api(n3);
    const times = await underAttack(n3, async () => {
      await Promise.all([openChannels(c1, 16), openChannels(c2, 16), openChannels(c3, 8)]);
      await waitFor(async () => (await api(n3)).channels === 40, '40 channels');
      // c3 holds 8 of its 16 and c4 none, but the listener is full.
      c3.write(msg1Frames(4));
      c4.write(msg1Frames(4));
      await waitFor(
        async () =>
          (await api(n3)).droppedHandshakes - before.droppedHandshakes + msg2Count(c3) + msg2Count(c4) >= 8,
        'the eight msg1 to be dropped or answered',
      );
    });
    expect(times.during).toBeLessThan(1_000);
    expect(times.after).toBeLessThan(1_000);
    console.log(
      `four connections: 40 channels held, 8 msg1 dropped; echo ${times.during.toFixed(0)} ms during, ${times.after.toFixed(0)} ms after`,
    );
    expect(msg2Count(c3) + msg2Count(c4)).toBe(0);
    expect((await api(n3)).channels).toBe(40);
    const drops = linesSince(n3, logStart, /secure channel listener dropped a msg1/);
    expect(drops.filter((l) => !/"suppressed":/.test(l))).toHaveLength(1);
    expect(drops[0]).toMatch(/channels:listener/);
    for (const p of peers) p.destroy();
  });

  it('closes channels that carry nothing for OCKAM_SECURE_CHANNEL_IDLE_TIMEOUT_MS, tells their peers, and gives their workers back', async () => {
    const n4 = await startNode(env, 'n4', [], { OCKAM_SECURE_CHANNEL_IDLE_TIMEOUT_MS: '5000' });
    const logStart = logLines(n4, /./).length;
    const peer = await RawPeer.connect(n4.tcpListenerAddress);
    let fromN2 = '';
    const times = await underAttack(n4, async () => {
      fromN2 = (await channelFromN2(n4)).trim().replace(/^\/service\//, '');
      const channels = await openChannels(peer, 20);
      await waitFor(async () => (await api(n4)).channels === 21, "the attacker's 20 channels and n2's");
      const opened = await workers(n4);
      for (const c of channels) expect(opened).toContain(c.decryptor);
      await waitFor(async () => (await api(n4)).channels === 0, 'every channel to be closed as idle');
      // Close (PROTOCOL.md §3.3) reached every peer.
      await waitFor(() => channels.every((c) => c.closedByNode()), 'Close on every attacker channel');
      const left = await workers(n4);
      for (const c of channels) expect(left).not.toContain(c.decryptor);
      // Three workers per channel (decryptor_remote, decryptor_internal, encryptor), n2's included.
      expect(opened.length - left.length).toBe(3 * 21);
    });
    expect(times.during).toBeLessThan(1_000);
    expect(times.after).toBeLessThan(1_000);
    const n2Channels = async () =>
      (await env.json<Array<{ address: string }>>(['secure-channel', 'list', '--at', 'n2'])).map(
        (c) => c.address,
      );
    await waitFor(async () => !(await n2Channels()).includes(fromN2), "n2's channel to close");
    console.log(
      `idle: 21 channels closed after 5 s idle, Close to each peer; echo ${times.during.toFixed(0)} ms during, ${times.after.toFixed(0)} ms after`,
    );
    expect((await api(n4)).idleClosedChannels).toBe(21);
    const idle = () => linesSince(n4, logStart, /secure channel closed: idle/);
    await waitFor(() => countedEvents(idle()) === 21, 'the count of idle channels');
    expect(idle().length).toBeLessThanOrEqual(3);
    peer.destroy();
  });
});

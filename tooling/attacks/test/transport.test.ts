/**
 * Finding 3 of issue 14, memory amplification and connection exhaustion at the transport level:
 * many connections, each holding an unfinished large frame; slow senders; peers that never finish
 * the handshake or never say anything; and one 16.5 MB frame of empty addresses. Each runs against
 * a node in its own process, through its TCP listener and its WebSocket listener.
 *
 * The nodes run with the limits an operator sets in the environment (`OCKAM_TRANSPORT_*`): 64
 * connections per listener and short timeouts, so that the test does not wait a minute; the
 * budget for what peers send stays at its default, 64 MiB per transport. What the node may hold
 * for peers is then 64 MiB + 64 connections × 64 KiB = 68 MiB per transport, and the RSS bound of
 * each attack is the node's RSS before it plus that and `SLACK_MIB` for allocator and V8 slack.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logLines, OckamEnv, type RunningNode, rssMiB, startNode, underAttack } from '../src/nodes.js';
import { RawPeer, splitHostPort } from '../src/peer.js';
import { RawWsPeer, wsFrameHead } from '../src/ws-peer.js';

const LIMITS = {
  OCKAM_TRANSPORT_MAX_CONNECTIONS: '64',
  OCKAM_TRANSPORT_HANDSHAKE_TIMEOUT_MS: '2000',
  OCKAM_TRANSPORT_FRAME_TIMEOUT_MS: '3000',
  OCKAM_TRANSPORT_FIRST_MESSAGE_TIMEOUT_MS: '4000',
};
const MAX_CONNECTIONS = 64;
/** What the limits let peers hold: the 64 MiB budget and each connection's 64 KiB allowance. */
const HELD_MIB = 64 + (MAX_CONNECTIONS * 64) / 1024;
/**
 * What V8 lets die before it collects: the buffers of connections closed over the budget are
 * freed at the next GC, which V8 starts once external memory has grown by about 64 MiB.
 */
const GARBAGE_MIB = 64;
/** Allocator slack over that (a frame copied once, the young generation, fragmentation). */
const SLACK_MIB = 60;
/** The RSS bound of the attacks that fill the budget: RSS before the attack plus this. */
const BOUND_MIB = HELD_MIB + GARBAGE_MIB + SLACK_MIB;
/** Attackers' connections, over twice the cap. */
const ATTACKERS = 150;
const MiB = 1024 * 1024;
/** How long every attacker connection gets to be closed by the node: the limits plus a margin. */
const CLOSE_WITHIN_MS = 30_000;

const env = new OckamEnv();
const saved = { ...process.env };
let count = 0;

beforeAll(() => {
  // `ockam node create` passes its environment on to the node it starts.
  Object.assign(process.env, LIMITS);
});
afterAll(() => {
  for (const k of Object.keys(LIMITS)) if (saved[k] === undefined) delete process.env[k];
  env.dispose();
});

interface Target {
  node: RunningNode;
  tcp: string;
  ws: string;
}

/** A fresh node for each attack, so that each attack's log lines and memory are its own. */
async function target(): Promise<Target> {
  const name = `target${++count}`;
  const node = await startNode(env, name, ['--websocket-listener-address', '127.0.0.1:0']);
  const shown = await env.json<{ websocketListenerAddress: string }>(['node', 'show', name]);
  return { node, tcp: node.tcpListenerAddress, ws: shown.websocketListenerAddress };
}

/** Runs `attack` while probing the echo and sampling RSS; returns the slowest echo and the peak RSS. */
async function measure(
  node: RunningNode,
  attack: () => Promise<void>,
): Promise<{ during: number; after: number; before: number; peak: number }> {
  const before = rssMiB(node);
  let peak = before;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, rssMiB(node));
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    const { during, after } = await underAttack(node, attack);
    return { during, after, before, peak: Math.max(peak, rssMiB(node)) };
  } finally {
    sampling = false;
    await sampler;
  }
}

/** The node's log lines for a limit, by the `limit` field the transports write. */
function limitLines(node: RunningNode, limit: string): string[] {
  return logLines(node, new RegExp(`"limit":"${limit}"`));
}

/** A frame head (version byte first) declaring `length` bytes of CBOR (PROTOCOL.md §2.1). */
function tcpHead(length: number): Uint8Array {
  const h = new Uint8Array(5);
  h[0] = 1;
  new DataView(h.buffer).setUint32(1, length);
  return h;
}

/** A plain TCP socket to `hostPort` that writes nothing. */
function silentSocket(hostPort: string): Promise<{ closed: Promise<void>; destroy(): void }> {
  const [host, port] = splitHostPort(hostPort);
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    s.on('error', () => {});
    // Reading, so that the node's FIN is seen (a socket nobody reads never emits 'close').
    s.resume();
    s.once('connect', () => resolve({ closed, destroy: () => s.destroy() }));
    s.once('error', reject);
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * CBOR `[onward, return, payload]` whose onward route is `n` empty addresses (`82 00 40` each): a
 * 16.5 MB frame holds 5.5 million of them (PROTOCOL.md §2.1).
 */
function emptyAddressesCbor(n: number): Uint8Array {
  const out = new Uint8Array(1 + 5 + 3 * n + 2);
  out[0] = 0x83;
  out[1] = 0x9a;
  new DataView(out.buffer).setUint32(2, n);
  for (let i = 0, o = 6; i < n; i++, o += 3) {
    out[o] = 0x82;
    out[o + 1] = 0x00;
    out[o + 2] = 0x40;
  }
  out[6 + 3 * n] = 0x80;
  out[7 + 3 * n] = 0x40;
  return out;
}

/**
 * A legacy transport message (PROTOCOL.md §1.2, the WebSocket framing) whose onward route is `n`
 * empty addresses (`00 00` each).
 */
function emptyAddressesBare(n: number): Uint8Array {
  const count: number[] = [];
  for (let v = n; ; v = Math.floor(v / 128)) {
    if (v < 128) {
      count.push(v);
      break;
    }
    count.push((v % 128) | 0x80);
  }
  const out = new Uint8Array(1 + count.length + 2 * n + 3);
  out[0] = 1;
  out.set(count, 1);
  // Everything after the count is zero: empty addresses, an empty return route, payload and tracing.
  return out;
}

const BODY = new Uint8Array(3 * MiB);
const SIXTEEN_MIB_OF_EMPTY_ADDRESSES = 5_500_000;

describe('transport limits against a node under attack (finding 3)', () => {
  describe('TCP listener', () => {
    it('refuses connections over the cap and closes those whose unfinished frames do not fit the budget', async () => {
      const { node, tcp } = await target();
      const peers: RawPeer[] = [];
      const m = await measure(node, async () => {
        // All connect first, so that the cap binds; then each starts a 16 MiB frame.
        for (let i = 0; i < ATTACKERS; i++) peers.push(await RawPeer.connect(tcp, { version: false }));
        for (const p of peers) {
          if (p.closed) continue;
          p.write(tcpHead(16 * MiB));
          p.write(BODY);
        }
        await withTimeout(
          Promise.all(peers.map((p) => p.waitClosed(CLOSE_WITHIN_MS))),
          CLOSE_WITHIN_MS,
          'attackers closed',
        );
      });
      expect(peers.every((p) => p.closed)).toBe(true);
      expect(m.during).toBeLessThan(1_000);
      expect(m.after).toBeLessThan(1_000);
      expect(m.peak).toBeLessThan(m.before + BOUND_MIB);
      expect(limitLines(node, 'max-connections')).toHaveLength(1);
      expect(limitLines(node, 'buffer-budget')).toHaveLength(1);
      expect(limitLines(node, 'frame-timeout')).toHaveLength(1);
    });

    it('closes slow senders that trickle a frame a byte every 300 ms', async () => {
      const { node, tcp } = await target();
      const peers: RawPeer[] = [];
      const m = await measure(node, async () => {
        for (let i = 0; i < 40; i++) {
          const p = await RawPeer.connect(tcp, { version: false });
          peers.push(p);
          p.write(tcpHead(1_000_000));
        }
        const drip = setInterval(() => {
          for (const p of peers) if (!p.closed) p.write(Uint8Array.of(0x80));
        }, 300);
        try {
          await Promise.all(peers.map((p) => p.waitClosed(CLOSE_WITHIN_MS)));
        } finally {
          clearInterval(drip);
        }
      });
      expect(peers.every((p) => p.closed)).toBe(true);
      expect(m.during).toBeLessThan(1_000);
      expect(m.after).toBeLessThan(1_000);
      expect(m.peak).toBeLessThan(m.before + BOUND_MIB);
      expect(limitLines(node, 'frame-timeout')).toHaveLength(1);
    });

    it('closes connections that never send the version byte, and those that never send a message', async () => {
      const { node, tcp } = await target();
      const silent = await Promise.all(Array.from({ length: 20 }, () => silentSocket(tcp)));
      const mute: RawPeer[] = [];
      const m = await measure(node, async () => {
        for (let i = 0; i < 20; i++) mute.push(await RawPeer.connect(tcp));
        await withTimeout(
          Promise.all([...silent.map((s) => s.closed), ...mute.map((p) => p.waitClosed(CLOSE_WITHIN_MS))]),
          CLOSE_WITHIN_MS,
          'silent peers closed',
        );
      });
      expect(mute.every((p) => p.closed)).toBe(true);
      expect(m.during).toBeLessThan(1_000);
      expect(m.after).toBeLessThan(1_000);
      expect(limitLines(node, 'handshake-timeout')).toHaveLength(1);
      expect(limitLines(node, 'first-message-timeout')).toHaveLength(1);
    });

    it('survives a 16.5 MB frame of empty addresses', async () => {
      const { node, tcp } = await target();
      const cbor = emptyAddressesCbor(SIXTEEN_MIB_OF_EMPTY_ADDRESSES);
      const frame = new Uint8Array(5 + cbor.length);
      frame.set(tcpHead(cbor.length));
      frame.set(cbor, 5);
      expect(frame.length).toBeGreaterThan(16_500_000);
      const peer = await RawPeer.connect(tcp, { version: false });
      const m = await measure(node, async () => {
        peer.write(frame);
        expect(await peer.waitClosed(CLOSE_WITHIN_MS)).toBe(true);
      });
      expect(m.during).toBeLessThan(1_000);
      expect(m.after).toBeLessThan(1_000);
      // One frame: its bytes, one copy of them and what decoding may allocate for it.
      expect(m.peak).toBeLessThan(m.before + 100);
    });
  });

  describe('WebSocket listener', () => {
    it('counts connections before their upgrade, refuses those over the cap and closes those over the budget', async () => {
      const { node, ws } = await target();
      const peers: RawWsPeer[] = [];
      let refused = 0;
      const m = await measure(node, async () => {
        // All connect first, so that the cap binds; then each starts a 16 MiB message.
        for (let i = 0; i < ATTACKERS; i++) {
          const p = await RawWsPeer.connect(ws).catch(() => undefined);
          if (p === undefined) refused++;
          else peers.push(p);
        }
        for (const p of peers) {
          p.write(wsFrameHead(16 * MiB));
          p.write(BODY);
        }
        await withTimeout(
          Promise.all(peers.map((p) => p.waitClosed(CLOSE_WITHIN_MS))),
          CLOSE_WITHIN_MS,
          'attackers closed',
        );
      });
      expect(peers.every((p) => p.closed)).toBe(true);
      expect(peers.length).toBe(MAX_CONNECTIONS);
      expect(refused).toBe(ATTACKERS - MAX_CONNECTIONS);
      expect(m.during).toBeLessThan(1_000);
      expect(m.after).toBeLessThan(1_000);
      expect(m.peak).toBeLessThan(m.before + BOUND_MIB);
      expect(limitLines(node, 'max-connections')).toHaveLength(1);
      expect(limitLines(node, 'buffer-budget')).toHaveLength(1);
      expect(limitLines(node, 'frame-timeout')).toHaveLength(1);
    });

    it('closes slow senders that trickle a frame a byte every 300 ms', async () => {
      const { node, ws } = await target();
      const peers: RawWsPeer[] = [];
      const m = await measure(node, async () => {
        for (let i = 0; i < 40; i++) {
          const p = await RawWsPeer.connect(ws);
          peers.push(p);
          p.write(wsFrameHead(1_000_000));
        }
        const drip = setInterval(() => {
          for (const p of peers) if (!p.closed) p.write(Uint8Array.of(0));
        }, 300);
        try {
          await Promise.all(peers.map((p) => p.waitClosed(CLOSE_WITHIN_MS)));
        } finally {
          clearInterval(drip);
        }
      });
      expect(peers.every((p) => p.closed)).toBe(true);
      expect(m.during).toBeLessThan(1_000);
      expect(m.after).toBeLessThan(1_000);
      expect(limitLines(node, 'frame-timeout')).toHaveLength(1);
    });

    it('closes connections that never upgrade, and those that never send a message', async () => {
      const { node, ws } = await target();
      const silent = await Promise.all(Array.from({ length: 20 }, () => silentSocket(ws)));
      const mute: RawWsPeer[] = [];
      const m = await measure(node, async () => {
        for (let i = 0; i < 20; i++) mute.push(await RawWsPeer.connect(ws));
        await withTimeout(
          Promise.all([...silent.map((s) => s.closed), ...mute.map((p) => p.waitClosed(CLOSE_WITHIN_MS))]),
          CLOSE_WITHIN_MS,
          'silent peers closed',
        );
      });
      expect(mute.every((p) => p.closed)).toBe(true);
      expect(m.during).toBeLessThan(1_000);
      expect(m.after).toBeLessThan(1_000);
      expect(limitLines(node, 'handshake-timeout')).toHaveLength(1);
      expect(limitLines(node, 'first-message-timeout')).toHaveLength(1);
    });

    it('survives a 16.5 MB message of empty addresses', async () => {
      const { node, ws } = await target();
      const message = emptyAddressesBare(8_250_000);
      expect(message.length).toBeGreaterThan(16_500_000);
      const peer = await RawWsPeer.connect(ws);
      const m = await measure(node, async () => {
        peer.sendMessage(message);
        expect(await peer.waitClosed(CLOSE_WITHIN_MS)).toBe(true);
      });
      expect(m.during).toBeLessThan(1_000);
      expect(m.after).toBeLessThan(1_000);
      expect(m.peak).toBeLessThan(m.before + 100);
    });
  });
});

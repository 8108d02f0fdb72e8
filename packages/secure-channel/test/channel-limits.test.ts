/**
 * What a listener's completed handshakes may hold (PROTOCOL.md §3.3–§3.5): when the trust policy
 * lets everyone in, anyone can complete a handshake with a throwaway identity, so open channels
 * are capped in total and per connection (a handshake under way counting as a channel), and a
 * channel that carries nothing for the idle timeout is closed, Close sent, everything given back.
 *
 * Connections are real TCP connections on 127.0.0.1: each initiating node reaches the listener's
 * node over one (the TCP transport reuses it for every channel to the same address).
 */
import { type Node, startEcho } from '@ockam/core';
import { createIdentity, type Identity } from '@ockam/identity';
import { createVault } from '@ockam/vault';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OpenChannels } from '../src/internal/open-channels.js';
import { createSecureChannel, type SecureChannel } from '../src/secure-channel.js';
import {
  createSecureChannelListener,
  DEFAULT_CHANNEL_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_CHANNELS,
  DEFAULT_MAX_CHANNELS_PER_CONNECTION,
  type SecureChannelListenerOptions,
} from '../src/secure-channel-listener.js';
import { ledger } from './helpers.js';
import { tcpNode } from './tampering-hop.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Waits for `condition`, polling every 5 ms (on the real `setTimeout`, which no test fakes). */
async function until(condition: () => boolean, what: string, polls = 4_000): Promise<void> {
  for (let i = 0; !condition(); i++) {
    if (i === polls) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Bob's node with a listener at `api` on a TCP listener, and `echo` exposed to its channels. */
async function bob(options: Partial<SecureChannelListenerOptions> = {}) {
  const b = await tcpNode('bob');
  cleanups.push(() => b.node.stop());
  const counted = ledger(createVault('node'));
  const listener = await createSecureChannelListener(b.node, {
    identity: await createIdentity(counted.vault),
    vault: counted.vault,
    consumerOf: [b.listener.flowControlId],
    ...options,
  });
  cleanups.push(() => listener.stop());
  startEcho(b.node);
  b.node.flowControls.addConsumer('echo', listener.flowControlId);
  return { ...b, listener, counted };
}

/** A node that opens channels to `to` over one TCP connection, with a fresh identity each. */
async function initiator(name: string, to: string) {
  const a = await tcpNode(name);
  cleanups.push(() => a.node.stop());
  const vault = createVault('node');
  const client = a.node.client({ capacity: 64 });
  const open = async (options: { signal?: AbortSignal } = {}): Promise<SecureChannel> => {
    const channel = await createSecureChannel(a.node, [to, 'api'], {
      identity: await createIdentity(vault),
      vault,
      ...options,
    });
    a.node.flowControls.addConsumer(client.address, channel.flowControlId);
    return channel;
  };
  /** Opens a channel that the listener must refuse: resolves once it dropped the msg1. */
  const refused = async (listener: { droppedHandshakes: number }) => {
    const dropped = listener.droppedHandshakes;
    const abort = new AbortController();
    const opening = open({ signal: abort.signal });
    await until(() => listener.droppedHandshakes === dropped + 1, 'msg1 to be dropped');
    abort.abort();
    await expect(opening).rejects.toMatchObject({ kind: 'cancelled' });
  };
  const echo = async (channel: SecureChannel, text: string): Promise<string> =>
    new TextDecoder().decode(
      (await client.request([channel.encryptorAddress, 'echo'], new TextEncoder().encode(text))).payload,
    );
  /** Opens the TCP connection alone (channels reuse it). */
  const connect = () => a.node.resolveRoute([to]);
  return { node: a.node as Node, open, refused, echo, connect };
}

const dropLines = (lines: { message: string; fields: Record<string, unknown> }[]) =>
  lines.filter((l) => l.message === 'secure channel listener dropped a msg1');

describe('secure channel listener channel limits', () => {
  it('documents its defaults: 4096 channels, 256 per connection, closed after 2 hours idle', () => {
    expect(DEFAULT_MAX_CHANNELS).toBe(4096);
    expect(DEFAULT_MAX_CHANNELS_PER_CONNECTION).toBe(256);
    expect(DEFAULT_CHANNEL_IDLE_TIMEOUT_MS).toBe(2 * 60 * 60 * 1000);
  });

  it('holds maxChannelsPerConnection channels for one connection, refuses its next msg1 before a key is generated, and lets another connection in', async () => {
    const b = await bob({ maxChannelsPerConnection: 3 });
    const a1 = await initiator('a1', b.route);
    const opened = [await a1.open(), await a1.open(), await a1.open()];
    await until(() => b.listener.channels.size === 3, 'three channels');
    await a1.refused(b.listener);
    await a1.refused(b.listener);
    expect(b.listener.channels.size).toBe(3);
    expect(b.listener.pendingHandshakes).toBe(0);
    const drops = dropLines(b.lines);
    expect(drops).toHaveLength(1);
    expect(drops[0]!.fields).toMatchObject({ reason: 'channels:connection' });
    expect(String(drops[0]!.fields.error)).toMatch(/already has 3 channels/);
    // Another connection is not held back, and a1's channels work.
    const a2 = await initiator('a2', b.route);
    expect(await a2.echo(await a2.open(), 'a2')).toBe('a2');
    expect(await a1.echo(opened[0]!, 'a1')).toBe('a1');
    // A channel that closes gives its connection's place back.
    await opened[0]!.close();
    await until(() => b.listener.channels.size === 3, "a1's first channel to close");
    expect(await a1.echo(await a1.open(), 'again')).toBe('again');
  });

  it('holds maxChannels channels over all connections, and takes new ones again once one closes', async () => {
    const b = await bob({ maxChannels: 4, maxChannelsPerConnection: 3 });
    const a1 = await initiator('a1', b.route);
    const a2 = await initiator('a2', b.route);
    const first = await a1.open();
    await a1.open();
    await a1.open();
    await a2.open();
    await until(() => b.listener.channels.size === 4, 'four channels');
    await a2.refused(b.listener);
    const a3 = await initiator('a3', b.route);
    await a3.refused(b.listener);
    expect(dropLines(b.lines).map((l) => l.fields.reason)).toEqual(['channels:listener']);
    await first.close();
    await until(() => b.listener.channels.size === 3, 'a channel to close');
    expect(await a3.echo(await a3.open(), 'a3')).toBe('a3');
  });

  it('closes a channel idle for idleTimeoutMs, sends Close to its peer, and gives back its workers, flow-control entries and vault secrets', async () => {
    const b = await bob({ idleTimeoutMs: 200 });
    const a = await initiator('a', b.route);
    await a.connect();
    await until(() => b.tcp.connections().length === 1, 'the TCP connection at bob');
    const addresses = b.node.addresses().length;
    const flows = b.node.flowControls.size;
    const secrets = b.counted.live();
    const channel = await a.open();
    expect(await a.echo(channel, 'hello')).toBe('hello');
    await until(() => b.listener.channels.size === 1, 'the channel at the listener');
    expect(b.node.addresses().length).toBe(addresses + 3);
    expect(b.node.flowControls.size).not.toEqual(flows);
    expect(b.counted.live()).toBeGreaterThan(secrets);
    await until(() => b.listener.channels.size === 0, 'the idle channel to close');
    await until(() => !channel.isOpen, 'Close to reach the initiator');
    expect(b.listener.idleClosedChannels).toBe(1);
    await until(() => b.node.addresses().length === addresses, 'the channel workers to stop');
    expect(b.node.flowControls.size).toEqual(flows);
    await until(() => b.counted.live() === secrets, 'every channel secret to be deleted');
    const idle = b.lines.filter((l) => l.message === 'secure channel closed: idle');
    expect(idle).toHaveLength(1);
    expect(idle[0]!.fields).toMatchObject({ listener: 'api', idleTimeoutMs: 200 });
  });

  it('keeps a channel that carries a message now and then open far beyond the idle timeout, and closes it once it stops', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
    const b = await bob({ idleTimeoutMs: 60_000 });
    const a = await initiator('a', b.route);
    const channel = await a.open();
    await until(() => b.listener.channels.size === 1, 'the channel at the listener');
    // Ten minutes of a message every 40 s (the sweep runs every 15 s).
    for (let i = 0; i < 15; i++) {
      expect(await a.echo(channel, `ping ${i}`)).toBe(`ping ${i}`);
      await vi.advanceTimersByTimeAsync(40_000);
    }
    expect(channel.isOpen).toBe(true);
    expect(b.listener.idleClosedChannels).toBe(0);
    // Quiet for the idle timeout and one sweep more: closed.
    await vi.advanceTimersByTimeAsync(75_000);
    await until(() => b.listener.channels.size === 0 && !channel.isOpen, 'the idle channel to close');
    expect(b.listener.idleClosedChannels).toBe(1);
  });

  it('refuses limits that are not whole numbers of at least 1', async () => {
    const b = await tcpNode('bob');
    cleanups.push(() => b.node.stop());
    const vault = createVault('node');
    const identity: Identity = await createIdentity(vault);
    for (const bad of [{ maxChannels: 0 }, { maxChannelsPerConnection: 1.5 }, { idleTimeoutMs: Number.NaN }])
      await expect(createSecureChannelListener(b.node, { identity, vault, ...bad })).rejects.toThrow(
        RangeError,
      );
  });
});

describe('open channel accounting', () => {
  it('counts channels per origin and closes, one after the other, those whose activity did not move for the idle timeout', async () => {
    let now = 0;
    const idle: string[] = [];
    const open = new OpenChannels<string>(
      { max: 10, maxPerConnection: 10, idleTimeoutMs: 100, now: () => now },
      (c) => idle.push(c),
    );
    const activity = new Map([
      ['quiet', 0],
      ['busy', 0],
      ['other', 0],
    ]);
    const closed: string[] = [];
    for (const [c, origin] of [
      ['quiet', 'x'],
      ['busy', 'x'],
      ['other', 'y'],
    ] as const)
      open.add(c, {
        origin,
        activity: () => activity.get(c)!,
        close: async () => {
          closed.push(c);
          open.delete(c);
        },
      });
    expect([open.size, open.countOf('x'), open.countOf('y'), open.countOf('z')]).toEqual([3, 2, 1, 0]);
    now = 99;
    activity.set('busy', 1);
    await open.sweep();
    expect(closed).toEqual([]);
    now = 100;
    activity.set('other', 1);
    await open.sweep();
    expect(closed).toEqual(['quiet']);
    expect(idle).toEqual(['quiet']);
    // busy moved at 99 (seen then) and other at 100: each gets a whole timeout from then on.
    now = 198;
    await open.sweep();
    expect(closed).toEqual(['quiet']);
    now = 200;
    await open.sweep();
    expect(closed).toEqual(['quiet', 'busy', 'other']);
    expect([open.size, open.countOf('x'), open.countOf('y')]).toEqual([0, 0, 0]);
  });
});

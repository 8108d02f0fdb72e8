/**
 * Attacks by an intermediary on real TCP sockets (127.0.0.1): A (initiator) —TCP→ M —TCP→ B
 * (responder, `api` listener, echo exposed to the listener). M forwards everything through a
 * worker under test control (`TamperingHop`) that may alter, drop, replay, hold back or inject
 * frames, or M runs a secure-channel listener of its own. Every attack must be refused, and where
 * the protocol allows the channel must keep carrying honest traffic afterwards.
 *
 * "Refused" is observed without timing: TCP and every worker on the way keep order, so when the
 * reply to an honest message sent *after* the attack arrives, B has already processed (and
 * logged) the attack; and the first reply A gets must be that honest one.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { type Client, type LocalMessage, type Node, OckamError, startEcho, type Vault } from '@ockam/core';
import { createIdentity, createPurposeKey, type Identity } from '@ockam/identity';
import { createVault } from '@ockam/vault';
import { afterEach, describe, expect, it } from 'vitest';
import type { SecureChannelIdentity } from '../src/channel-identity.js';
import { SecureChannelError } from '../src/errors.js';
import { secureChannelIdentity } from '../src/identity-verifier.js';
import { createSecureChannel, type SecureChannel, type SecureChannelOptions } from '../src/secure-channel.js';
import { createSecureChannelListener } from '../src/secure-channel-listener.js';
import { trustEveryone, trustIdentifier } from '../src/trust-policy.js';
import {
  type Crossing,
  contains,
  type Direction,
  flipBit,
  type LogLine,
  TamperingHop,
  type Tap,
  tcpNode,
  until,
} from './tampering-hop.js';

const utf8 = new TextEncoder();
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
/** A frame is nonce (8) ‖ ciphertext ‖ tag (16) (PROTOCOL.md §3.3). */
const NONCE = 8;
const HANDSHAKE_TIMEOUT_MS = 10_000;

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Topology {
  a: Node;
  b: Node;
  m: Node;
  bLines: LogLine[];
  hop: TamperingHop;
  vaultA: Vault;
  alice: Identity;
  bob: Identity;
  client: Client;
  listenerChannels: ReadonlySet<SecureChannel>;
  mRoute: string;
  mListenerId: string;
  /** Opens a channel from A through M's hop to B's `api`, trusting only Bob unless told otherwise. */
  open(options?: Partial<SecureChannelOptions>): Promise<SecureChannel>;
}

async function topology(): Promise<Topology> {
  const b = await tcpNode('bob');
  cleanups.push(() => b.node.stop());
  const m = await tcpNode('intermediary');
  cleanups.push(() => m.node.stop());
  const a = await tcpNode('alice');
  cleanups.push(() => a.node.stop());
  const vaultA = createVault('node');
  const vaultB = createVault('node');
  const [alice, bob] = await Promise.all([createIdentity(vaultA), createIdentity(vaultB)]);
  const listener = await createSecureChannelListener(b.node, {
    identity: bob,
    vault: vaultB,
    trustPolicy: trustIdentifier(alice.identifier),
    consumerOf: [b.listener.flowControlId],
    timeoutMs: HANDSHAKE_TIMEOUT_MS,
  });
  startEcho(b.node);
  b.node.flowControls.addConsumer('echo', listener.flowControlId);
  const hop = new TamperingHop(m.node, m.tcp, m.listener, `127.0.0.1:${b.listener.address.port}`);
  const client = a.node.client({ capacity: 64 });
  const open = async (options: Partial<SecureChannelOptions> = {}) => {
    const channel = await createSecureChannel(a.node, [m.route, hop.address, 'api'], {
      identity: alice,
      vault: vaultA,
      trustPolicy: trustIdentifier(bob.identifier),
      timeoutMs: HANDSHAKE_TIMEOUT_MS,
      ...options,
    });
    a.node.flowControls.addConsumer(client.address, channel.flowControlId);
    return channel;
  };
  return {
    a: a.node,
    b: b.node,
    m: m.node,
    bLines: b.lines,
    hop,
    vaultA,
    alice,
    bob,
    client,
    listenerChannels: listener.channels,
    mRoute: m.route,
    mListenerId: m.listener.flowControlId,
    open,
  };
}

/**
 * Opens a channel and completes one round trip, so that msg3 is behind us and the next message
 * towards B is a data frame.
 */
async function openAndWarmUp(t: Topology): Promise<SecureChannel> {
  const channel = await t.open();
  expect(await roundTrip(t, channel, 'warm-up')).toBe('warm-up');
  return channel;
}

async function send(t: Topology, channel: SecureChannel, message: string): Promise<void> {
  await t.client.send([channel.encryptorAddress, 'echo'], utf8.encode(message));
}

async function reply(t: Topology): Promise<string> {
  return text((await t.client.receive({ timeoutMs: 5_000 })).payload);
}

async function roundTrip(t: Topology, channel: SecureChannel, message: string): Promise<string> {
  await send(t, channel, message);
  return reply(t);
}

/** A tap that applies `act` to the first crossing `pick` selects and forwards everything else. */
function onceTap(pick: (c: Crossing) => boolean, act: (c: Crossing) => LocalMessage[]): Tap {
  let done = false;
  return (c) => {
    if (done || !pick(c)) return [c.message];
    done = true;
    return act(c);
  };
}

/** Selects the next message crossing in `direction` from now on. */
function next(direction: Direction): (c: Crossing) => boolean {
  return (c) => c.direction === direction;
}

function warnings(lines: LogLine[], message: string): string[] {
  return lines.filter((l) => l.level === 'warn' && l.message === message).map((l) => String(l.fields.error));
}

describe('secure channel attacked by an intermediary node over TCP', () => {
  const flips: [string, number, number, RegExp][] = [
    ['the ciphertext', NONCE + 3, 0, /failed authentication/],
    ['the tag', -1, 7, /failed authentication/],
    ['the low bits of the nonce prefix', NONCE - 1, 1, /failed authentication/],
    ['the high bit of the nonce prefix', 0, 7, /more than 32 ahead/],
  ];
  for (const [where, index, bit, reason] of flips) {
    it(`drops a data frame with a bit flipped in ${where} and keeps carrying honest traffic`, async () => {
      const t = await topology();
      const channel = await openAndWarmUp(t);
      t.hop.tap = onceTap(next('toB'), (c) => [
        c.message.withPayload(flipBit(c.message.payload, index, bit)),
      ]);
      await send(t, channel, 'forged');
      await send(t, channel, 'after the forgery');
      expect(await reply(t)).toBe('after the forgery');
      expect(warnings(t.bLines, 'secure channel dropped a frame')).toEqual([expect.stringMatching(reason)]);
      expect(await roundTrip(t, channel, 'still working')).toBe('still working');
    });
  }

  it('drops a replayed frame delivered later and keeps carrying honest traffic', async () => {
    const t = await topology();
    const channel = await openAndWarmUp(t);
    let copy: LocalMessage | undefined;
    t.hop.tap = onceTap(next('toB'), (c) => {
      copy = c.message;
      return [c.message];
    });
    expect(await roundTrip(t, channel, 'pay Mallory 10')).toBe('pay Mallory 10');
    expect(await roundTrip(t, channel, 'something else')).toBe('something else');
    await t.hop.inject('toB', copy!);
    await send(t, channel, 'after the replay');
    expect(await reply(t)).toBe('after the replay');
    expect(warnings(t.bLines, 'secure channel dropped a frame')).toEqual([
      expect.stringMatching(/nonce 1 was already received/),
    ]);
    expect(await roundTrip(t, channel, 'still working')).toBe('still working');
  });

  it('drops a frame held back until 40 later frames went through (outside the 32-frame window)', async () => {
    const t = await topology();
    const channel = await openAndWarmUp(t);
    let held: LocalMessage | undefined;
    t.hop.tap = onceTap(next('toB'), (c) => {
      held = c.message;
      return [];
    });
    await send(t, channel, 'held back');
    for (let i = 0; i < 40; i++) await send(t, channel, `message ${i}`);
    for (let i = 0; i < 40; i++) expect(await reply(t)).toBe(`message ${i}`);
    await t.hop.inject('toB', held!);
    await send(t, channel, 'after the late frame');
    expect(await reply(t)).toBe('after the late frame');
    expect(warnings(t.bLines, 'secure channel dropped a frame')).toEqual([
      expect.stringMatching(/nonce 1 is more than 32 behind 41/),
    ]);
    expect(await roundTrip(t, channel, 'still working')).toBe('still working');
  });

  const truncations: [string, (frame: Uint8Array) => Uint8Array, RegExp][] = [
    ['to fewer bytes than nonce and tag', (f) => f.subarray(0, 20), /shorter than nonce and tag/],
    ['by its last byte', (f) => f.subarray(0, f.length - 1), /failed authentication/],
    ['to its nonce and tag only', (f) => f.subarray(0, NONCE + 16), /failed authentication/],
  ];
  for (const [how, cut, reason] of truncations) {
    it(`drops a data frame truncated ${how} and keeps carrying honest traffic`, async () => {
      const t = await topology();
      const channel = await openAndWarmUp(t);
      t.hop.tap = onceTap(next('toB'), (c) => [c.message.withPayload(cut(c.message.payload).slice())]);
      await send(t, channel, 'a message long enough to cut');
      await send(t, channel, 'after the truncation');
      expect(await reply(t)).toBe('after the truncation');
      expect(warnings(t.bLines, 'secure channel dropped a frame')).toEqual([expect.stringMatching(reason)]);
      expect(await roundTrip(t, channel, 'still working')).toBe('still working');
    });
  }

  it('fails the handshake when the intermediary swaps the encrypted static key in msg2', async () => {
    const t = await topology();
    // msg2 = e (32) ‖ encrypted s (48) ‖ encrypted payload (PROTOCOL.md §3.1). Capture Bob's
    // encrypted static from one session and splice it into the next one's msg2.
    let captured: Uint8Array | undefined;
    t.hop.tap = onceTap(next('toA'), (c) => {
      captured = c.message.payload.slice(32, 80);
      return [c.message];
    });
    const first = await t.open();
    await first.close();
    t.hop.tap = onceTap(next('toA'), (c) => {
      const msg2 = c.message.payload.slice();
      msg2.set(captured!, 32);
      return [c.message.withPayload(msg2)];
    });
    const error = await t.open().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecureChannelError);
    expect(OckamError.isKind(error, 'protocol', 'channel')).toBe(true);
    expect((error as Error).message).toMatch(/Noise message failed authentication/);
    const honest = await t.open();
    expect(honest.peerIdentifier).toBe(t.bob.identifier);
    expect(await roundTrip(t, honest, 'after the swap')).toBe('after the swap');
  });

  it('makes the responder refuse msg3 when the intermediary swaps its encrypted static key', async () => {
    const t = await topology();
    // msg3 = encrypted s (48) ‖ encrypted payload; it is the second message towards B.
    const towardsB = () => {
      let seen = 0;
      return (c: Crossing) => c.direction === 'toB' && ++seen === 2;
    };
    let captured: Uint8Array | undefined;
    t.hop.tap = onceTap(towardsB(), (c) => {
      captured = c.message.payload.slice(0, 48);
      return [c.message];
    });
    const first = await t.open();
    expect(await roundTrip(t, first, 'first session')).toBe('first session');
    await first.close();
    await until(() => t.listenerChannels.size === 0, 'the first channel to close on B');
    t.hop.tap = onceTap(towardsB(), (c) => {
      const msg3 = c.message.payload.slice();
      msg3.set(captured!, 0);
      return [c.message.withPayload(msg3)];
    });
    // XX sends nothing after msg3, so the initiator cannot tell; the responder must refuse.
    await t.open();
    await until(() => warnings(t.bLines, 'secure channel handshake failed').length > 0, 'B to refuse msg3');
    expect(warnings(t.bLines, 'secure channel handshake failed')).toEqual([
      expect.stringMatching(/Noise message failed authentication/),
    ]);
    expect(t.listenerChannels.size).toBe(0);
    t.hop.tap = undefined;
    const honest = await t.open();
    expect(await roundTrip(t, honest, 'after the swap')).toBe('after the swap');
    expect([...t.listenerChannels].map((c) => c.peerIdentifier)).toEqual([t.alice.identifier]);
  });

  const attestations: [string, (t: Topology, me: SecureChannelIdentity) => Promise<Uint8Array>, RegExp][] = [
    [
      'whose signature was tampered with',
      async (_t, me) => flipBit(me.purposeKeyAttestation, -1),
      /identity or purpose key does not verify/,
    ],
    [
      'signed by another identity',
      async () => {
        const vault = createVault('node');
        return (await createPurposeKey(vault, await createIdentity(vault), 'secure-channel')).encoded;
      },
      /identity or purpose key does not verify/,
    ],
    [
      'for another key of the same identity',
      async (t) => (await createPurposeKey(t.vaultA, t.alice, 'secure-channel')).encoded,
      /Noise static key of I[0-9a-f]{64} is not its attested secure-channel purpose key/,
    ],
  ];
  for (const [what, attestation, reason] of attestations) {
    it(`makes the responder refuse an initiator presenting a purpose-key attestation ${what}`, async () => {
      const t = await topology();
      const me = await secureChannelIdentity(t.vaultA, t.alice);
      const forged: SecureChannelIdentity = { ...me, purposeKeyAttestation: await attestation(t, me) };
      await t.open({ identity: forged });
      await until(() => warnings(t.bLines, 'secure channel handshake failed').length > 0, 'B to refuse');
      expect(warnings(t.bLines, 'secure channel handshake failed')).toEqual([expect.stringMatching(reason)]);
      expect(t.listenerChannels.size).toBe(0);
      const honest = await t.open({ identity: me });
      expect(await roundTrip(t, honest, 'honest')).toBe('honest');
      expect([...t.listenerChannels].map((c) => c.peerIdentifier)).toEqual([t.alice.identifier]);
    });
  }

  describe('a man in the middle with its own identity', () => {
    async function mallory(t: Topology) {
      const vault = createVault('node');
      const identity = await createIdentity(vault);
      const listener = await createSecureChannelListener(t.m, {
        identity,
        vault,
        consumerOf: [t.mListenerId],
        timeoutMs: HANDSHAKE_TIMEOUT_MS,
      });
      const read: string[] = [];
      t.m.startWorker('echo', {
        async handleMessage(ctx, { message }) {
          read.push(text(message.payload));
          await ctx.send(message.returnRoute, message.payload);
        },
      });
      t.m.flowControls.addConsumer('echo', listener.flowControlId);
      return { identifier: identity.identifier, read };
    }

    it('is refused by an initiator that trusts only B, with a reason naming the identifier it proved', async () => {
      const t = await topology();
      const m = await mallory(t);
      const channelWorkers = () => t.a.addresses().filter((a) => !a.value.startsWith('tcp_')).length;
      const before = channelWorkers();
      // The route goes to M's listener instead of B's.
      const refused = await createSecureChannel(t.a, [t.mRoute, 'api'], {
        identity: t.alice,
        vault: t.vaultA,
        trustPolicy: trustIdentifier(t.bob.identifier),
        timeoutMs: HANDSHAKE_TIMEOUT_MS,
      }).catch((e: unknown) => e);
      expect(OckamError.isKind(refused, 'permission', 'channel')).toBe(true);
      expect((refused as Error).message).toContain(m.identifier);
      expect(channelWorkers()).toBe(before); // no channel workers left behind
      expect(m.read).toEqual([]);
    });

    it('is accepted by an initiator that trusts everyone, which then talks to M, not B', async () => {
      const t = await topology();
      const m = await mallory(t);
      const channel = await createSecureChannel(t.a, [t.mRoute, 'api'], {
        identity: t.alice,
        vault: t.vaultA,
        trustPolicy: trustEveryone,
        timeoutMs: HANDSHAKE_TIMEOUT_MS,
      });
      t.a.flowControls.addConsumer(t.client.address, channel.flowControlId);
      // This is why `--authorized` (trustIdentifier) matters: the channel is genuine, with M.
      expect(channel.peerIdentifier).toBe(m.identifier);
      expect(channel.peerIdentifier).not.toBe(t.bob.identifier);
      expect(await roundTrip(t, channel, 'meant for B')).toBe('meant for B');
      expect(m.read).toEqual(['meant for B']);
    });
  });

  it('lets the intermediary see only ciphertext, identities included', async () => {
    const t = await topology();
    const channel = await t.open();
    const marker = 'PLAINTEXT-MARKER-0f3a';
    const messages = [64, 1024, 16 * 1024, 48 * 1024].map((size) =>
      `${marker} `.repeat(Math.ceil(size / (marker.length + 1))).slice(0, size),
    );
    for (const message of messages) expect(await roundTrip(t, channel, message)).toBe(message);
    await channel.close();
    // msg1, msg2, msg3, four frames each way, Close.
    await until(() => t.hop.seen.length === 3 + 2 * messages.length + 1, 'Close to cross M');
    const directions = new Set(t.hop.seen.map((s) => s.direction));
    expect(directions).toEqual(new Set(['toA', 'toB']));
    const me = await secureChannelIdentity(t.vaultA, t.alice);
    const secrets = [
      utf8.encode(marker),
      // XX encrypts both identities: neither change history nor attestation crosses in clear.
      t.alice.changeHistory,
      t.bob.changeHistory,
      me.purposeKeyAttestation,
    ];
    for (const { payload } of t.hop.seen) for (const s of secrets) expect(contains(payload, s)).toBe(false);
  });
});

const HOP_PROCESS = fileURLToPath(new URL('./fixtures/hop-process.mjs', import.meta.url));

describe('secure channel through an intermediary in another process', () => {
  it('passes only ciphertext through it, and a frame it corrupts is dropped while the channel keeps working', async () => {
    const b = await tcpNode('bob');
    cleanups.push(() => b.node.stop());
    const a = await tcpNode('alice');
    cleanups.push(() => a.node.stop());
    const vaultA = createVault('node');
    const vaultB = createVault('node');
    const [alice, bob] = await Promise.all([createIdentity(vaultA), createIdentity(vaultB)]);
    const listener = await createSecureChannelListener(b.node, {
      identity: bob,
      vault: vaultB,
      trustPolicy: trustIdentifier(alice.identifier),
      consumerOf: [b.listener.flowControlId],
    });
    startEcho(b.node);
    b.node.flowControls.addConsumer('echo', listener.flowControlId);

    const child = fork(HOP_PROCESS, [String(b.listener.address.port)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    cleanups.push(() => stopChild(child));
    const { port } = (await nextMessage(child)) as { port: number };

    const channel = await createSecureChannel(a.node, [`1#127.0.0.1:${port}`, 'hop', 'api'], {
      identity: alice,
      vault: vaultA,
      trustPolicy: trustIdentifier(bob.identifier),
    });
    expect(channel.peerIdentifier).toBe(bob.identifier);
    const client = a.node.client();
    a.node.flowControls.addConsumer(client.address, channel.flowControlId);
    const request = async (message: string) =>
      text((await client.request([channel.encryptorAddress, 'echo'], utf8.encode(message))).payload);

    const marker = 'CROSS-PROCESS-SECRET';
    expect(await request(marker)).toBe(marker);
    child.send({ cmd: 'flip-next-to-b' });
    expect(await nextMessage(child)).toEqual({ ok: 'armed' });
    await client.send([channel.encryptorAddress, 'echo'], utf8.encode(`${marker} forged`));
    expect(await request('after the forgery')).toBe('after the forgery');
    expect(warnings(b.lines, 'secure channel dropped a frame')).toEqual([
      expect.stringMatching(/failed authentication/),
    ]);

    child.send({ cmd: 'seen' });
    const { seen } = (await nextMessage(child)) as { seen: string[] };
    // msg1, msg2, msg3, then three requests (one forged) and the two replies that came back.
    expect(seen.length).toBe(3 + 3 + 2);
    for (const hex of seen) expect(contains(Buffer.from(hex, 'hex'), utf8.encode(marker))).toBe(false);
    await channel.close();
  });
});

function nextMessage(child: ChildProcess): Promise<unknown> {
  return once(child, 'message').then(([m]) => m);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

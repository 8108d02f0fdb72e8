import {
  decodeBareString,
  encodeBareString,
  type LocalMessage,
  type Node,
  OckamError,
  Route,
  startHop,
  type Vault,
} from '@ockam/core';
import { createIdentity, type Identity } from '@ockam/identity';
import { createSecureChannel, createSecureChannelListener } from '@ockam/secure-channel';
import { createVault } from '@ockam/vault';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createRelay,
  RELAY_REFUSED_PREFIX,
  type RelayServiceOptions,
  type RouteConnector,
  startRelayService,
} from '../src/index.js';
import { listeningNode, type TestNode, testNode, waitFor } from './helpers.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const FAST = { pingIntervalMs: 100, maxMissedPings: 3, retryInitialMs: 50, retryMaxMs: 200 };

/** A relay node: TCP listener, a secure channel listener at `api`, the relay service exposed to both. */
async function relayNode(options: RelayServiceOptions = {}) {
  const r = await listeningNode('relay-node');
  cleanups.push(() => r.node.stop());
  const vault = createVault('node');
  const api = await createSecureChannelListener(r.node, {
    identity: await createIdentity(vault),
    vault,
    consumerOf: [r.listener.flowControlId],
  });
  r.node.flowControls.addConsumer('echo', api.flowControlId);
  const service = startRelayService(r.node, {
    consumerOf: [r.listener.flowControlId, api.flowControlId],
    ...options,
  });
  return { ...r, service, tcpRoute: [`1#127.0.0.1:${r.port}`] };
}

/** A node with an `inbox` worker that records what reaches it. */
function inboxNode(name: string): TestNode & { inbox: string[] } {
  const t = testNode(name);
  cleanups.push(() => t.node.stop());
  const inbox: string[] = [];
  t.node.startWorker('inbox', {
    handleMessage: (_ctx, { message }) => {
      inbox.push(decodeBareString(message.payload, 'test message'));
    },
  });
  return { ...t, inbox };
}

/** Builds a fresh secure channel to the relay node at every call, as `ockam relay create --at …/secure/api` does. */
function throughChannel(node: Node, port: number, identity: Identity, vault: Vault): RouteConnector {
  return async (signal) => {
    const channel = await createSecureChannel(node, [`1#127.0.0.1:${port}`, 'api'], {
      identity,
      vault,
      timeoutMs: 5_000,
      signal,
    });
    return {
      route: Route.of(channel.encryptorAddress),
      flowControlId: channel.flowControlId,
      close: () => channel.close(),
    };
  };
}

/** Sends `text` from a fresh node to `forward_to_<name>/inbox` on the relay node (the node stays up until the test ends). */
async function sendThroughRelay(port: number, name: string, text: string): Promise<void> {
  const s = testNode('sender');
  cleanups.push(() => s.node.stop());
  const client = s.node.client();
  await client.send(
    await s.node.resolveRoute([`1#127.0.0.1:${port}`, `forward_to_${name}`, 'inbox']),
    encodeBareString(text),
  );
}

function permissionError(e: unknown): boolean {
  return OckamError.isKind(e, 'permission', 'application');
}

describe('relay names belong to their registrant', () => {
  it('a plain connection cannot take a name another connection holds: it is refused with the reason, and traffic still reaches the holder', async () => {
    const r = await relayNode();
    const victim = inboxNode('victim');
    const relay = await createRelay(victim.node, r.tcpRoute, 'default', { exposeTo: ['inbox'] });
    cleanups.push(() => relay.stop());

    const attacker = inboxNode('attacker');
    const refused = await createRelay(attacker.node, r.tcpRoute, 'default', {
      exposeTo: ['inbox'],
      registrationTimeoutMs: 5_000,
    }).catch((e: unknown) => e);
    expect(permissionError(refused)).toBe(true);
    expect((refused as Error).message).toMatch(
      /refused by the relay node: the name is held by another registrant/,
    );

    await sendThroughRelay(r.port, 'default', 'for the victim');
    await waitFor(() => victim.inbox.length === 1, 'the victim receives');
    expect(victim.inbox).toEqual(['for the victim']);
    expect(attacker.inbox).toEqual([]);
    expect(r.service.relays()).toEqual(['forward_to_default']);
  });

  it('a name held by an identity is refused to another identity and to a plain connection; the same identity registers it again over a new channel', async () => {
    const r = await relayNode();
    const vault = createVault('node');
    const victimIdentity = await createIdentity(vault);
    const victim = inboxNode('victim');
    const relay = await createRelay(
      victim.node,
      throughChannel(victim.node, r.port, victimIdentity, vault),
      'default',
      { exposeTo: ['inbox'], session: FAST },
    );
    cleanups.push(() => relay.stop());

    const attacker = inboxNode('attacker');
    const otherIdentity = await createIdentity(vault);
    for (const route of [throughChannel(attacker.node, r.port, otherIdentity, vault), r.tcpRoute]) {
      const e = await createRelay(attacker.node, route, 'default', { exposeTo: ['inbox'] }).catch(
        (x: unknown) => x,
      );
      expect(permissionError(e)).toBe(true);
    }
    await sendThroughRelay(r.port, 'default', 'one');
    await waitFor(() => victim.inbox.length === 1, 'the victim receives');

    // The victim restarts: a new node with the same identity registers over a new channel.
    await relay.stop();
    const again = inboxNode('victim-again');
    const second = await createRelay(
      again.node,
      throughChannel(again.node, r.port, victimIdentity, vault),
      'default',
      { exposeTo: ['inbox'] },
    );
    cleanups.push(() => second.stop());
    await sendThroughRelay(r.port, 'default', 'two');
    await waitFor(() => again.inbox.length === 1, 'the restarted victim receives');
    expect(again.inbox).toEqual(['two']);
    expect(attacker.inbox).toEqual([]);
  });

  it('the same identity takes its name over a new route while the old route is still open', async () => {
    const r = await relayNode();
    const vault = createVault('node');
    const identity = await createIdentity(vault);
    const first = inboxNode('first');
    const one = await createRelay(first.node, throughChannel(first.node, r.port, identity, vault), 'db', {
      exposeTo: ['inbox'],
    });
    cleanups.push(() => one.stop());
    const second = inboxNode('second');
    const two = await createRelay(second.node, throughChannel(second.node, r.port, identity, vault), 'db', {
      exposeTo: ['inbox'],
    });
    cleanups.push(() => two.stop());
    await sendThroughRelay(r.port, 'db', 'latest route');
    await waitFor(() => second.inbox.length === 1, 'the newest registration receives');
    expect(first.inbox).toEqual([]);
  });

  it('a relay registered over plain TCP dies with its connection: another connection may then take the name', async () => {
    const r = await relayNode();
    const first = inboxNode('first');
    await createRelay(first.node, r.tcpRoute, 'web', { exposeTo: ['inbox'] });
    expect(r.service.relays()).toEqual(['forward_to_web']);
    // The registrant goes away without a word: its connection closes.
    await first.node.stop();
    await waitFor(() => r.service.relays().length === 0, 'the relay is gone');
    const second = inboxNode('second');
    const relay = await createRelay(second.node, r.tcpRoute, 'web', { exposeTo: ['inbox'] });
    cleanups.push(() => relay.stop());
    await sendThroughRelay(r.port, 'web', 'hello');
    await waitFor(() => second.inbox.length === 1, 'the new holder receives');
  });

  it('a relay the node registers at itself lives until it is stopped, and no connection may take its name', async () => {
    const r = await relayNode();
    const inbox: string[] = [];
    r.node.startWorker('inbox', {
      handleMessage: (_ctx, { message }) => {
        inbox.push(decodeBareString(message.payload, 'test message'));
      },
    });
    const relay = await createRelay(r.node, [], 'local', { exposeTo: [] });
    cleanups.push(() => relay.stop());
    const attacker = inboxNode('attacker');
    const e = await createRelay(attacker.node, r.tcpRoute, 'local', { exposeTo: [] }).catch(
      (x: unknown) => x,
    );
    expect(permissionError(e)).toBe(true);
    await sendThroughRelay(r.port, 'local', 'to the node itself');
    await waitFor(() => inbox.length === 1, 'the local registrant receives');
    expect(r.service.relays()).toEqual(['forward_to_local']);
  });

  it('requireSecureChannel refuses plain registrations and accepts one through a secure channel', async () => {
    const r = await relayNode({ requireSecureChannel: true });
    const n = inboxNode('registrant');
    const e = await createRelay(n.node, r.tcpRoute, 'x', { exposeTo: ['inbox'] }).catch((x: unknown) => x);
    expect(permissionError(e)).toBe(true);
    expect((e as Error).message).toMatch(/through secure channels only/);
    const vault = createVault('node');
    const relay = await createRelay(
      n.node,
      throughChannel(n.node, r.port, await createIdentity(vault), vault),
      'x',
      {
        exposeTo: ['inbox'],
      },
    );
    cleanups.push(() => relay.stop());
    expect(r.service.relays()).toEqual(['forward_to_x']);
  });

  it('logs each refusal reason once, however many attempts', async () => {
    const r = await relayNode();
    const victim = inboxNode('victim');
    const relay = await createRelay(victim.node, r.tcpRoute, 'default', { exposeTo: ['inbox'] });
    cleanups.push(() => relay.stop());
    const attacker = inboxNode('attacker');
    const conn = await attacker.node.resolveRoute(r.tcpRoute);
    const client = attacker.node.client();
    attacker.node.flowControls.addConsumer(client.address, attacker.tcp.connections()[0]!.flowControlId);
    for (let i = 0; i < 50; i++)
      await client.send(conn.append('forwarding_service'), encodeBareString('default'));
    for (let i = 0; i < 50; i++)
      await client.send(conn.append('forwarding_service'), Uint8Array.of(0xff, 0xff));
    const answers: LocalMessage[] = [];
    while (answers.length < 100) answers.push(await client.receive({ timeoutMs: 5_000 }));
    expect(new Set(answers.map((a) => decodeBareString(a.payload, 'answer')))).toEqual(
      new Set([
        `${RELAY_REFUSED_PREFIX}the name is held by another registrant`,
        `${RELAY_REFUSED_PREFIX}the registration is not a BARE string`,
      ]),
    );
    const refusals = r.lines.filter((l) => l.message.startsWith('relay registration refused'));
    expect(refusals.map((l) => l.fields?.reason)).toEqual(['name-held', 'malformed']);
    await client.stop();
  });

  it('refuses a plain registration that comes through hop, whose address would stand for every connection behind it', async () => {
    const r = await relayNode();
    startHop(r.node);
    r.node.flowControls.addConsumer('hop', r.listener.flowControlId);
    const attacker = inboxNode('attacker');
    const conn = await attacker.node.resolveRoute(r.tcpRoute);
    const client = attacker.node.client();
    attacker.node.flowControls.addConsumer(client.address, attacker.tcp.connections()[0]!.flowControlId);
    await client.send(conn.append('hop').append('forwarding_service'), encodeBareString('via-hop'));
    const answer = await client.receive({ timeoutMs: 5_000 });
    expect(decodeBareString(answer.payload, 'answer')).toBe(
      `${RELAY_REFUSED_PREFIX}a registration without a secure channel must come straight from its connection`,
    );
    expect(r.service.relays()).toEqual([]);
    await client.stop();
  });

  it('caps the relays of one registrant and of the whole service', async () => {
    const r = await relayNode({ maxRelays: 3, maxRelaysPerRegistrant: 2 });
    const a = inboxNode('a');
    const relays = [];
    for (const name of ['a1', 'a2'])
      relays.push(await createRelay(a.node, r.tcpRoute, name, { exposeTo: [] }));
    const e = await createRelay(a.node, r.tcpRoute, 'a3', { exposeTo: [] }).catch((x: unknown) => x);
    expect((e as Error).message).toMatch(/this registrant holds as many relays as the node allows/);
    const b = inboxNode('b');
    relays.push(await createRelay(b.node, r.tcpRoute, 'b1', { exposeTo: [] }));
    const full = await createRelay(b.node, r.tcpRoute, 'b2', { exposeTo: [] }).catch((x: unknown) => x);
    expect((full as Error).message).toMatch(/this node holds as many relays as it allows/);
    for (const relay of relays) cleanups.push(() => relay.stop());
    expect(r.service.relays().sort()).toEqual(['forward_to_a1', 'forward_to_a2', 'forward_to_b1']);
  });

  it('gives no answer to a refused "register", which an Ockam Rust registrant would take as a success', async () => {
    const r = await relayNode({ requireSecureChannel: true });
    const n = testNode('registrant');
    cleanups.push(() => n.node.stop());
    const e = await createRelay(n.node, r.tcpRoute, 'register', {
      exposeTo: [],
      registrationTimeoutMs: 300,
    }).catch((x: unknown) => x);
    expect(OckamError.isKind(e, 'timeout')).toBe(true);
    expect(r.lines.some((l) => l.fields?.reason === 'secure-channel-required')).toBe(true);
  });
});

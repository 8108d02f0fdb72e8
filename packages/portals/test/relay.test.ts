import { randomBytes } from 'node:crypto';
import { bytesEqual, type LocalMessage, Route } from '@ockam/core';
import { createIdentity } from '@ockam/identity';
import { createSecureChannel, createSecureChannelListener } from '@ockam/secure-channel';
import { createVault } from '@ockam/vault';
import { afterEach, describe, expect, it } from 'vitest';
import { createInlet, createOutlet, createRelay, startRelayService } from '../src/index.js';
import { httpGetBody, httpTarget, listeningNode, sha256, testNode } from './helpers.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function contains(haystack: Uint8Array, needle: Buffer): boolean {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).includes(needle);
}

describe('relays', () => {
  it('register a name and answer from forward_to_<name>', async () => {
    const r = await listeningNode('relay-node');
    cleanups.push(() => r.node.stop());
    const service = startRelayService(r.node, { consumerOf: [r.listener.flowControlId] });
    const o = testNode('registrant');
    cleanups.push(() => o.node.stop());
    const relay = await createRelay(o.node, [`1#127.0.0.1:${r.port}`], 'db', { exposeTo: [] });
    cleanups.push(() => relay.stop());
    expect(relay.remoteAddress).toBe('forward_to_db');
    expect(relay.status).toBe('up');
    expect(service.relays()).toEqual(['forward_to_db']);
  });

  it('give a random name to "register"', async () => {
    const r = await listeningNode('relay-node');
    cleanups.push(() => r.node.stop());
    startRelayService(r.node, { consumerOf: [r.listener.flowControlId] });
    const o = testNode('registrant');
    cleanups.push(() => o.node.stop());
    const relay = await createRelay(o.node, [`1#127.0.0.1:${r.port}`], 'register', { exposeTo: [] });
    cleanups.push(() => relay.stop());
    expect(relay.remoteAddress).toMatch(/^forward_to_[0-9a-f]{32}$/);
  });

  it('refuse a name that authorize rejects, and the client fails with a clear error', async () => {
    const r = await listeningNode('relay-node');
    cleanups.push(() => r.node.stop());
    startRelayService(r.node, {
      consumerOf: [r.listener.flowControlId],
      authorize: (name) => name === 'allowed',
    });
    const o = testNode('registrant');
    cleanups.push(() => o.node.stop());
    await expect(createRelay(o.node, [`1#127.0.0.1:${r.port}`], 'other', { exposeTo: [] })).rejects.toThrow(
      /refused by the relay node: not authorized for this name/,
    );
    expect(r.lines.some((l) => l.message.includes('not authorized'))).toBe(true);
    const ok = await createRelay(o.node, [`1#127.0.0.1:${r.port}`], 'allowed', { exposeTo: [] });
    await ok.stop();
  });

  it('carry a portal from an inlet node to an outlet node through a relay node that only sees ciphertext', async () => {
    const secret = `top-secret-${randomBytes(8).toString('hex')}`;
    const body = Buffer.concat([Buffer.from(secret), randomBytes(1024 * 1024), Buffer.from(secret)]);
    const http = await httpTarget(body);
    cleanups.push(() => http.stop());

    // R: the relay node. Record every payload it routes.
    const r = await listeningNode('relay-node');
    cleanups.push(() => r.node.stop());
    startRelayService(r.node, { consumerOf: [r.listener.flowControlId] });
    const seen: Uint8Array[] = [];
    const route = r.node.route.bind(r.node);
    r.node.route = (source, message: LocalMessage) => {
      seen.push(message.payload.slice());
      return route(source, message);
    };

    // O: the outlet node, reachable only through its relay; a secure channel listener at `api`.
    const vault = createVault('node');
    const o = testNode('outlet-node');
    cleanups.push(() => o.node.stop());
    const oIdentity = await createIdentity(vault);
    const scListener = await createSecureChannelListener(o.node, { identity: oIdentity, vault });
    o.node.flowControls.addConsumer('echo', scListener.flowControlId);
    const { startEcho } = await import('@ockam/core');
    startEcho(o.node);
    createOutlet(o.node, {
      to: `127.0.0.1:${http.port}`,
      consumerOf: [scListener.flowControlId],
      lingerMs: 50,
    });
    const relay = await createRelay(o.node, [`1#127.0.0.1:${r.port}`], 'o1');
    cleanups.push(() => relay.stop());
    expect(relay.remoteAddress).toBe('forward_to_o1');

    // I: the inlet node; a channel end to end to O through the relay.
    const i = testNode('inlet-node');
    cleanups.push(() => i.node.stop());
    const iIdentity = await createIdentity(vault);
    const inlet = await createInlet(i.node, {
      bind: '127.0.0.1:0',
      lingerMs: 50,
      route: async () => {
        const channel = await createSecureChannel(
          i.node,
          [`1#127.0.0.1:${r.port}`, relay.remoteAddress, 'api'],
          {
            identity: iIdentity,
            vault,
          },
        );
        return {
          route: Route.of(channel.encryptorAddress, 'outlet'),
          flowControlId: channel.flowControlId,
          close: () => channel.close(),
        };
      },
    });
    cleanups.push(() => inlet.stop());
    expect(inlet.status).toBe('up');

    const received = await httpGetBody(inlet.address.port);
    expect(sha256(received)).toBe(sha256(body));
    const marker = Buffer.from(secret);
    const total = seen.reduce((n, p) => n + p.length, 0);
    expect(total).toBeGreaterThan(body.length);
    expect(seen.some((p) => contains(p, marker))).toBe(false);
    expect(seen.some((p) => bytesEqual(p.subarray(0, 1), Uint8Array.of(3)) && contains(p, marker))).toBe(
      false,
    );
  });
});

/** @ockam/abac's outgoing access control against real secure channels (it reads the encryptor's metadata). */
import { abacOutgoingAccessControl } from '@ockam/abac';
import { Node } from '@ockam/core';
import { afterEach, expect, it } from 'vitest';
import { MemoryAttributesStore } from '../src/index.js';
import { actor, connect, listeningNode } from './harness.js';
import { nowSeconds, until } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

it('an outgoing access control lets a worker send only to channel peers the policy allows', async () => {
  const authority = `I${'a'.repeat(64)}`;
  const [dbActor, webActor, me] = await Promise.all([actor(), actor(), actor()]);
  const db = await listeningNode('db', dbActor);
  const web = await listeningNode('web', webActor);
  cleanups.push(
    () => db.node.stop(),
    () => web.node.stop(),
  );
  const received: string[] = [];
  for (const [name, n] of [
    ['db', db],
    ['web', web],
  ] as const) {
    n.node.startWorker('inbox', { handleMessage: () => void received.push(name) });
    n.node.flowControls.addConsumer('inbox', n.channels.flowControlId);
  }
  const attributes = new MemoryAttributesStore();
  attributes.putAttributes(dbActor.identity.identifier, {
    attributes: new Map([['component.db', new TextEncoder().encode('true')]]),
    attestedBy: authority,
    addedAt: nowSeconds(),
  });
  const edge = new Node({ name: 'edge' });
  cleanups.push(() => edge.stop());
  const toDb = await connect(edge, db.port, me, dbActor.identity);
  const toWeb = await connect(edge, web.port, me, webActor.identity);
  const outlet = edge.startWorker(
    'outlet',
    { handleMessage() {} },
    {
      outgoing: abacOutgoingAccessControl({ node: edge, expression: 'component.db', attributes, authority }),
    },
  );
  await outlet.send([...toWeb.via, 'inbox'], new Uint8Array([1]));
  await outlet.send([...toDb.via, 'inbox'], new Uint8Array([2]));
  await until(() => received.length > 0);
  await new Promise((r) => setTimeout(r, 50));
  expect(received).toEqual(['db']);
});

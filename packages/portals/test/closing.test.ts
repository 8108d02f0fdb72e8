import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createInlet, createOutlet, type Inlet, type Outlet } from '../src/index.js';
import {
  closeServer,
  collect,
  connectTo,
  listeningNode,
  listenOn,
  sleep,
  type TestNode,
  tcpHandles,
  testNode,
  waitFor,
} from './helpers.js';

const LINGER_MS = 30;

interface Setup {
  o: TestNode;
  i: TestNode;
  inlet: Inlet;
  outlet: Outlet;
  /** Server-side sockets of the target, as it accepted them. */
  accepted: Socket[];
  stop(): Promise<void>;
}

/** Two nodes over TCP; the target runs `onSocket` for each connection (allowHalfOpen). */
async function setup(onSocket: (socket: Socket) => void): Promise<Setup> {
  const accepted: Socket[] = [];
  const target = createServer({ allowHalfOpen: true }, (socket) => {
    accepted.push(socket);
    socket.on('error', () => {});
    onSocket(socket);
  });
  const port = await listenOn(target);
  const o = await listeningNode('outlet-node');
  const outlet = createOutlet(o.node, {
    to: `127.0.0.1:${port}`,
    consumerOf: [o.listener.flowControlId],
    lingerMs: LINGER_MS,
  });
  const i = testNode('inlet-node');
  const inlet = await createInlet(i.node, {
    bind: '127.0.0.1:0',
    route: [`1#127.0.0.1:${o.listener.address.port}`, 'outlet'],
    lingerMs: LINGER_MS,
  });
  return {
    o,
    i,
    inlet,
    outlet,
    accepted,
    stop: async () => {
      for (const s of accepted) s.destroy();
      await inlet.stop();
      await outlet.stop();
      await i.node.stop();
      await o.node.stop();
      await closeServer(target);
    },
  };
}

let current: Setup | undefined;
afterEach(async () => {
  await current?.stop();
  current = undefined;
});

const once = (s: Socket, event: string): Promise<void> => new Promise((r) => s.once(event, () => r()));

describe('portal connections', () => {
  it('forward a client half-close after its data, and still carry the reply', async () => {
    // The target reads to EOF, then answers and closes (what `nc -N` clients rely on).
    current = await setup((socket) => {
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('end', () => socket.end(`got ${Buffer.concat(chunks).length} bytes`));
    });
    const client = await connectTo(current.inlet.address.port, { allowHalfOpen: true });
    const reply = collect(client);
    client.write(Buffer.alloc(200_000, 1));
    client.end();
    const { data } = await reply;
    expect(data.toString()).toBe('got 200000 bytes');
    await waitFor(
      () => current!.inlet.connections() === 0 && current!.outlet.connections() === 0,
      'portals closed',
    );
  });

  it('close the client promptly when the target closes', async () => {
    current = await setup((socket) => socket.end('bye'));
    const client = await connectTo(current.inlet.address.port);
    const started = Date.now();
    const { data } = await collect(client);
    expect(data.toString()).toBe('bye');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('destroy the target side when the client resets its connection', async () => {
    current = await setup((socket) => socket.pipe(socket));
    const client = await connectTo(current.inlet.address.port);
    client.write('ping');
    await once(client, 'data');
    const target = current.accepted[0]!;
    const targetClosed = once(target, 'close');
    const started = Date.now();
    client.resetAndDestroy();
    await targetClosed;
    expect(Date.now() - started).toBeLessThan(2_000);
    await waitFor(
      () => current!.inlet.connections() === 0 && current!.outlet.connections() === 0,
      'portals closed',
    );
  });

  it('reset the client when the target resets', async () => {
    current = await setup(() => {});
    const client = await connectTo(current.inlet.address.port);
    await waitFor(
      () => current!.accepted.length === 1 && current!.outlet.connections() === 1,
      'target connection',
    );
    const closed = collect(client);
    current.accepted[0]!.resetAndDestroy();
    await closed;
    await waitFor(
      () => current!.inlet.connections() === 0 && current!.outlet.connections() === 0,
      'portals closed',
    );
  });

  it('leave no sockets, workers or handles behind after many opens and closes of every kind', async () => {
    current = await setup((socket) => {
      socket.on('data', (c: Buffer) => {
        if (c.includes('close')) socket.end();
        else if (c.includes('reset')) socket.resetAndDestroy();
        else socket.write(c);
      });
      socket.on('end', () => socket.end());
    });
    const { i, o } = current;
    // A first connection settles the TCP connection between the nodes and the session.
    const warm = await connectTo(current.inlet.address.port);
    warm.write('x');
    await once(warm, 'data');
    warm.end();
    await waitFor(() => current!.accepted.every((s) => s.destroyed), 'warm-up closed');
    await sleep(LINGER_MS * 3);
    const baseline = { i: i.node.addresses().length, o: o.node.addresses().length, handles: tcpHandles() };

    const kinds = ['client-end', 'client-reset', 'server-close', 'server-reset', 'client-destroy'] as const;
    await Promise.all(
      Array.from({ length: 50 }, async (_, n) => {
        const kind = kinds[n % kinds.length]!;
        const client = await connectTo(current!.inlet.address.port, { allowHalfOpen: kind === 'client-end' });
        const done = collect(client);
        client.write(`hello ${n}`);
        await once(client, 'data');
        switch (kind) {
          case 'client-end':
            client.end();
            break;
          case 'client-reset':
            client.resetAndDestroy();
            break;
          case 'client-destroy':
            client.destroy();
            break;
          case 'server-close':
            client.write('close');
            break;
          case 'server-reset':
            client.write('reset');
            break;
        }
        await done;
      }),
    );
    await waitFor(
      () => current!.inlet.connections() === 0 && current!.outlet.connections() === 0,
      'portal connections closed',
    );
    await waitFor(() => current!.accepted.every((s) => s.destroyed), 'target sockets closed');
    await waitFor(
      () => i.node.addresses().length === baseline.i && o.node.addresses().length === baseline.o,
      'portal workers stopped',
    );
    await waitFor(() => tcpHandles() === baseline.handles, 'tcp handles released');
    expect(i.tcp.connections().length).toBe(1);
  });
});

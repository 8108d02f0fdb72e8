import { describe, expect, it } from 'vitest';
import {
  Address,
  allowSourceAddresses,
  createLogger,
  decodeBareString,
  encodeBareString,
  LocalMessage,
  type LogFields,
  Node,
  noopLogger,
  OckamError,
  Route,
  type RoutedMessage,
  startEcho,
  startHop,
  startUppercase,
} from '../src/index.js';

function capturingLogger() {
  const lines: Array<{ level: string; message: string; fields: LogFields }> = [];
  const logger = createLogger('trace', (level, message, fields) => lines.push({ level, message, fields }));
  return { logger, lines };
}

describe('router', () => {
  it('delivers to echo and uppercase and returns replies to the sender', async () => {
    const node = new Node({ logger: noopLogger });
    startEcho(node);
    startUppercase(node);
    const client = node.client();
    const echoed = await client.request(['echo'], new Uint8Array([1, 2, 3]));
    expect([...echoed.payload]).toEqual([1, 2, 3]);
    const upper = await client.request(['uppercase'], encodeBareString('hello ockam!'));
    expect(decodeBareString(upper.payload)).toBe('HELLO OCKAM!');
    await node.stop();
  });

  it('forwards through hops, each one pushing itself on the return route', async () => {
    const node = new Node({ logger: noopLogger });
    startEcho(node);
    startHop(node, 'hop1');
    startHop(node, 'hop2');
    const client = node.client();
    const reply = await client.request(['hop1', 'hop2', 'echo'], new Uint8Array([7]));
    expect(reply.returnRoute.toString()).toBe('0#hop1 => 0#hop2 => 0#echo');
    await node.stop();
  });

  it('throws a typed not-found error for an unknown address', async () => {
    const node = new Node({ logger: noopLogger });
    const client = node.client();
    await expect(client.send(['nobody'], new Uint8Array())).rejects.toSatisfy(
      (e) => OckamError.isKind(e, 'not-found') && /No worker at address nobody/.test((e as Error).message),
    );
    await node.stop();
  });

  it('refuses to resolve a transport address that no transport handles', async () => {
    const node = new Node({ logger: noopLogger });
    const client = node.client();
    await expect(client.request(['1#127.0.0.1:1', 'echo'], new Uint8Array())).rejects.toThrow(
      /No transport registered for type 1/,
    );
    await expect(client.send(['1#127.0.0.1:1', 'echo'], new Uint8Array())).rejects.toThrow(
      /must be resolved/,
    );
    await node.stop();
  });

  it('makes a sender wait while the mailbox is full (back-pressure), and never queues more than its capacity', async () => {
    const node = new Node({ logger: noopLogger });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let handled = 0;
    node.startWorker(
      'slow',
      {
        handleMessage: async () => {
          await gate;
          handled++;
        },
      },
      { capacity: 4 },
    );
    const client = node.client();
    const sends: Array<Promise<void>> = [];
    let settled = 0;
    for (let i = 0; i < 10; i++)
      sends.push(client.send(['slow'], new Uint8Array([i])).then(() => void settled++));
    await new Promise((r) => setTimeout(r, 20));
    // One message is being handled, four wait in the mailbox, the other five senders are blocked.
    expect(settled).toBe(5);
    expect(node.mailboxOf(Address.local('slow'))!.length).toBe(4);
    release();
    await Promise.all(sends);
    await new Promise((r) => setTimeout(r, 20));
    expect(handled).toBe(10);
    await node.stop();
  });

  it('runs incoming access control before delivery and logs a denial', async () => {
    const { logger, lines } = capturingLogger();
    const node = new Node({ logger });
    const got: RoutedMessage[] = [];
    node.startWorker(
      'guarded',
      { handleMessage: (_c, m) => void got.push(m) },
      { incoming: allowSourceAddresses(['friend']) },
    );
    const friend = node.client({ address: 'friend' });
    const stranger = node.client({ address: 'stranger' });
    await stranger.send(['guarded'], new Uint8Array([1]));
    await friend.send(['guarded'], new Uint8Array([2]));
    await new Promise((r) => setTimeout(r, 10));
    expect(got.map((m) => m.message.payload[0])).toEqual([2]);
    expect(
      lines.some(
        (l) => l.message === 'incoming access control denied a message' && l.fields.from === 'stranger',
      ),
    ).toBe(true);
    await node.stop();
  });

  it('drops messages denied by outgoing access control', async () => {
    const node = new Node({ logger: noopLogger });
    const got: number[] = [];
    node.startWorker('sink', { handleMessage: (_c, m) => void got.push(m.message.payload[0]!) });
    const ctx = node.startWorker(
      'muted',
      { handleMessage() {} },
      { outgoing: { isAuthorized: () => false } },
    );
    await ctx.send(['sink'], new Uint8Array([9]));
    await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual([]);
    await node.stop();
  });

  it('denies when an access control throws', async () => {
    const node = new Node({ logger: noopLogger });
    const got: number[] = [];
    node.startWorker(
      'sink',
      { handleMessage: () => void got.push(1) },
      {
        incoming: {
          isAuthorized: () => {
            throw new Error('boom');
          },
        },
      },
    );
    await node.client().send(['sink'], new Uint8Array());
    await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual([]);
    await node.stop();
  });

  it('lets a producer reach only the consumers of its flow (PROTOCOL.md §1.5)', async () => {
    const { logger, lines } = capturingLogger();
    const node = new Node({ logger });
    const got: string[] = [];
    node.startWorker('exposed', { handleMessage: () => void got.push('exposed') });
    node.startWorker('private', { handleMessage: () => void got.push('private') });
    const listenerId = node.flowControls.generateId();
    node.flowControls.addSpawner('listener', listenerId);
    node.flowControls.addConsumer('exposed', listenerId);
    const receiver = node.startProcessor('receiver');
    node.flowControls.addProducer('receiver', node.flowControls.generateId(), listenerId);
    await receiver.send(['exposed'], new Uint8Array());
    await receiver.send(['private'], new Uint8Array());
    await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual(['exposed']);
    expect(
      lines.some((l) => l.message === 'flow control dropped a message' && l.fields.to === 'private'),
    ).toBe(true);
    // A processor receives nothing.
    const other = node.client();
    await other.send(['receiver'], new Uint8Array());
    await node.stop();
  });

  it('cleans up addresses and flow-control entries when workers stop', async () => {
    const node = new Node({ logger: noopLogger });
    const id = node.flowControls.generateId();
    node.startWorker('w', { handleMessage() {} });
    node.flowControls.addProducer('w', id);
    node.flowControls.addConsumer('w', node.flowControls.generateId());
    expect(node.has('w')).toBe(true);
    await node.stopWorker('w');
    expect(node.has('w')).toBe(false);
    expect(node.flowControls.size).toEqual({ producers: 0, spawners: 0, consumers: 0 });
    await node.stop();
  });

  it('keeps serving after a worker throws', async () => {
    const node = new Node({ logger: noopLogger });
    let n = 0;
    node.startWorker('flaky', {
      handleMessage: (ctx, { message }) => {
        if (n++ === 0) throw new Error('first message fails');
        return ctx.send(message.returnRoute, message.payload);
      },
    });
    const client = node.client();
    await client.send(['flaky'], new Uint8Array([1]));
    const reply = await client.request(['flaky'], new Uint8Array([2]));
    expect([...reply.payload]).toEqual([2]);
    await node.stop();
  });

  it('times out a request with a typed error', async () => {
    const node = new Node({ logger: noopLogger });
    node.startWorker('silent', { handleMessage() {} });
    await expect(node.client().request(['silent'], new Uint8Array(), { timeoutMs: 30 })).rejects.toSatisfy(
      (e) => OckamError.isKind(e, 'timeout'),
    );
    await node.stop();
  });

  it('refuses duplicate and non-local worker addresses', () => {
    const node = new Node({ logger: noopLogger });
    node.startWorker('a', { handleMessage() {} });
    expect(() => node.startWorker('a', { handleMessage() {} })).toThrow(/already in use/);
    expect(() => node.startWorker('1#x:1', { handleMessage() {} })).toThrow(/must be LOCAL/);
  });

  it('carries local info only inside the node', async () => {
    const node = new Node({ logger: noopLogger });
    let seen: unknown;
    node.startWorker('w', {
      handleMessage: (_c, m) => void (seen = m.message.localInfo.secureChannelIdentifier),
    });
    node.startProcessor('x');
    await node.route(
      Address.local('x'),
      new LocalMessage(Route.of('w'), Route.empty(), new Uint8Array(), { secureChannelIdentifier: 'I00' }),
    );
    await new Promise((r) => setTimeout(r, 5));
    expect(seen).toBe('I00');
    await node.stop();
  });
});

describe('flow control after workers stop', () => {
  it('refuses to route from an address that is no longer registered (a stopped receiver)', async () => {
    const node = new Node({ logger: noopLogger });
    node.startWorker('private', { handleMessage() {} });
    const receiver = node.startProcessor('receiver');
    node.flowControls.addProducer('receiver', node.flowControls.generateId());
    await node.stopWorker('receiver');
    await expect(receiver.send(['private'], new Uint8Array())).rejects.toThrow(
      'Address receiver is not registered on this node; it cannot send',
    );
    await node.stop();
  });

  it('forgets the consumers of a spawner once it stops', async () => {
    const node = new Node({ logger: noopLogger });
    const id = node.flowControls.generateId();
    node.startProcessor('listener');
    node.flowControls.addSpawner('listener', id);
    node.startWorker('svc', { handleMessage() {} });
    node.flowControls.addConsumer('svc', id);
    await node.stopWorker('listener');
    expect(node.flowControls.isConsumer(Address.local('svc'), id)).toBe(false);
    await node.stop();
  });
});

describe('SharedDials', () => {
  it('shares one attempt among concurrent callers, reuses an open connection, and lets a caller cancel only its own wait', async () => {
    const { SharedDials, OckamError: E } = await import('../src/index.js');
    const dials = new SharedDials<{ isOpen: boolean; id: number }>();
    let opened = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const open = async () => {
      opened++;
      await gate;
      return { isOpen: true, id: opened };
    };
    const abort = new AbortController();
    const a = dials.dial('peer', open);
    const b = dials.dial('peer', open, { signal: abort.signal });
    abort.abort();
    await expect(b).rejects.toSatisfy((e) => E.isKind(e, 'cancelled'));
    release();
    const c = await a;
    expect(opened).toBe(1);
    expect(await dials.dial('peer', open)).toBe(c);
    c.isOpen = false;
    dials.forget('peer', c);
    expect(dials.get('peer')).toBeUndefined();
  });
});

describe('Listeners', () => {
  it('calls every listener, logs one that throws without stopping the others, and unsubscribes', async () => {
    const { Listeners } = await import('../src/index.js');
    const { logger, lines } = capturingLogger();
    const events = new Listeners<{ close: (reason: string) => void }>(logger, 'test');
    const got: string[] = [];
    events.on('close', () => {
      throw new Error('boom');
    });
    const off = events.on('close', (r) => void got.push(r));
    events.emit('close', 'a');
    off();
    events.emit('close', 'b');
    expect(got).toEqual(['a']);
    expect(
      lines.filter((l) => l.message === "test 'close' listener threw").map((l) => l.fields.error),
    ).toEqual(['boom', 'boom']);
  });
});

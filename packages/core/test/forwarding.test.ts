/**
 * Issue 14, findings 1 and 2, at the router: flow control follows a message's origin through
 * forwarding workers, a worker cannot send to itself, the router yields to the event loop, and
 * refusals a peer can repeat are logged once per interval.
 */
import { describe, expect, it } from 'vitest';
import {
  Address,
  createLogger,
  LocalMessage,
  type LogFields,
  MAX_REPLY_HOPS,
  Node,
  Route,
  type RoutedMessage,
  startEcho,
  startHop,
  type WorkerContext,
} from '../src/index.js';

function capturingLogger() {
  const lines: Array<{ level: string; message: string; fields: LogFields }> = [];
  const logger = createLogger('trace', (level, message, fields) => lines.push({ level, message, fields }));
  return { logger, lines };
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 1));
  }
}

/**
 * A node with a network producer `receiver` (a connection's receiver, spawned by a listener), the
 * services exposed to the listener (`exposed`, and whatever `expose` names), a `private` worker
 * and a recorder of who received what.
 */
function setup(expose: string[] = []) {
  const { logger, lines } = capturingLogger();
  const node = new Node({ logger });
  const got: Array<{ at: string; message: LocalMessage }> = [];
  for (const a of ['exposed', 'private', 'relayed'])
    node.startWorker(a, { handleMessage: (_c, m) => void got.push({ at: a, message: m.message }) });
  const listenerId = node.flowControls.generateId();
  const connectionId = node.flowControls.generateId();
  node.flowControls.addSpawner(node.startProcessor('listener').address, listenerId);
  const receiver = node.startProcessor('receiver');
  node.flowControls.addProducer('receiver', connectionId, listenerId);
  for (const a of ['exposed', ...expose]) node.flowControls.addConsumer(a, listenerId);
  const fromNetwork = (onward: string[]) =>
    receiver.send(onward, Uint8Array.of(1), { returnRoute: ['peer'] });
  return { node, lines, got, listenerId, connectionId, receiver, fromNetwork };
}

describe('flow control follows the origin of a message through forwarding workers', () => {
  it('stamps what a producer sends with its flow, keeps it on derived messages, and never on fresh ones', async () => {
    const t = setup();
    await t.fromNetwork(['exposed']);
    await until(() => t.got.length === 1);
    const stamped = t.got[0]!.message;
    expect(stamped.origin).toEqual({ flowControlId: t.connectionId, spawnerId: t.listenerId });
    const derived = stamped
      .stepForward(Address.local('x'))
      .withOnward(['a'])
      .withReturn(['b'])
      .withPayload(Uint8Array.of(2))
      .withLocalInfo({ k: 1 })
      .withRelease(() => {});
    expect(derived.origin).toBe(stamped.origin);
    expect(
      new LocalMessage(stamped.onwardRoute, stamped.returnRoute, stamped.payload).origin,
    ).toBeUndefined();
    expect(LocalMessage.fromParts(['a'], [], [Uint8Array.of(1), Uint8Array.of(2)]).origin).toBeUndefined();
    // Local info is the caller's to set; the origin is not: local info claiming a flow changes nothing.
    const claimed = new LocalMessage(['private'], [], Uint8Array.of(1), { flowControlId: t.connectionId });
    expect(claimed.origin).toBeUndefined();
    await t.node.stop();
  });

  it('lets hop forward a network message only to consumers of its origin (the raw peer of issue 14)', async () => {
    const t = setup(['hop']);
    startHop(t.node);
    await t.fromNetwork(['hop', 'private']);
    await t.fromNetwork(['hop', 'exposed']);
    await until(() => t.got.length === 1);
    await until(() => t.lines.some((l) => l.message === 'flow control dropped a message'));
    expect(t.got.map((g) => g.at)).toEqual(['exposed']);
    expect(t.got[0]!.message.returnRoute.toString()).toBe('0#hop => 0#peer');
    const drop = t.lines.find((l) => l.message === 'flow control dropped a message')!;
    expect(drop.fields).toMatchObject({ from: 'hop', to: 'private', flowControlId: t.connectionId });
    await t.node.stop();
  });

  it('fences any forwarder, however it derives the message, and through chains of them', async () => {
    const t = setup(['f1']);
    const forwarder = (next: string) => ({
      handleMessage: (ctx: WorkerContext, { message }: RoutedMessage) =>
        ctx.forward(message.withOnward(Route.of(next)).withPayload(Uint8Array.of(9))),
    });
    t.node.startWorker('f1', forwarder('f2'));
    t.node.startWorker('f2', forwarder('private'));
    // f2 is no consumer of the connection: the chain stops at f1 -> f2.
    await t.fromNetwork(['f1']);
    await until(() => t.lines.some((l) => l.message === 'flow control dropped a message'));
    expect(t.lines.find((l) => l.message === 'flow control dropped a message')!.fields.to).toBe('f2');
    // Made a consumer (as a relay makes its next hop one), f2 may pass it on, but still not to private.
    t.node.flowControls.addConsumer('f2', t.connectionId);
    await t.fromNetwork(['f1']);
    await until(() =>
      t.lines.some((l) => l.message === 'flow control dropped a message' && l.fields.to === 'private'),
    );
    expect(t.got).toEqual([]);
    await t.node.stop();
  });

  it('lets a relay-like forwarder deliver where it made the next hop a consumer of the sender', async () => {
    const t = setup(['relay']);
    t.node.startWorker('relay', {
      handleMessage: (ctx, { message }) => {
        const origin = message.origin!;
        if (!ctx.node.flowControls.isConsumer(Address.local('relayed'), origin.flowControlId))
          ctx.node.flowControls.addConsumer('relayed', origin.flowControlId);
        return ctx.forward(message.withOnward(['relayed']));
      },
    });
    await t.fromNetwork(['relay']);
    await until(() => t.got.length === 1);
    expect(t.got[0]!.at).toBe('relayed');
    await t.node.stop();
  });

  it('re-stamps what a producer sends: a decryptor vouches for its plaintext', async () => {
    const t = setup(['decryptor']);
    const channelId = t.node.flowControls.generateId();
    // The decryptor receives from the connection and sends what it decrypted from its internal address.
    t.node.startWorker(
      ['decryptor', { address: 'decryptor_internal', incoming: { isAuthorized: () => false } }],
      {
        handleMessage: (ctx, { message }) =>
          ctx.forward(message.withOnward(['private']), { from: 'decryptor_internal' }),
      },
    );
    t.node.flowControls.addProducer('decryptor_internal', channelId);
    t.node.flowControls.addConsumer('private', channelId);
    await t.fromNetwork(['decryptor']);
    await until(() => t.got.length === 1);
    expect(t.got[0]!.at).toBe('private');
    expect(t.got[0]!.message.origin?.flowControlId).toBe(channelId);
    await t.node.stop();
  });

  it('lets fresh messages a worker builds (a reply) go anywhere, as before', async () => {
    const t = setup(['echo']);
    startEcho(t.node);
    const client = t.node.client();
    await t.receiver.send(['echo'], Uint8Array.of(3), { returnRoute: [client.address] });
    const reply = await client.receive({ timeoutMs: 5_000 });
    expect(reply.origin).toBeUndefined();
    expect([...reply.payload]).toEqual([3]);
    await t.node.stop();
  });

  it('holds a forwarded message that outlives its producer to what the producer could reach', async () => {
    const t = setup(['hold']);
    let held: LocalMessage | undefined;
    const ctx = t.node.startWorker('hold', { handleMessage: (_c, m) => void (held = m.message) });
    await t.fromNetwork(['hold']);
    await until(() => held !== undefined);
    await t.node.stopWorker('receiver');
    t.node.flowControls.addConsumer('private', t.listenerId);
    // The spawner (listener) is alive, so its consumers still accept the message's origin…
    await ctx.forward(held!.withOnward(['private']));
    await until(() => t.got.length === 1);
    // …and once the listener is gone too, nobody does.
    await t.node.stopWorker('listener');
    await ctx.forward(held!.withOnward(['exposed']));
    await until(() =>
      t.lines.some((l) => l.message === 'flow control dropped a message' && l.fields.to === 'exposed'),
    );
    expect(t.got.map((g) => g.at)).toEqual(['private']);
    await t.node.stop();
  });
});

describe('the router against message loops', () => {
  it('drops what a worker sends to itself (hop, hop, …) and says so once', async () => {
    const { logger, lines } = capturingLogger();
    const node = new Node({ logger });
    startHop(node);
    startEcho(node);
    const client = node.client();
    for (let i = 0; i < 50; i++) await client.send(['hop', 'hop', 'echo'], Uint8Array.of(i));
    const reply = await client.request(['hop', 'echo'], Uint8Array.of(99));
    // Only the message that never met hop twice was answered.
    expect([...reply.payload]).toEqual([99]);
    expect(
      lines.filter((l) => l.message === 'router dropped a message a worker sent to itself'),
    ).toHaveLength(1);
    await node.stop();
  });

  it('lets the event loop run while workers feed each other synchronously', async () => {
    const node = new Node({ timeSliceMs: 5 });
    let exchanged = 0;
    const ping = (to: string) => ({
      handleMessage: (ctx: WorkerContext, { message }: RoutedMessage) => {
        exchanged++;
        if (!ctx.node.stopped) return ctx.send([to], message.payload);
      },
    });
    node.startWorker('ping', ping('pong'));
    node.startWorker('pong', ping('ping'));
    await node.client().send(['ping'], Uint8Array.of(1));
    // Before the router yielded, this timer never fired: the two workers kept the loop forever.
    await new Promise((r) => setTimeout(r, 0));
    await new Promise((r) => setTimeout(r, 20));
    expect(exchanged).toBeGreaterThan(100);
    await node.stop();
  });

  it('logs a flow-control refusal once per interval and address, then counts what it held back', async () => {
    const { logger, lines } = capturingLogger();
    const node = new Node({ logger, refusalLogIntervalMs: 50 });
    node.startWorker('private', { handleMessage() {} });
    const receiver = node.startProcessor('receiver');
    node.flowControls.addProducer('receiver', node.flowControls.generateId());
    const drops = () => lines.filter((l) => l.message === 'flow control dropped a message');
    for (let i = 0; i < 100; i++) await receiver.send(['private'], Uint8Array.of(i));
    expect(drops()).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 60));
    await receiver.send(['private'], Uint8Array.of(0));
    expect(drops()).toHaveLength(2);
    expect(drops()[1]!.fields.suppressed).toBe(99);
    await node.stop();
  });
});

describe('replies through an outgoing link (Node.allowReplies)', () => {
  /** A node with `hop`, a local `sender` (a connection's), `private`, and an outgoing link's receiver. */
  function link() {
    const node = new Node({ logger: capturingLogger().logger });
    const got: string[] = [];
    for (const a of ['sender', 'private', 'client'])
      node.startWorker(a, { handleMessage: () => void got.push(a) });
    startHop(node);
    const linkId = node.flowControls.generateId();
    const receiver = node.startProcessor('link_receiver');
    node.flowControls.addProducer('link_receiver', linkId);
    return { node, got, linkId, receiver };
  }

  it('admits the first return address, and the next ones while they are forwarders like hop', async () => {
    const t = link();
    t.node.allowReplies(t.linkId, Route.parse('0#hop => 0#sender => 0#private'));
    expect(t.node.flowControls.isConsumer(Address.parse('0#hop'), t.linkId)).toBe(true);
    expect(t.node.flowControls.isConsumer(Address.parse('0#sender'), t.linkId)).toBe(true);
    // `sender` is no forwarder: what the remote end put after it gains nothing here.
    expect(t.node.flowControls.isConsumer(Address.parse('0#private'), t.linkId)).toBe(false);
    // A reply through hop reaches the sender; one sent straight to `private` is dropped.
    await t.receiver.send(['hop', 'sender'], Uint8Array.of(1));
    await t.receiver.send(['private'], Uint8Array.of(1));
    await until(() => t.got.includes('sender'));
    expect(t.got).toEqual(['sender']);
  });

  it('admits only the first address when it is not a forwarder, and nothing for a remote or missing one', () => {
    const t = link();
    t.node.allowReplies(t.linkId, Route.parse('0#client => 0#private'));
    t.node.allowReplies(t.linkId, Route.parse('1#127.0.0.1:4000 => 0#private'));
    t.node.allowReplies(t.linkId, Route.parse('0#gone => 0#private'));
    const fc = t.node.flowControls;
    expect(fc.isConsumer(Address.parse('0#client'), t.linkId)).toBe(true);
    expect(fc.isConsumer(Address.parse('0#private'), t.linkId)).toBe(false);
    expect(fc.isConsumer(Address.parse('0#gone'), t.linkId)).toBe(false);
  });

  it('follows at most MAX_REPLY_HOPS forwarders', () => {
    const t = link();
    for (let i = 0; i < 12; i++) startHop(t.node, `hop${i}`);
    const chain = Array.from({ length: 12 }, (_, i) => `0#hop${i}`).join(' => ');
    t.node.allowReplies(t.linkId, Route.parse(chain));
    const admitted = Array.from({ length: 12 }, (_, i) =>
      t.node.flowControls.isConsumer(Address.parse(`0#hop${i}`), t.linkId),
    ).filter(Boolean).length;
    expect(admitted).toBe(MAX_REPLY_HOPS);
  });
});

describe('producer aliases (FlowControls.addProducerAlias)', () => {
  it('find the producer an alias stands for, without fencing what the alias itself sends', async () => {
    const node = new Node({ logger: capturingLogger().logger });
    const got: string[] = [];
    node.startWorker('out', { handleMessage: () => void got.push('out') });
    const encryptor = node.startWorker('encryptor', {
      handleMessage: (ctx) => ctx.send(['out'], Uint8Array.of(1)),
    });
    node.startProcessor('decryptor');
    const id = node.flowControls.generateId();
    node.flowControls.addProducer('decryptor', id);
    node.flowControls.addProducerAlias('encryptor', 'decryptor');
    expect(node.flowControls.producerFor(Address.parse('0#encryptor'))?.flowControlId).toBe(id);
    expect(node.flowControls.producer(Address.parse('0#encryptor'))).toBeUndefined();
    // The alias sends unfenced: `out` is no consumer of `id`, yet receives what the encryptor sends.
    await node.client().send(['encryptor'], Uint8Array.of(0));
    await until(() => got.length === 1);
    await node.stopWorker(encryptor.address);
    expect(node.flowControls.producerFor(Address.parse('0#encryptor'))).toBeUndefined();
  });
});

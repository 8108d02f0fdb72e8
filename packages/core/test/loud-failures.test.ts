import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  encodeBareString,
  Node,
  noopLogger,
  OckamError,
  RouteError,
  recordingLogger,
  startEcho,
  startHop,
  TimeoutError,
} from '../src/index.js';

const quiet = () => new Node({ logger: noopLogger });

describe('a request that fails on this node rejects at once', () => {
  it('while a plain send refused here is dropped and logged, as in Ockam', async () => {
    const { logger, lines } = recordingLogger('warn');
    const node = new Node({ logger });
    startEcho(node, 'echo', { incoming: { isAuthorized: () => false } });
    await node.client().send(['echo'], new Uint8Array());
    expect(lines.map((l) => l.message)).toContain('incoming access control denied a message');
    await node.stop();
  });

  it('a request to a local address with no worker rejects at once, naming the address', async () => {
    const node = new Node({ name: 'n1', logger: noopLogger });
    const error = await node
      .client()
      .request(['ecoh'], new Uint8Array(), { timeoutMs: 60_000 })
      .catch((e: unknown) => e);
    expect(OckamError.isKind(error, 'not-found')).toBe(true);
    expect((error as Error).message).toBe('No worker at address ecoh');
    await node.stop();
  });

  it('a request that incoming access control refuses here rejects at once with permission', async () => {
    const node = quiet();
    startEcho(node, 'echo', { incoming: { isAuthorized: () => false } });
    const error = await node
      .client()
      .request(['echo'], new Uint8Array(), { timeoutMs: 60_000 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RouteError);
    expect((error as RouteError).kind).toBe('permission');
    expect((error as Error).message).toMatch(/incoming access control of echo refused a message/);
    await node.stop();
  });

  it('a request flow control refuses here rejects at once and says which consumer to add', async () => {
    const node = quiet();
    startEcho(node);
    const client = node.client();
    // A client that became a producer (as a connection's receiver is) may reach only consumers of its flow.
    node.flowControls.addProducer(client.address, 'f1');
    await expect(client.request(['echo'], new Uint8Array(), { timeoutMs: 60_000 })).rejects.toThrow(
      /echo is not a consumer of flow f1.*addConsumer\('echo', 'f1'\)/,
    );
    await node.stop();
  });

  it('a route with a transport nobody registered rejects at once, naming the transport', async () => {
    const node = quiet();
    const error = await node
      .client()
      .request(['1#127.0.0.1:4000', 'echo'], new Uint8Array())
      .catch((e: unknown) => e);
    expect(OckamError.isKind(error, 'unsupported')).toBe(true);
    expect((error as Error).message).toMatch(
      /No transport registered for type 1 \(TCP\).*node.registerTransport/,
    );
    await node.stop();
  });
});

describe('a request that times out says where it went', () => {
  it('names the route, its first hop and what to check', async () => {
    const node = quiet();
    // A hop that accepts the request and drops it, as a remote hop with a wrong name would.
    node.startWorker('hole', { handleMessage() {} });
    const error = await node
      .client()
      .request(['hole', 'service'], encodeBareString('x'), { timeoutMs: 50 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    const message = (error as Error).message;
    expect(message).toContain('No reply within 50 ms to a request along 0#hole => 0#service');
    expect(message).toContain('first hop hole');
    expect(message).toMatch(/flow-control consumer/);
    await node.stop();
  });

  it('quotes a reply this node refused to deliver to the client', async () => {
    const node = quiet();
    // A service whose replies come out of a flow the client was never made a consumer of.
    const svc = node.startWorker('svc', {
      handleMessage: (ctx, { message }) => ctx.send(message.returnRoute, message.payload),
    });
    node.flowControls.addProducer(svc.address, 'svc-flow');
    // Through `hop`, which passes the reply on; the client is no consumer of the service's flow.
    startHop(node);
    node.flowControls.addConsumer('hop', 'svc-flow');
    const error = await node
      .client()
      .request(['hop', 'svc'], new Uint8Array(), { timeoutMs: 50 })
      .catch((e: unknown) => e);
    expect((error as Error).message).toMatch(
      /this node refused a message to the client: flow control refused a message from hop .*not a consumer of flow svc-flow/,
    );
    await node.stop();
  });

  it('makes the client a consumer of the flow replies come out of, as Ockam send_and_receive does', async () => {
    const node = quiet();
    node.startWorker('svc', {
      handleMessage: (ctx, { message }) => ctx.send(message.returnRoute, message.payload),
    });
    node.flowControls.addProducer('svc', 'svc-flow');
    const reply = await node.client().request(['svc'], Uint8Array.of(7), { timeoutMs: 5_000 });
    expect([...reply.payload]).toEqual([7]);
    await node.stop();
  });
});

describe('Node.whenStopped', () => {
  it('calls back when the worker stops, at once for an address nobody owns, and not after cancel', async () => {
    const node = quiet();
    node.startWorker(['w', 'w2'], { handleMessage() {} });
    const calls: string[] = [];
    node.whenStopped('w2', () => calls.push('w2'));
    const cancel = node.whenStopped('w', () => calls.push('cancelled'));
    cancel();
    await new Promise<void>((resolve) => node.whenStopped('nobody', resolve));
    expect(calls).toEqual([]);
    await node.stopWorker('w');
    expect(calls).toEqual(['w2']);
    await node.stop();
  });
});

describe('default logger', () => {
  const core = fileURLToPath(new URL('../dist/index.js', import.meta.url));
  const run = (script: string): Promise<string> =>
    new Promise((resolve, reject) =>
      execFile(process.execPath, ['--input-type=module', '-e', script], (error, _stdout, stderr) =>
        error ? reject(error) : resolve(stderr),
      ),
    );
  const failing = (options: string): string => `
    const node = new Node({ name: 'lib'${options} });
    node.startWorker('flaky', { handleMessage() { throw new Error('boom'); } });
    await node.client().send(['flaky'], new Uint8Array());
    await new Promise((r) => setTimeout(r, 50));
    node.logger.warn('a line with a secret', { passphrase: 'hunter2', frame: new Uint8Array(4) });
    await node.stop();`;

  it('a node made without a logger writes its warnings to stderr, secrets redacted', async () => {
    const stderr = await run(`import { Node } from '${core}';${failing('')}`);
    expect(stderr).toMatch(/WARN worker failed to handle a message .*"error":"boom"/);
    expect(stderr).toMatch(/WARN a line with a secret \{"passphrase":"\[redacted\]","frame":"\[4 bytes\]"\}/);
    expect(stderr).not.toContain('hunter2');
  });

  it('is silenced with noopLogger', async () => {
    const stderr = await run(`import { Node, noopLogger } from '${core}';${failing(', logger: noopLogger')}`);
    expect(stderr).toBe('');
  });

  it('a node given a logger uses it', () => {
    const { logger, lines } = recordingLogger('warn');
    new Node({ logger }).logger.warn('here');
    expect(lines.map((l) => l.message)).toEqual(['here']);
  });
});

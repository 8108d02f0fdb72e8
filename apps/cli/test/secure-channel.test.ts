import { readFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ockam, shell, tempHome } from './helpers.js';

/** A TCP proxy that records every byte in both directions. */
async function recordingProxy(
  target: string,
): Promise<{ port: number; bytes: () => Buffer; server: Server }> {
  const [host, port] = target.split(':');
  const chunks: Buffer[] = [];
  const server = createServer((client) => {
    const upstream = connect(Number(port), host);
    client.on('data', (d: Buffer) => chunks.push(Buffer.from(d)));
    upstream.on('data', (d: Buffer) => chunks.push(Buffer.from(d)));
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as { port: number }).port, bytes: () => Buffer.concat(chunks), server };
}

describe('ockam secure-channel', () => {
  let home: string;
  let cleanup: () => Promise<void>;
  const nodes: Record<string, { tcpListenerAddress: string; identifier: string }> = {};

  beforeAll(async () => {
    ({ home, cleanup } = tempHome());
    await ockam(home, ['identity', 'create', 'i1']);
    await ockam(home, ['identity', 'create', 'i2']);
    await ockam(home, ['identity', 'create', 'i3']);
    for (const n of ['n1', 'n2', 'n3']) {
      expect((await ockam(home, ['node', 'create', n, '--identity', `i${n.slice(1)}`])).code).toBe(0);
      nodes[n] = JSON.parse((await ockam(home, ['--output', 'json', 'node', 'show', n])).stdout);
    }
  });
  afterAll(async () => {
    await cleanup();
  });

  it('runs the example from the Ockam docs exactly as written', async () => {
    const r = await shell(
      home,
      'ockam secure-channel create --from n1 --to /node/n1/node/n2/node/n3/service/api \\\n  | ockam message send "hello ockam!" --from n1 --to -/service/uppercase',
    );
    expect(r).toMatchObject({ code: 0, stdout: 'HELLO OCKAM!\n' });
  });

  it('prints only the route when piped, and the peer and channel as JSON', async () => {
    const piped = await ockam(home, [
      'secure-channel',
      'create',
      '--from',
      'n1',
      '--to',
      '/node/n2/service/api',
    ]);
    expect(piped.stdout).toMatch(/^\/service\/[0-9a-f]{32}\n$/);
    const j = JSON.parse(
      (
        await ockam(home, [
          '--output',
          'json',
          'secure-channel',
          'create',
          '--from',
          'n1',
          '--to',
          '/node/n2/service/api',
        ])
      ).stdout,
    );
    expect(j).toMatchObject({ peerIdentifier: nodes.n2!.identifier, node: 'n1', isOpen: true });
    const list = JSON.parse(
      (await ockam(home, ['--output', 'json', 'secure-channel', 'list', '--at', 'n1'])).stdout,
    ) as Array<{ address: string }>;
    expect(list.map((c) => c.address)).toContain(j.address);
    const shown = JSON.parse(
      (await ockam(home, ['--output', 'json', 'secure-channel', 'show', '--at', 'n1', j.route])).stdout,
    );
    expect(shown.peerIdentifier).toBe(nodes.n2!.identifier);
    expect((await ockam(home, ['secure-channel', 'delete', '--at', 'n1', j.route])).code).toBe(0);
    const r = await ockam(home, ['message', 'send', 'x', '--from', 'n1', '--to', `${j.route}/service/echo`]);
    expect(r.stderr).toMatch(/^Error: No worker at address [0-9a-f]{32}\n$/);
  });

  it('lets the intermediary node forward only ciphertext', async () => {
    const proxy = await recordingProxy(nodes.n3!.tcpListenerAddress);
    try {
      const secret = 'attack at dawn, the password is hunter2';
      const r = await ockam(home, [
        'message',
        'send',
        secret,
        '--from',
        'n1',
        '--to',
        `/node/n2/ip4/127.0.0.1/tcp/${proxy.port}/secure/api/service/uppercase`,
      ]);
      expect(r).toMatchObject({ code: 0, stdout: `${secret.toUpperCase()}\n` });
      const seen = proxy.bytes();
      expect(seen.length).toBeGreaterThan(200);
      expect(seen.includes(Buffer.from('attack at dawn'))).toBe(false);
      expect(seen.includes(Buffer.from('ATTACK AT DAWN'))).toBe(false);
      expect(seen.includes(Buffer.from('hunter2'))).toBe(false);
      // Control: without a secure channel the same path carries the plaintext.
      const plain = await ockam(home, [
        'message',
        'send',
        'plain words',
        '--from',
        'n1',
        '--to',
        `/node/n2/ip4/127.0.0.1/tcp/${proxy.port}/service/uppercase`,
      ]);
      expect(plain.stdout).toBe('PLAIN WORDS\n');
      expect(proxy.bytes().includes(Buffer.from('plain words'))).toBe(true);
    } finally {
      proxy.server.close();
    }
  });

  it('closes the channels made for /secure hops of one message', async () => {
    const before = JSON.parse(
      (await ockam(home, ['--output', 'json', 'secure-channel', 'list', '--at', 'n2'])).stdout,
    ).length;
    expect(
      (
        await ockam(home, [
          'message',
          'send',
          'x',
          '--from',
          'n2',
          '--to',
          '/node/n3/secure/api/service/echo',
        ])
      ).stdout,
    ).toBe('x\n');
    expect(
      JSON.parse((await ockam(home, ['--output', 'json', 'secure-channel', 'list', '--at', 'n2'])).stdout)
        .length,
    ).toBe(before);
  });

  it('authorizes peers by identifier on both sides, with a clear reason when refused', async () => {
    const ok = await ockam(home, [
      'secure-channel',
      'create',
      '--from',
      'n1',
      '--to',
      '/node/n3/service/api',
      '--authorized',
      nodes.n3!.identifier,
    ]);
    expect(ok.code).toBe(0);
    const refused = await ockam(home, [
      'secure-channel',
      'create',
      '--from',
      'n1',
      '--to',
      '/node/n3/service/api',
      '--authorized',
      nodes.n2!.identifier,
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      new RegExp(`^Error: Secure channel trust policy rejected ${nodes.n3!.identifier}`),
    );

    const l = await ockam(home, [
      'secure-channel-listener',
      'create',
      'only-n2',
      '--at',
      'n3',
      '--authorized',
      nodes.n2!.identifier,
    ]);
    expect(l.code).toBe(0);
    expect(
      (
        await ockam(home, [
          'message',
          'send',
          'ok',
          '--from',
          'n2',
          '--to',
          '/node/n3/secure/only-n2/service/echo',
        ])
      ).stdout,
    ).toBe('ok\n');
    const denied = await ockam(home, [
      'message',
      'send',
      'no',
      '--from',
      'n1',
      '--to',
      '/node/n3/secure/only-n2/service/echo',
      '--timeout',
      '3s',
    ]);
    expect(denied.code).toBe(1);
    expect(denied.stdout).toBe('');
    const listeners = JSON.parse(
      (await ockam(home, ['--output', 'json', 'secure-channel-listener', 'list', '--at', 'n3'])).stdout,
    );
    expect(listeners.map((x: { address: string }) => x.address)).toEqual(['api', 'only-n2']);
    expect((await ockam(home, ['secure-channel-listener', 'delete', 'only-n2', '--at', 'n3'])).code).toBe(0);
  });

  it('rejects malformed identifiers before doing anything', async () => {
    const r = await ockam(home, [
      'secure-channel',
      'create',
      '--from',
      'n1',
      '--to',
      '/node/n2/service/api',
      '--authorized',
      'Ibad',
    ]);
    expect(r.stderr).toBe(
      "Error: Invalid identifier 'Ibad': expected I followed by 64 lowercase hex digits\n",
    );
  });

  it('reaches a channel listener only through a channel: plain messages to api get no service', async () => {
    const r = await ockam(home, [
      'message',
      'send',
      'x',
      '--from',
      'n1',
      '--to',
      '/node/n2/service/api',
      '--timeout',
      '1s',
    ]);
    expect(r.code).toBe(1);
  });

  it('tells the initiator with a Close when the responder node stops (as Ockam nodes do)', async () => {
    const { home: h, cleanup: done } = tempHome();
    try {
      for (const n of ['a', 'b']) expect((await ockam(h, ['node', 'create', n])).code).toBe(0);
      const route = (
        await ockam(h, ['secure-channel', 'create', '--from', 'a', '--to', '/node/b/service/api'])
      ).stdout.trim();
      expect(route).toMatch(/^\/service\/[0-9a-f]{32}$/);
      expect((await ockam(h, ['node', 'stop', 'b'])).code).toBe(0);
      const log = join(h, 'nodes', 'a', 'node.log');
      const address = route.replace('/service/', '');
      const deadline = Date.now() + 30_000;
      while (
        !readFileSync(log, 'utf8')
          .split('\n')
          .some((l) => l.includes('secure channel closed by peer') && l.includes(address))
      ) {
        if (Date.now() > deadline) throw new Error('no Close from the stopped responder');
        await new Promise((r) => setTimeout(r, 100));
      }
      const list = JSON.parse(
        (await ockam(h, ['--output', 'json', 'secure-channel', 'list', '--at', 'a'])).stdout,
      ) as Array<{ address: string }>;
      expect(list.map((c) => c.address)).not.toContain(address);
    } finally {
      await done();
    }
  });

  it('runs a channel inside another to the same listener, as Ockam UDP inlets do', async () => {
    const outer = (
      await ockam(home, ['secure-channel', 'create', '--from', 'n1', '--to', '/node/n2/service/api'])
    ).stdout.trim();
    expect(outer).toMatch(/^\/service\/[0-9a-f]{32}$/);
    const inner = await ockam(home, [
      'secure-channel',
      'create',
      '--from',
      'n1',
      '--to',
      `${outer}/service/api`,
      '--timeout',
      '20s',
    ]);
    expect(inner.code, inner.stderr).toBe(0);
    const r = await ockam(home, [
      'message',
      'send',
      'nested',
      '--from',
      'n1',
      '--to',
      `${inner.stdout.trim()}/service/uppercase`,
    ]);
    expect(r.stdout.trim()).toBe('NESTED');
  });
});

import { join } from 'node:path';
import { ControlClient, type NodeStatus } from '@ockam/node/control';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ockam, tempHome } from './helpers.js';
import { run, startHttpServer } from './servers.js';

describe('UDP from the command line: rendezvous, --udp nodes and a portal over a punched path', () => {
  let home: string;
  let cleanup: () => Promise<void>;
  let web: Awaited<ReturnType<typeof startHttpServer>>;
  const status = (n: string) => new ControlClient(join(home, 'run', `${n}.sock`), n).get<NodeStatus>('/node');

  beforeAll(async () => {
    ({ home, cleanup } = tempHome());
    web = await startHttpServer();
  });
  afterAll(async () => {
    web.stop();
    await cleanup();
  });

  it('carries an HTTP request over UDP, with no relayed fallback', async () => {
    const rv = await ockam(home, ['rendezvous', 'create', 'rendezvous', '--udp', '127.0.0.1:0']);
    expect(rv.stdout).toMatch(/^Rendezvous service running on node rendezvous at UDP 127\.0\.0\.1:\d+\n$/);
    const rendezvous = (await status('rendezvous')).udp!.rendezvousService!;
    expect((await ockam(home, ['node', 'create', 'relay'])).code).toBe(0);
    for (const n of ['server', 'client'])
      expect((await ockam(home, ['node', 'create', n, '--udp', '--rendezvous', rendezvous])).code).toBe(0);
    expect(
      (await ockam(home, ['tcp-outlet', 'create', '--at', 'server', '--to', String(web.port)])).code,
    ).toBe(0);
    expect(
      (await ockam(home, ['relay', 'create', 'web', '--to', 'server', '--at', '/node/relay'])).code,
    ).toBe(0);
    const before = (await status('client')).udp!.stats;
    const inlet = JSON.parse(
      (
        await ockam(home, [
          '--output',
          'json',
          'tcp-inlet',
          'create',
          '--at',
          'client',
          '--alias',
          'u',
          '--via',
          'web',
          '--relay-at',
          '/node/relay',
          '--udp',
          '--no-tcp-fallback',
        ])
      ).stdout,
    );
    expect(inlet.status).toBe('Up');
    expect((await run('curl', ['-sS', '-m', '10', '--head', `http://${inlet.bind_addr}/`])).stdout).toMatch(
      /^HTTP\/1\.0 200 OK/,
    );
    const after = (await status('client')).udp!.stats;
    // The portal's bytes went through UDP datagrams.
    expect(after.bytesOut! - (before.bytesOut ?? 0)).toBeGreaterThan(500);
    expect(after.bytesIn! - (before.bytesIn ?? 0)).toBeGreaterThan(500);
  });

  it('explains what --udp needs', async () => {
    expect((await ockam(home, ['node', 'create', 'plain'])).code).toBe(0);
    const r = await ockam(home, [
      'tcp-inlet',
      'create',
      '--at',
      'plain',
      '--via',
      'web',
      '--relay-at',
      '/node/relay',
      '--udp',
      '--connection-wait',
      '0s',
    ]);
    expect(r.code).toBe(0);
    const shown = JSON.parse(
      (await ockam(home, ['--output', 'json', 'tcp-inlet', 'list', '--at', 'plain'])).stdout,
    )[0];
    expect(shown.status).toBe('Down');
    expect((await ockam(home, ['node', 'logs', 'plain'])).stdout).toMatch(
      /--udp' needs a node created with --udp/,
    );
  });
});

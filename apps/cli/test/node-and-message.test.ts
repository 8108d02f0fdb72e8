import { chmodSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ockam, shell, tempHome } from './helpers.js';

describe('ockam node and ockam message send, against real node processes', () => {
  let home: string;
  let cleanup: () => Promise<void>;

  beforeAll(() => {
    ({ home, cleanup } = tempHome());
  });
  afterAll(async () => {
    await cleanup();
  });

  it('creates three nodes and routes a message n1 -> n2 -> n3 over TCP (the README demo)', async () => {
    for (const n of ['n1', 'n2', 'n3']) {
      const r = await ockam(home, ['node', 'create', n]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      // Piped, the name alone (as Ockam's machine output).
      expect(r.stdout).toBe(`${n}\n`);
    }
    const r = await ockam(home, [
      'message',
      'send',
      'hello ockam!',
      '--from',
      'n1',
      '--to',
      '/node/n1/node/n2/node/n3/service/uppercase',
    ]);
    expect(r).toMatchObject({ code: 0, stdout: 'HELLO OCKAM!\n' });
  });

  it('sends to a service of one node, with hex and JSON output', async () => {
    expect(
      (await ockam(home, ['message', 'send', 'hello', '--to', '/node/n1/service/uppercase', '--from', 'n2']))
        .stdout,
    ).toBe('HELLO\n');
    expect(
      (
        await ockam(home, [
          'message',
          'send',
          'cafe00ff',
          '--hex',
          '--from',
          'n1',
          '--to',
          '/node/n2/service/echo',
        ])
      ).stdout,
    ).toBe('cafe00ff\n');
    const j = await ockam(home, [
      '--output',
      'json',
      'message',
      'send',
      'x',
      '--from',
      'n3',
      '--to',
      '/node/n1/service/echo',
    ]);
    expect(JSON.parse(j.stdout).reply).toBe('x');
  });

  it('reaches a node by its TCP address and through the hop service, which starts only on request', async () => {
    expect((await ockam(home, ['node', 'create', 'n4', '--enable-hop'])).code).toBe(0);
    const shown = JSON.parse((await ockam(home, ['--output', 'json', 'node', 'show', 'n4'])).stdout);
    expect(shown.services.map((s: { addr: string }) => s.addr)).toEqual(['echo', 'uppercase', 'hop']);
    const [host, port] = (shown.tcpListenerAddress as string).split(':');
    const r = await ockam(home, [
      'message',
      'send',
      'via ip',
      '--from',
      'n1',
      '--to',
      `/ip4/${host}/tcp/${port}/service/hop/service/uppercase`,
    ]);
    expect(r).toMatchObject({ code: 0, stdout: 'VIA IP\n' });
  });

  it('lists and shows nodes in JSON, which is also what a pipe gets (as Ockam)', async () => {
    const piped = JSON.parse((await ockam(home, ['node', 'list'])).stdout);
    expect(piped[0]).toMatchObject({
      node_name: 'n1',
      status: { status: 'running', pid: expect.any(Number) },
      is_default: true,
    });
    const show = JSON.parse((await ockam(home, ['--output', 'json', 'node', 'show', 'n2'])).stdout);
    expect(show).toMatchObject({
      name: 'n2',
      status: 'running',
      route: { short: '/node/n2', verbose: expect.stringMatching(/^\/dnsaddr\/localhost\/tcp\/\d+$/) },
      http_server_address: null,
      services: [
        { addr: 'echo', type: 'echo' },
        { addr: 'uppercase', type: 'uppercase' },
      ],
    });
    // n2 connected onwards to n3 for the multi-hop route, exposed to its listener.
    expect(show.tcpConnections.some((c: { exposed: boolean }) => c.exposed)).toBe(true);
  });

  it('keeps control sockets and state private to the user', () => {
    expect(statSync(join(home, 'run', 'n1.sock')).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, 'run')).mode & 0o777).toBe(0o700);
    expect(statSync(join(home, 'nodes', 'n1')).mode & 0o777).toBe(0o700);
    expect(statSync(home).mode & 0o777).toBe(0o700);
  });

  it('leaves an OCKAM_HOME that already existed as it was (a 1777 directory keeps its sticky bit), and warns about one others may write without it', async () => {
    const shared = tempHome();
    try {
      chmodSync(shared.home, 0o1777);
      const list = await ockam(shared.home, ['identity', 'create', 'i1']);
      expect(list.code).toBe(0);
      expect(list.stderr).not.toMatch(/Warning/);
      expect(statSync(shared.home).mode & 0o7777).toBe(0o1777);
      chmodSync(shared.home, 0o777);
      const open = await ockam(shared.home, ['identity', 'list']);
      expect(open.code).toBe(0);
      expect(open.stderr).toMatch(
        /^Warning: .* is writable by its group and all users \(mode 777\) without the sticky bit/,
      );
      expect(statSync(shared.home).mode & 0o7777).toBe(0o777);
    } finally {
      await shared.cleanup();
    }
  });

  it('fails with a one-line reason and a non-zero exit code', async () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ['message', 'send', 'x', '--from', 'n1', '--to', '/node/nope/service/echo'],
        /^Error: Node nope does not exist \(see 'ockam node list'\)\n$/,
      ],
      [
        ['message', 'send', 'x', '--from', 'n1', '--to', '/ip4/1.2.3/tcp/1'],
        /^Error: Invalid multiaddr '\/ip4\/1\.2\.3\/tcp\/1': '1\.2\.3' is not an IPv4 address\n$/,
      ],
      [
        ['message', 'send', 'x', '--from', 'n1', '--to', '/node/n1/service/nothing-here'],
        /^Error: No worker at address nothing-here\n$/,
      ],
      [
        ['message', 'send', 'x', '--from', 'n1', '--to', '/node/n2/service/nothing-here', '--timeout', '1s'],
        // One line that names the route the request took (what to check follows on that line).
        /^Error: No reply within 1000 ms to a request along 0#\w+ => 0#nothing-here \(first hop \w+[^\n]*\n$/,
      ],
      [
        ['message', 'send', 'x', '--from', 'n1', '--to', '/node/n1/service/echo', '--timeout', 'soon'],
        /^Error: Invalid duration 'soon'/,
      ],
      [
        ['message', 'send', 'zz', '--hex', '--from', 'n1', '--to', '/node/n1/service/echo'],
        /^Error: Cannot decode message: expected an even number of hex digits\n$/,
      ],
      [['node', 'create', 'n1'], /^Error: Node n1 already exists and is running on 127\.0\.0\.1:\d+\n$/],
      [['node', 'create', 'bad/name'], /^Error: Invalid node name 'bad\/name'/],
      [['node', 'show', 'ghost'], /^Error: Node ghost does not exist/],
      [['node', 'create', 'n9', '--tcp-listener-address', 'nowhere'], /^Error: Invalid address 'nowhere'/],
    ];
    for (const [args, re] of cases) {
      const r = await ockam(home, args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(re);
      expect(r.stdout).toBe('');
    }
  });

  it('a node started on a taken port fails clearly and leaves no record behind', async () => {
    const list = JSON.parse((await ockam(home, ['--output', 'json', 'node', 'list'])).stdout) as Array<{
      node_name: string;
      tcpListenerAddress: string;
    }>;
    const taken = list.find((n) => n.node_name === 'n1')!.tcpListenerAddress;
    const r = await ockam(home, ['node', 'create', 'clash', '--tcp-listener-address', taken]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error: Node clash failed to start: .*EADDRINUSE/);
    expect((await ockam(home, ['node', 'show', 'clash'])).stderr).toMatch(/does not exist/);
  });

  it('survives SIGKILL: node start brings the node back on the same listener address', async () => {
    const before = JSON.parse((await ockam(home, ['--output', 'json', 'node', 'show', 'n3'])).stdout);
    process.kill(before.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    expect(JSON.parse((await ockam(home, ['--output', 'json', 'node', 'show', 'n3'])).stdout).status).toBe(
      'stopped',
    );
    const started = await ockam(home, ['node', 'start', 'n3']);
    expect(started.code).toBe(0);
    expect(JSON.parse(started.stdout)).toMatchObject({
      name: 'n3',
      status: 'running',
      tcpListenerAddress: before.tcpListenerAddress,
    });
    const r = await ockam(home, [
      'message',
      'send',
      'back',
      '--from',
      'n1',
      '--to',
      '/node/n1/node/n2/node/n3/service/uppercase',
    ]);
    expect(r).toMatchObject({ code: 0, stdout: 'BACK\n' });
  });

  it('stops, starts and writes logs', async () => {
    expect((await ockam(home, ['node', 'stop', 'n2'])).stdout).toBe('Node n2 was stopped\n');
    const r = await ockam(home, ['message', 'send', 'x', '--from', 'n2', '--to', '/service/echo']);
    expect(r.stderr).toBe("Error: Node n2 is not running (start it with 'ockam node start n2')\n");
    expect((await ockam(home, ['node', 'start', 'n2'])).code).toBe(0);
    const logs = await ockam(home, ['node', 'logs', 'n2']);
    expect(logs.stdout).toMatch(/"message":"node started"/);
    expect(logs.stdout).toMatch(/"message":"node stopped"/);
  });

  it('creates the default node on demand', async () => {
    const { home: h2, cleanup: c2 } = tempHome();
    try {
      const r = await ockam(h2, ['message', 'send', 'auto', '--to', '/service/uppercase']);
      expect(r).toMatchObject({ code: 0, stdout: 'AUTO\n' });
      expect(r.stderr).toMatch(/Creating the default node 'default'/);
      expect(JSON.parse((await ockam(h2, ['--output', 'json', 'node', 'list'])).stdout)[0]).toMatchObject({
        node_name: 'default',
        is_default: true,
        status: { status: 'running' },
      });
    } finally {
      await c2();
    }
  });

  it('prints help with examples for every command', async () => {
    for (const cmd of [
      ['node', 'create'],
      ['node', 'list'],
      ['node', 'show'],
      ['node', 'stop'],
      ['node', 'start'],
      ['node', 'delete'],
      ['node', 'logs'],
      ['message', 'send'],
    ]) {
      const r = await ockam(home, [...cmd, '--help']);
      expect(r.code, cmd.join(' ')).toBe(0);
      expect(r.stdout, cmd.join(' ')).toMatch(/Examples:\n {2}\$ ockam /);
    }
  });

  it('deletes every node and its state', async () => {
    const r = await ockam(home, ['node', 'delete', '--all']);
    expect(r.stdout).toMatch(/^Deleted node n1, node n2, node n3/);
    expect((await ockam(home, ['node', 'list'])).stdout).toBe('[]\n');
    expect(() => readFileSync(join(home, 'nodes', 'n1', 'node.log'))).toThrow();
  });

  it('runs the piped form from the docs once a route comes from stdin', async () => {
    const { home: h3, cleanup: c3 } = tempHome();
    try {
      const r = await shell(
        h3,
        'ockam node create a >/dev/null && echo /service/uppercase | ockam message send hi --from a --to -',
      );
      expect(r).toMatchObject({ code: 0, stdout: 'HI\n' });
    } finally {
      await c3();
    }
  });
});

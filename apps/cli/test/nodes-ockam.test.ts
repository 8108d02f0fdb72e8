/**
 * Nodes and what runs in them, as Ockam 0.139's command has them: the JSON a script reads, a node
 * created again after it stopped or died, the HTTP server switch, configurations, foreground
 * nodes, services, workers, TCP connections and listeners, and reset. Real processes and sockets.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { OCKAM_BIN, ockam, tempHome } from './helpers.js';

const json = async (home: string, args: string[]) => {
  const r = await ockam(home, ['--output', 'json', ...args]);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout);
};

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

describe('nodes as Ockam shows them', () => {
  let home: string;
  let cleanup: () => Promise<void>;
  beforeAll(() => ({ home, cleanup } = tempHome()));
  afterAll(() => cleanup());

  it('node show with no node at all prints an empty list and succeeds', async () => {
    expect(await ockam(home, ['node', 'show', 'n'])).toMatchObject({ code: 0, stdout: '[]\n' });
  });

  it('a piped node create prints the name; node show prints the route, services and pid as JSON', async () => {
    expect(await ockam(home, ['node', 'create', 'n'])).toMatchObject({ code: 0, stdout: 'n\n' });
    const shown = JSON.parse((await ockam(home, ['node', 'show', 'n'])).stdout);
    expect(shown).toMatchObject({
      name: 'n',
      status: 'running',
      is_default: true,
      pid: expect.any(Number),
      http_server_address: null,
      route: { short: '/node/n', verbose: expect.stringMatching(/^\/dnsaddr\/localhost\/tcp\/\d+$/) },
    });
    expect(shown.services).toContainEqual({ addr: 'uppercase', type: 'uppercase' });
    expect(shown.transports[0]).toMatchObject({ type: 'Tcp', mode: 'Listen' });
    const other = await ockam(home, ['node', 'show', 'ghost']);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/Node ghost does not exist/);
  });

  it('a stopped node and a killed node are created again under their names', async () => {
    expect((await ockam(home, ['node', 'stop', 'n'])).stdout).toBe('Node n was stopped\n');
    expect((await ockam(home, ['node', 'create', 'n'])).code).toBe(0);
    const { pid } = await json(home, ['node', 'show', 'n']);
    process.kill(pid, 'SIGKILL');
    await vi.waitFor(async () => expect((await json(home, ['node', 'show', 'n'])).status).toBe('stopped'), {
      timeout: 20_000,
      interval: 200,
    });
    expect((await ockam(home, ['node', 'create', 'n'])).code).toBe(0);
    const started = await ockam(home, ['node', 'stop', 'n']).then(() => ockam(home, ['node', 'start', 'n']));
    expect(JSON.parse(started.stdout).services).toContainEqual({ addr: 'echo', type: 'echo' });
  });

  it('a background node keeps its process output in nodes/NAME/stdout', () => {
    expect(readdirSync(join(home, 'nodes', 'n'))).toEqual(expect.arrayContaining(['stdout', 'node.log']));
  });

  it('refuses names Ockam refuses, and takes an existing file as a configuration', async () => {
    for (const bad of ['n!', 'n.1', './config.yaml', 'node.yaml']) {
      const r = await ockam(home, ['node', 'create', bad]);
      expect(r.code, bad).toBe(1);
      expect(r.stderr, bad).toMatch(/Invalid node name/);
    }
    const file = join(home, 'node.yaml');
    writeFileSync(file, 'name: fromfile\n');
    expect((await ockam(home, ['node', 'create', file])).code).toBe(0);
    expect((await json(home, ['node', 'show', 'fromfile'])).status).toBe('running');
  });

  it('--http-server alone takes a free port; --http-server-port a given one', async () => {
    expect((await ockam(home, ['node', 'create', 'h1', '--http-server'])).code).toBe(0);
    const address = (await json(home, ['node', 'show', 'h1'])).http_server_address as string;
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect((await fetch(`http://${address}/`, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`http://${address}/show`, { method: 'HEAD' })).status).toBe(405);
    expect((await fetch(`http://${address}/show`)).status).toBe(200);
    const port = await freePort();
    expect((await ockam(home, ['node', 'create', 'h2', '--http-server-port', String(port)])).code).toBe(0);
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
  });

  it('status waits as long as --timeout says for each node, and refuses a duration it cannot read', async () => {
    const status = await json(home, ['status', '--timeout', '10s']);
    expect(status.nodes.find((n: { name: string }) => n.name === 'h1')).toMatchObject({ status: 'running' });
    expect((await ockam(home, ['status', '--timeout', 'soon'])).stderr).toMatch(/Invalid duration 'soon'/);
  });
});

describe('node configurations', () => {
  let home: string;
  let cleanup: () => Promise<void>;
  beforeAll(() => ({ home, cleanup } = tempHome()));
  afterAll(() => cleanup());

  it('an empty --variable value is refused in Ockam words', async () => {
    const r = await ockam(home, ['node', 'create', '--configuration', '{name: n}', '--variable', 'MY_VAR=']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Empty value for variable 'MY_VAR'/);
  });

  it('an inline configuration creates the node with its outlet on 127.0.0.1', async () => {
    const config = '{name: n, tcp-outlets: {db-outlet: {to: 5432, at: n}}}';
    expect((await ockam(home, ['node', 'create', '--configuration', config])).code).toBe(0);
    expect(JSON.stringify(await json(home, ['node', 'show', 'n']))).toContain('127.0.0.1:5432');
  });

  it('two unnamed nodes from one configuration are two nodes, each with its own outlet', async () => {
    for (let i = 0; i < 2; i++)
      expect(
        (await ockam(home, ['node', 'create', '--configuration', '{tcp-outlets: {to: 8080}}'])).code,
      ).toBe(0);
    const names = (await json(home, ['node', 'list'])).map((n: { node_name: string }) => n.node_name);
    expect(names).toHaveLength(3);
    for (const name of names.filter((n: string) => n !== 'n'))
      expect(JSON.stringify(await json(home, ['node', 'show', name]))).toContain('127.0.0.1:8080');
  });

  it('a configuration that fails after its node started leaves no node behind', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    try {
      const config = `{name: broken, tcp-inlets: {i: {from: ${port}, to: /service/outlet}}}`;
      expect((await ockam(home, ['node', 'create', '--configuration', config])).code).toBe(1);
      const r = await ockam(home, ['node', 'show', 'broken']);
      expect(r.stderr).toMatch(/does not exist/);
      expect(existsSync(join(home, 'nodes', 'broken'))).toBe(false);
    } finally {
      taken.close();
    }
  });
});

describe('foreground nodes', () => {
  let home: string;
  let cleanup: () => Promise<void>;
  beforeAll(() => ({ home, cleanup } = tempHome()));
  afterAll(() => cleanup());

  const foreground = (name: string) => {
    const child = spawn(process.execPath, [OCKAM_BIN, 'node', 'create', name, '-f'], {
      env: { ...process.env, OCKAM_HOME: home },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    // Kept so that a node that does not come up says why in the failure.
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4096)));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    return { child, exited, stderr: () => stderr };
  };
  const running = (name: string, node: { stderr: () => string }) =>
    vi.waitFor(
      async () =>
        expect((await json(home, ['node', 'show', name])).status, `node ${name}: ${node.stderr()}`).toBe(
          'running',
        ),
      { timeout: 60_000, interval: 200 },
    );

  it('runs without nodes/NAME, refuses a twin, stops with node stop and can be created again', async () => {
    const first = foreground('fg');
    await running('fg', first);
    expect(existsSync(join(home, 'nodes', 'fg'))).toBe(false);
    expect((await ockam(home, ['node', 'create', 'fg', '-f'])).code).toBe(1);
    expect((await ockam(home, ['node', 'stop', 'fg'])).stdout).toBe('Node fg was stopped\n');
    expect(await first.exited).toBe(0);
    const second = foreground('fg');
    await running('fg', second);
    // Ockam's test teardown relies on this: delete --all stops foreground nodes too.
    expect((await ockam(home, ['node', 'delete', '--all', '--yes'])).code).toBe(0);
    expect(await second.exited).toBe(0);
  }, 180_000);
});

describe('services, workers, TCP connections and listeners', () => {
  let home: string;
  let cleanup: () => Promise<void>;
  beforeAll(() => ({ home, cleanup } = tempHome()));
  afterAll(() => cleanup());

  it('service start hop is refused a second time at one address and listed with its type', async () => {
    expect((await ockam(home, ['node', 'create', 'n1'])).code).toBe(0);
    expect(
      (await json(home, ['service', 'list', '--at', 'n1'])).map((s: { addr: string }) => s.addr),
    ).not.toContain('hop');
    expect((await ockam(home, ['service', 'start', 'hop', '--addr', 'h1', '--at', 'n1'])).code).toBe(0);
    const again = await ockam(home, ['service', 'start', 'hop', '--addr', 'h1', '--at', 'n1']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already running at address h1/);
    expect(await json(home, ['service', 'list', '--at', 'n1'])).toContainEqual({ addr: 'h1', type: 'hop' });
    const r = await ockam(home, ['message', 'send', 'hi', '--to', '/node/n1/service/h1/service/echo']);
    expect(r).toMatchObject({ code: 0, stdout: 'hi\n' });
    expect((await ockam(home, ['worker', 'list', '--at', 'n1'])).stdout).toMatch(/^Worker h1$/m);
  });

  it('routes through a TCP connection and another node’s hop service by worker addresses', async () => {
    const [p2, p3] = [await freePort(), await freePort()];
    expect((await ockam(home, ['node', 'create', 'n2', '-t', `127.0.0.1:${p2}`])).code).toBe(0);
    expect((await ockam(home, ['node', 'create', 'n3', '-t', `127.0.0.1:${p3}`])).code).toBe(0);
    expect((await ockam(home, ['service', 'start', 'hop', '--at', 'n2'])).code).toBe(0);
    const c1 = await ockam(home, ['tcp-connection', 'create', '--from', 'n1', '--to', `127.0.0.1:${p2}`]);
    const c2 = await ockam(home, ['tcp-connection', 'create', '--from', 'n2', '--to', `127.0.0.1:${p3}`]);
    // Piped, only the route piece, with the bare hex address Ockam's scripts cut out of it.
    expect(c1.stdout).toMatch(/^\/worker\/[0-9a-f]{32}\n$/);
    const route = `${c1.stdout.trim()}/service/hop${c2.stdout.trim()}/service/uppercase`;
    expect(await ockam(home, ['message', 'send', 'hello', '--from', 'n1', '--to', route])).toMatchObject({
      code: 0,
      stdout: 'HELLO\n',
    });
    const peer = `127.0.0.1:${p2}`;
    expect((await ockam(home, ['tcp-connection', 'list', '--at', 'n1'])).stdout).toContain(peer);
    expect((await ockam(home, ['tcp-connection', 'show', '--at', 'n1', peer])).stdout).toContain(peer);
    expect((await ockam(home, ['tcp-connection', 'delete', '--at', 'n1', peer, '--yes'])).code).toBe(0);
    expect((await ockam(home, ['tcp-connection', 'list', '--at', 'n1'])).stdout).not.toContain(peer);
  });

  it('tcp-listener create prints its route; the listener is listed, shown and deleted by address', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const created = await ockam(home, ['tcp-listener', 'create', address, '--at', 'n1']);
    expect(created.stdout).toMatch(/^\/dnsaddr\/localhost\/tcp\/\d+\n$/);
    expect((await ockam(home, ['tcp-listener', 'list', '--at', 'n1'])).stdout).toContain(address);
    expect((await ockam(home, ['tcp-listener', 'show', '--at', 'n1', address])).stdout).toContain(address);
    expect((await ockam(home, ['tcp-listener', 'delete', '--at', 'n1', address, '--yes'])).code).toBe(0);
    expect((await ockam(home, ['tcp-listener', 'list', '--at', 'n1'])).stdout).not.toContain(address);
  });
});

describe('reset', () => {
  it('stops the nodes and deletes what we wrote, keeping other files of the home', async () => {
    const { home, cleanup } = tempHome();
    try {
      writeFileSync(join(home, 'env'), '');
      mkdirSync(join(home, 'bin'));
      expect((await ockam(home, ['node', 'create', 'r'])).code).toBe(0);
      const { pid } = await json(home, ['node', 'show', 'r']);
      expect((await ockam(home, ['reset'])).stderr).toMatch(/Use --yes/);
      for (let i = 0; i < 2; i++) expect((await ockam(home, ['reset', '--yes'])).code).toBe(0);
      expect(readdirSync(home).sort()).toEqual(['bin', 'env']);
      // Gone, or a zombie its reparented parent has not reaped yet: no longer a running node.
      const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
      expect(stat === '' || / Z /.test(stat)).toBe(true);
    } finally {
      await cleanup();
    }
  });
});

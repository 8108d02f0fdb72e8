/**
 * The portal, relay, channel, message and rendezvous commands as Ockam 0.139's command has them:
 * what they print when piped (the "machine" form a script reads), their JSON, their flags, and
 * the errors of missing things. Real node processes, real sockets, a real HTTP server and curl.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OCKAM_BIN, ockam, tempHome } from './helpers.js';
import { freePort, run, startHttpServer } from './servers.js';

const ENV = { OCKAM_PING_INTERVAL_MS: '200' };

/** curl through an inlet until it answers (the route may take a moment to come up). */
async function expectHttpThrough(bound: string, timeout = 30_000): Promise<void> {
  await expect
    .poll(async () => (await run('curl', ['-sS', '-m', '5', '--head', `http://${bound}/`])).stdout, {
      timeout,
      interval: 500,
    })
    .toMatch(/^HTTP\/1\.0 200 OK/);
}

describe('portal, relay and secure channel commands, in the forms Ockam prints and reads', () => {
  let home: string;
  let cleanup: () => Promise<void>;
  let web: Awaited<ReturnType<typeof startHttpServer>>;
  const o = (args: string[]) => ockam(home, args, { env: ENV });
  /** A command line whose arguments have no spaces. */
  const c = (line: string) => o(line.split(' '));

  beforeAll(async () => {
    ({ home, cleanup } = tempHome());
    web = await startHttpServer();
    for (const n of ['n1', 'n2', 'relay']) expect((await o(['node', 'create', n])).code).toBe(0);
  });
  afterAll(async () => {
    web.stop();
    await cleanup();
  });

  it("tcp-outlet create prints /service/outlet for a node's first outlet, then random addresses; --from names it; a bare port is 127.0.0.1", async () => {
    const first = await c(`tcp-outlet create --at n1 --to ${web.port}`);
    expect(first).toMatchObject({ code: 0, stdout: '/service/outlet\n' });
    const second = await c(`tcp-outlet create --at n1 --to ${web.port}`);
    expect(second.stdout).toMatch(/^\/service\/[0-9a-f]{16}\n$/);
    const named = await o([
      'tcp-outlet',
      'create',
      '--at',
      'n1',
      '--from',
      'web',
      '--to',
      `127.0.0.1:${web.port}`,
    ]);
    expect(named.stdout).toBe('/service/web\n');
    const again = await c(`tcp-outlet create --at n1 --from /service/web --to 9`);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe('Error: Address web is already in use on node n1\n');
    const shown = JSON.parse((await c(`tcp-outlet show outlet --at n1`)).stdout);
    expect(shown).toMatchObject({
      node_name: 'n1',
      worker_address: '/service/outlet',
      to: `127.0.0.1:${web.port}`,
    });
    const listed = JSON.parse((await c(`tcp-outlet list --at n1`)).stdout);
    expect(listed.map((x: { from: string }) => x.from).sort()).toEqual(
      ['/service/outlet', '/service/web', second.stdout.trim()].sort(),
    );
  });

  it('tcp-outlet show and delete of a missing outlet say not found; deleting from a node with none prints []', async () => {
    const missing = await c(`tcp-outlet show nope --at n1`);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/not found/);
    expect((await c(`tcp-outlet delete nope --at n1 --yes`)).stderr).toBe(
      'Error: The TCP outlet nope was not found\n',
    );
    expect((await c(`tcp-outlet create --at relay --to 9`)).stdout).toBe('/service/outlet\n');
    expect((await c(`tcp-outlet delete outlet --at relay --yes`)).stdout).toBe('outlet\n');
    expect(await c(`tcp-outlet delete outlet --at relay --yes`)).toMatchObject({
      code: 0,
      stdout: '[]\n',
    });
  });

  it('tcp-inlet create prints its bound address; show has alias and bind_addr; a taken alias or port fails; a missing inlet is not found', async () => {
    const port = await freePort();
    const created = await c(
      `tcp-inlet create --at n2 --from ${port} --to /node/n1/secure/api/service/outlet --alias web`,
    );
    expect(created).toMatchObject({ code: 0, stdout: `127.0.0.1:${port}\n` });
    await expectHttpThrough(`127.0.0.1:${port}`);
    const shown = JSON.parse((await c(`tcp-inlet show web --at n2`)).stdout);
    expect(shown).toMatchObject({
      alias: 'web',
      bind_addr: `127.0.0.1:${port}`,
      outlet_addr: '/node/n1/secure/api/service/outlet',
      status: 'Up',
    });
    const otherPort = await freePort();
    const sameAlias = await c(
      `tcp-inlet create --at n2 --from ${otherPort} --to /node/n1/service/outlet --alias web`,
    );
    expect(sameAlias.stderr).toBe('Error: TCP inlet web already exists on node n2\n');
    const samePort = await c(`tcp-inlet create --at n2 --from ${port} --to /node/n1/service/outlet`);
    expect(samePort.code).toBe(1);
    expect(samePort.stderr).toMatch(new RegExp(`Cannot listen on 127\\.0\\.0\\.1:${port}`));
    const missing = await c(`tcp-inlet show nope --at n2`);
    expect(missing.stderr).toBe('Error: The TCP inlet nope was not found on node n2\n');
    expect((await c(`tcp-inlet delete nope --at n2 -y`)).stderr).toBe(
      'Error: The TCP inlet nope was not found\n',
    );
    expect(JSON.parse((await c(`tcp-inlet list --at n2`)).stdout)).toHaveLength(1);
  });

  it('tcp-inlet --to names the outlet and --via the relay it is behind; --via beside a full route is refused', async () => {
    expect((await c(`relay create blue --at relay --to n1`)).stdout).toBe('/service/forward_to_blue\n');
    const created = await c(
      `--output json tcp-inlet create --at n2 --to web --via blue --relay-at /node/relay --alias via-relay`,
    );
    const inlet = JSON.parse(created.stdout);
    expect(inlet.outlet_addr).toBe('/node/relay/service/forward_to_blue/secure/api/service/web');
    await expectHttpThrough(inlet.bind_addr);
    const both = await c(`tcp-inlet create --at n2 --to /node/n1/service/outlet --via blue`);
    expect(both.stderr).toBe("Error: '--via' can't be passed if '--to' is a route\n");
  });

  it('relay create, list, show and delete print what Ockam prints; a missing relay is not found', async () => {
    expect((await c(`relay create red --at /node/relay --to n1`)).code).toBe(0);
    const listed = JSON.parse((await c(`relay list --to n1`)).stdout);
    expect(listed.map((r: { remote_address: string }) => r.remote_address).sort()).toEqual([
      'forward_to_blue',
      'forward_to_red',
    ]);
    expect((await c(`relay list --to relay`)).stdout).toBe('[]\n');
    expect(JSON.parse((await c(`relay list --to relay --served`)).stdout).sort()).toEqual([
      'forward_to_blue',
      'forward_to_red',
    ]);
    const shown = JSON.parse((await c(`relay show red --at n1`)).stdout);
    expect(shown.relay_route).toMatch(/^\d#\S+ => 0#forward_to_red$/);
    expect(shown.remote_address).toBe('/service/forward_to_red');
    expect(shown.worker_address).toMatch(/^\/service\/\S+$/);
    expect((await c(`relay show green --at n1`)).stderr).toMatch(/not found/);
    expect((await c(`relay delete -y red --at n1`)).code).toBe(0);
    const after = JSON.parse((await c(`relay list --to n1`)).stdout);
    expect(after.map((r: { name: string }) => r.name)).toEqual(['blue']);
    expect((await c(`relay delete -y red --at n1`)).stderr).toBe('Error: The relay red was not found\n');
    // A message through the relay, as `ockam message send … --to /node/relay/service/forward_to_blue/…`.
    const sent = await c(
      `message send hi --from n2 --to /node/relay/service/forward_to_blue/service/uppercase`,
    );
    expect(sent.stdout).toBe('HI\n');
  });

  it('an inlet made before its outlet exists connects once the outlet appears (--no-connection-wait)', async () => {
    const nodePort = await freePort();
    const created = await o([
      '--output',
      'json',
      'tcp-inlet',
      'create',
      '--at',
      'n2',
      '--to',
      `/ip4/127.0.0.1/tcp/${nodePort}/service/outlet`,
      '--no-connection-wait',
      '--retry-wait',
      '1s',
      '--alias',
      'early',
    ]);
    expect(created.code).toBe(0);
    const inlet = JSON.parse(created.stdout);
    expect(inlet.status).toBe('Down');
    expect(
      (await o(['node', 'create', 'late', '--tcp-listener-address', `127.0.0.1:${nodePort}`])).code,
    ).toBe(0);
    expect((await c(`tcp-outlet create --at late --to ${web.port}`)).code).toBe(0);
    await expectHttpThrough(inlet.bind_addr);
  });

  it('--identity: an outlet that allows one identifier admits the inlet that presents it, and only that one', async () => {
    // Piped, `identity create` prints the identifier alone (as Ockam's does).
    const altId = (await c(`identity create alt`)).stdout.trim();
    expect(altId).toMatch(/^I[0-9a-f]{64}$/);
    expect((await c(`identity show alt`)).stdout.trim()).toBe(altId);
    expect(
      (
        await o([
          'tcp-outlet',
          'create',
          '--at',
          'n1',
          '--from',
          'only-alt',
          '--to',
          String(web.port),
          '--allow',
          `(= subject.identifier "${altId}")`,
        ])
      ).code,
    ).toBe(0);
    const asNode = JSON.parse(
      (await c(`--output json tcp-inlet create --at n2 --to /node/n1/secure/api/service/only-alt`)).stdout,
    );
    const refused = await run('curl', ['-sS', '-m', '3', '--head', `http://${asNode.bind_addr}/`]);
    expect(refused.code).not.toBe(0);
    const asAlt = JSON.parse(
      (
        await c(
          `--output json tcp-inlet create --at n2 --to /node/n1/secure/api/service/only-alt --identity alt`,
        )
      ).stdout,
    );
    expect(asAlt.identity).toBe('alt');
    await expectHttpThrough(asAlt.bind_addr);
  });

  it('relay create --no-connection-wait returns before the relay node exists, and the relay comes up when it appears', async () => {
    const port = await freePort();
    const created = await c(
      `relay create later --to n2 --at /ip4/127.0.0.1/tcp/${port} --no-connection-wait`,
    );
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ name: 'later', connection_status: 'Down' });
    expect((await c(`node create relay2 --tcp-listener-address 127.0.0.1:${port}`)).code).toBe(0);
    await expect
      .poll(async () => JSON.parse((await c(`relay show later --at n2`)).stdout).connection_status, {
        timeout: 30_000,
        interval: 500,
      })
      .toBe('Up');
    expect(JSON.parse((await c(`relay list --to relay2 --served`)).stdout)).toEqual(['forward_to_later']);
  });

  it('tcp-inlet and tcp-outlet delete --all empty the node', async () => {
    expect((await c(`tcp-inlet delete --all --at n2 --yes`)).code).toBe(0);
    expect((await c(`tcp-inlet list --at n2`)).stdout).toBe('[]\n');
    expect((await c(`tcp-outlet delete --all --at late --yes`)).stdout).toBe('outlet\n');
    expect((await c(`tcp-outlet list --at late`)).stdout).toBe('[]\n');
  });

  it('secure-channel create prints /service/<32 hex> when piped, and that route reaches the peer', async () => {
    const created = await c(`secure-channel create --from n1 --to /node/n2/service/api`);
    expect(created.stdout).toMatch(/^\/service\/[0-9a-f]{32}\n$/);
    const sent = await o([
      'message',
      'send',
      'hello',
      '--from',
      'n1',
      '--to',
      `${created.stdout.trim()}/service/uppercase`,
    ]);
    expect(sent.stdout).toBe('HELLO\n');
    const listed = await c(`--output json secure-channel list --at n1`);
    expect(JSON.parse(listed.stdout).map((c: { address: string }) => `/service/${c.address}`)).toContain(
      created.stdout.trim(),
    );
  });

  it("an inlet to an existing channel's route (secure-channel create through a relay, then --to /service/<channel>/service/outlet) carries TCP", async () => {
    // The docs' end-to-end encryption use case, with the route passed by hand instead of a pipe.
    const channel = await c(
      `secure-channel create --from n2 --to /node/relay/service/forward_to_blue/service/api`,
    );
    expect(channel.stdout).toMatch(/^\/service\/[0-9a-f]{32}\n$/);
    const inlet = await c(`tcp-inlet create --at n2 --to ${channel.stdout.trim()}/service/outlet`);
    expect(inlet.stdout).toMatch(/^127\.0\.0\.1:\d+\n$/);
    await expectHttpThrough(inlet.stdout.trim());
  });

  it('secure-channel-listener create and show, with --identity and --authorized', async () => {
    expect((await c(`identity create i2`)).code).toBe(0);
    const i1 = (await c(`identity show`)).stdout.trim();
    const created = await o([
      'secure-channel-listener',
      'create',
      'l2',
      '--at',
      'n2',
      '--identity',
      'i2',
      '--authorized',
      i1,
    ]);
    expect(created.stdout).toBe('/service/l2\n');
    const shown = JSON.parse((await c(`--output json secure-channel-listener show l2 --at n2`)).stdout);
    expect(shown).toMatchObject({ address: 'l2', identity: 'i2', authorized: [i1] });
    expect((await c(`secure-channel-listener show nope --at n2`)).stderr).toBe(
      'Error: The secure channel listener nope was not found on node n2\n',
    );
  });

  it('message send to a node that does not exist fails; --retry-count tries again, --no-retry does not', async () => {
    const once = await c(
      `message send x --no-retry --retry-count 3 --timeout 5s --to /node/ghost/service/echo`,
    );
    expect(once.code).toBe(1);
    expect(once.stderr).not.toMatch(/retrying/);
    const retried = await c(
      `message send x --retry-count 2 --retry-delay 10ms --to /node/ghost/service/echo`,
    );
    expect(retried.code).toBe(1);
    expect(retried.stderr.match(/retrying/g)).toHaveLength(2);
  });
});

describe('ockam rendezvous', () => {
  let home: string;
  let cleanup: () => Promise<void>;
  beforeAll(() => {
    ({ home, cleanup } = tempHome());
  });
  afterAll(async () => cleanup());

  it('runs a rendezvous server in the foreground whose healthcheck answers Alive, tells a client its address, and stops on SIGTERM', async () => {
    const udpPort = await freePort();
    const healthPort = await freePort();
    const child: ChildProcess = spawn(
      process.execPath,
      [
        OCKAM_BIN,
        'rendezvous',
        'create',
        '--udp',
        `127.0.0.1:${udpPort}`,
        `--healthcheck=127.0.0.1:${healthPort}`,
      ],
      { env: { ...process.env, OCKAM_HOME: home }, stdio: 'ignore' },
    );
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await expect
        .poll(async () => (await run('curl', ['-sS', '-m', '5', `127.0.0.1:${healthPort}`])).stdout, {
          timeout: 20_000,
          interval: 200,
        })
        .toBe('Alive\n');
      const mine = await ockam(home, ['rendezvous', 'get-my-address', `127.0.0.1:${udpPort}`]);
      expect(mine.stdout).toMatch(/^127\.0\.0\.1:\d+\n$/);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });

  it('get-my-address fails clearly when nothing answers', async () => {
    // A bound UDP socket that never answers.
    const silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
    try {
      const r = await ockam(home, [
        'rendezvous',
        'get-my-address',
        `127.0.0.1:${silent.address().port}`,
        '--timeout',
        '500ms',
      ]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('Error: Rendezvous service did not answer within 500 ms\n');
    } finally {
      silent.close();
    }
  });
});

import { connect, createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ockam, tempHome } from './helpers.js';
import { postgresBin, run, startHttpServer, startPostgres } from './servers.js';

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

const ENV = { OCKAM_PING_INTERVAL_MS: '200' };

describe('TCP portals and relays across node processes', () => {
  let home: string;
  let cleanup: () => Promise<void>;
  let web: Awaited<ReturnType<typeof startHttpServer>>;
  let relayAddress: string;
  let proxy: Awaited<ReturnType<typeof recordingProxy>>;

  const o = (args: string[]) => ockam(home, args, { env: ENV });

  beforeAll(async () => {
    ({ home, cleanup } = tempHome());
    web = await startHttpServer();
    for (const n of ['relay', 'server', 'client']) expect((await o(['node', 'create', n])).code).toBe(0);
    relayAddress = JSON.parse(
      (await o(['--output', 'json', 'node', 'show', 'relay'])).stdout,
    ).tcpListenerAddress;
    // The server node reaches the relay node through this proxy, which records what the relay sees.
    proxy = await recordingProxy(relayAddress);
  });
  afterAll(async () => {
    proxy.server.close();
    web.stop();
    await cleanup();
  });

  it('serves an HTTP server to curl through inlet → relay node → outlet, and the relay sees only ciphertext', async () => {
    {
      expect((await o(['tcp-outlet', 'create', '--at', 'server', '--to', String(web.port)])).code).toBe(0);
      const relay = await o([
        'relay',
        'create',
        'web',
        '--to',
        'server',
        '--at',
        `/ip4/127.0.0.1/tcp/${proxy.port}`,
      ]);
      expect(relay.stdout).toBe('/service/forward_to_web\n');
      const inlet = JSON.parse(
        (
          await o([
            '--output',
            'json',
            'tcp-inlet',
            'create',
            '--at',
            'client',
            '--alias',
            'web',
            '--via',
            'web',
            '--relay-at',
            '/node/relay',
          ])
        ).stdout,
      );
      expect(inlet).toMatchObject({
        status: 'Up',
        outlet_addr: '/node/relay/service/forward_to_web/secure/api/service/outlet',
      });
      const head = await run('curl', ['-sS', '--head', `http://${inlet.bind_addr}/`]);
      expect(head.stdout).toMatch(/^HTTP\/1\.0 200 OK/);
      const body = await run('curl', ['-sS', `http://${inlet.bind_addr}/`]);
      expect(body.stdout).toMatch(/<title>Directory listing for \/<\/title>/);
      // Everything between the server node and the relay node went through the proxy: no plaintext.
      const seen = proxy.bytes();
      expect(seen.length).toBeGreaterThan(1000);
      for (const s of ['Directory listing', 'HTTP/1.0', 'SimpleHTTP', 'GET / HTTP'])
        expect(seen.includes(Buffer.from(s)), s).toBe(false);
    }
  });

  it('lists, shows and deletes inlets, outlets and relays', async () => {
    const inlets = JSON.parse((await o(['--output', 'json', 'tcp-inlet', 'list', '--at', 'client'])).stdout);
    expect(inlets.map((i: { alias: string }) => i.alias)).toEqual(['web']);
    expect(
      JSON.parse((await o(['--output', 'json', 'tcp-outlet', 'show', 'outlet', '--at', 'server'])).stdout).to,
    ).toBe(`127.0.0.1:${web.port}`);
    expect(
      JSON.parse((await o(['--output', 'json', 'relay', 'list', '--to', 'relay', '--served'])).stdout),
    ).toEqual(['forward_to_web']);
    expect(
      (await o(['tcp-outlet', 'create', '--at', 'server', '--from', 'outlet', '--to', String(web.port)]))
        .stderr,
    ).toBe('Error: Address outlet is already in use on node server\n');
    expect((await o(['tcp-inlet', 'show', 'nope', '--at', 'client'])).stderr).toBe(
      'Error: The TCP inlet nope was not found on node client\n',
    );
    expect(
      (await o(['tcp-outlet', 'create', '--at', 'server', '--from', 'x', '--to', 'host:99999'])).stderr,
    ).toMatch(/^Error: Invalid address 'host:99999'/);
    expect(
      (await o(['tcp-inlet', 'create', '--at', 'client', '--via', 'web', '--allow', 'component.db and (']))
        .stderr,
    ).toMatch(/^Error: cannot parse the policy/);
  });

  it('recovers after the outlet node is killed with SIGKILL, with no command: the node comes back with its relay and outlet', async () => {
    const inlet = JSON.parse(
      (await o(['--output', 'json', 'tcp-inlet', 'show', 'web', '--at', 'client'])).stdout,
    );
    const server = JSON.parse((await o(['--output', 'json', 'node', 'show', 'server'])).stdout);
    process.kill(server.pid, 'SIGKILL');
    await expect
      .poll(
        async () =>
          JSON.parse((await o(['--output', 'json', 'tcp-inlet', 'show', 'web', '--at', 'client'])).stdout)
            .status,
        { timeout: 15_000 },
      )
      .toBe('Down');
    // While down the inlet keeps its port; a client fails visibly rather than hanging forever.
    const down = await run('curl', ['-sS', '-m', '10', `http://${inlet.bind_addr}/`]);
    expect(down.code).not.toBe(0);
    expect((await o(['node', 'start', 'server'])).code).toBe(0);
    await expect
      .poll(
        async () => (await run('curl', ['-sS', '-m', '5', '--head', `http://${inlet.bind_addr}/`])).stdout,
        {
          timeout: 30_000,
          interval: 500,
        },
      )
      .toMatch(/^HTTP\/1\.0 200 OK/);
  });

  it('reaches a real PostgreSQL through a portal: psql queries and a pgbench run', async (ctx) => {
    if (!postgresBin()) {
      console.warn(
        'SKIPPED: PostgreSQL is not installed here (apt-get install postgresql); .ci/run installs it',
      );
      ctx.skip();
    }
    const pg = await startPostgres();
    try {
      expect(
        (await o(['tcp-outlet', 'create', '--at', 'server', '--from', 'postgres', '--to', String(pg.port)]))
          .code,
      ).toBe(0);
      const inlet = JSON.parse(
        (
          await o([
            '--output',
            'json',
            'tcp-inlet',
            'create',
            '--at',
            'client',
            '--alias',
            'pg',
            '--to',
            '/node/server/secure/api/service/postgres',
          ])
        ).stdout,
      );
      const [host, port] = inlet.bind_addr.split(':');
      const psql = (sql: string) =>
        run('psql', ['-h', host, '-p', port, '-U', 'postgres', '-d', 'postgres', '-At', '-c', sql]);
      expect((await psql('select 40 + 2')).stdout).toBe('42\n');
      expect(
        (
          await psql(
            'create table portal_test (id int primary key, v text); insert into portal_test select g, md5(g::text) from generate_series(1, 5000) g',
          )
        ).code,
      ).toBe(0);
      expect(
        (await psql("select count(*), md5(string_agg(v, ',' order by id)) from portal_test")).stdout,
      ).toMatch(/^5000\|[0-9a-f]{32}\n$/);
      const init = await run('pgbench', [
        '-h',
        host,
        '-p',
        port,
        '-U',
        'postgres',
        '-i',
        '-s',
        '1',
        'postgres',
      ]);
      expect(init.code, init.stderr).toBe(0);
      const bench = await run('pgbench', [
        '-h',
        host,
        '-p',
        port,
        '-U',
        'postgres',
        '-c',
        '4',
        '-j',
        '2',
        '-t',
        '100',
        'postgres',
      ]);
      expect(bench.code, bench.stderr).toBe(0);
      expect(bench.stdout).toMatch(/number of transactions actually processed: 400\/400/);
      expect(bench.stdout).toMatch(/number of failed transactions: 0 /);
      console.log(`pgbench through the portal: ${/tps = [\d.]+/.exec(bench.stdout)?.[0]} (4 clients)`);
    } finally {
      pg.stop();
    }
  });
});

import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../src/config.js';
import { OCKAM_BIN, ockam, tempHome } from './helpers.js';
import { run, startHttpServer } from './servers.js';

const dir = mkdtempSync(join(tmpdir(), 'ockcfg-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('configuration files', () => {
  it("reads Ockam's keys, with variables overridden by the environment", () => {
    const p = file(
      'db.yaml',
      "variables:\n  PG_PORT: 5432\nname: db\nticket: db.ticket\nrelays: db\ntcp-outlets:\n  db-outlet:\n    to: $PG_PORT\n    allow: 'component.web'\npolicies:\n  - resource: tcp-inlet\n    expression: '(= subject.component \"db\")'\n",
    );
    const { nodes } = loadConfig({ file: p }, { PG_PORT: '6543' });
    expect(nodes).toEqual([
      expect.objectContaining({
        name: 'db',
        ticket: 'db.ticket',
        relays: [{ name: 'db' }],
        outlets: [{ name: 'db-outlet', to: '6543', from: 'db-outlet', allow: 'component.web' }],
        policies: [{ resourceType: 'tcp-inlet', expression: '(= subject.component "db")' }],
      }),
    ]);
    // Ockam's single-machine JSON demo file.
    const json = loadConfig(
      {
        text: '{"name":"n1","tcp-listener-address":"127.0.0.1:1234","relay":"default","tcp-outlet":{"db-outlet":{"to":1235}},"tcp-inlet":{"web-inlet":{"from":1236}}}',
      },
      {},
    );
    expect(json.nodes[0]).toMatchObject({
      name: 'n1',
      tcpListenerAddress: '127.0.0.1:1234',
      outlets: [{ to: '1235' }],
      inlets: [{ name: 'web-inlet', from: '1236' }],
    });
  });

  it('names the file, line and key of every mistake', () => {
    const cases: Array<[string, RegExp]> = [
      [
        'name: a\ntcp-outlets:\n  db:\n    to: $NOPE\n',
        /:4: tcp-outlets\.db\.to: variable \$NOPE is not defined/,
      ],
      [
        'name: a\ntcp-outlets:\n  db:\n    to: not-a-port\n',
        /:4: tcp-outlets\.db\.to: expected a port or HOST:PORT, got 'not-a-port'/,
      ],
      ['name: a\ntcp-outlets:\n  db:\n    from: x\n', /:3: tcp-outlets\.db\.to: is required/],
      ['name: a\ntcp-inlet:\n  x:\n    frm: 1\n', /:4: tcp-inlets\.x\.frm: unknown key/],
      ['nmae: a\n', /:1: nmae: unknown key/],
      ['name: a\ntcp-inlets:\n  x:\n    to: /ip4/1.2.3/tcp/1\n', /:4: tcp-inlets\.x\.to: Invalid multiaddr/],
      ['name: [unclosed\n', /^.*bad\.yaml:\d+: /],
      ['- just\n- a list\n', /expected a mapping at the top level/],
    ];
    for (const [text, re] of cases)
      expect(() => loadConfig({ file: file('bad.yaml', text) }, {}), text).toThrow(re);
  });
});

describe('configuration files bring up a portal', () => {
  let home: string;
  let cleanup: () => Promise<void>;
  let web: Awaited<ReturnType<typeof startHttpServer>>;
  beforeAll(async () => {
    ({ home, cleanup } = tempHome());
    web = await startHttpServer();
  });
  afterAll(async () => {
    web.stop();
    await cleanup();
  });

  it('from two files, and changes nothing when a file is wrong', async () => {
    expect((await ockam(home, ['node', 'create', 'relay'])).code).toBe(0);
    const server = file(
      'server.yaml',
      'variables:\n  SERVICE_PORT: 1\nname: server\nrelays:\n  web:\n    at: /node/relay\ntcp-outlets:\n  web-outlet:\n    from: outlet\n    to: $SERVICE_PORT\n',
    );
    const r1 = await ockam(home, ['run', server], { env: { SERVICE_PORT: String(web.port) } });
    expect(r1.stdout).toBe(
      `✔ node server created\n✔ tcp outlet web-outlet → 127.0.0.1:${web.port}\n✔ relay web\n`,
    );
    const client = file(
      'client.yaml',
      'name: client\ntcp-inlets:\n  web-inlet:\n    from: 0\n    to: /node/relay/service/forward_to_web/secure/api/service/outlet\n',
    );
    expect((await ockam(home, ['node', 'create', client])).code).toBe(0);
    const inlet = JSON.parse(
      (await ockam(home, ['--output', 'json', 'tcp-inlet', 'show', 'web-inlet', '--at', 'client'])).stdout,
    );
    expect((await run('curl', ['-sS', '--head', `http://${inlet.bind_addr}/`])).stdout).toMatch(
      /^HTTP\/1\.0 200 OK/,
    );
    const bad = file('bad-node.yaml', 'name: wrong\ntcp-outlets:\n  x:\n    to: $UNSET_VAR\n');
    const r2 = await ockam(home, ['node', 'create', bad]);
    expect(r2.stderr).toMatch(/bad-node\.yaml:4: tcp-outlets\.x\.to: variable \$UNSET_VAR is not defined/);
    expect((await ockam(home, ['node', 'show', 'wrong'])).stderr).toMatch(/does not exist/);
  });
});

describe('ockam run --inline --blocking', () => {
  it('brings up an inline configuration, stays while its node runs, and stops it on SIGTERM', async () => {
    const { home, cleanup } = tempHome();
    try {
      const child = spawn(process.execPath, [OCKAM_BIN, 'run', '--inline', '{name: blk}', '--blocking'], {
        env: { ...process.env, OCKAM_HOME: home },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      const status = async () =>
        (
          JSON.parse((await ockam(home, ['node', 'show', 'blk', '--output', 'json'])).stdout) as {
            status: string;
          }
        ).status;
      await vi.waitFor(async () => expect(await status()).toBe('running'), {
        timeout: 60_000,
        interval: 250,
      });
      await vi.waitFor(() => expect(out).toMatch(/node blk created/), { timeout: 10_000 });
      // Still there while the node runs: the exit promise has not settled.
      expect(await Promise.race([exited, Promise.resolve('running')])).toBe('running');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(await status()).toBe('stopped');
      expect((await ockam(home, ['run', 'x.yaml', '--inline', '{name: b2}'])).stderr).toMatch(
        /Give a configuration file or --inline, not both/,
      );
    } finally {
      await cleanup();
    }
  }, 120_000);
});

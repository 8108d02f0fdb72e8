/**
 * Matrix item 5, relays: an outlet node of one implementation registers a relay on a relay node of
 * the other (`relay create NAME --at <route> --to <node>`), and inlets of both implementations reach
 * the outlet through `…/service/forward_to_NAME/secure/api/service/outlet`: the secure channel runs
 * end to end between the inlet's node and the outlet's node, through the relay node. curl (a few MB
 * each way, byte for byte) and psql go through each. Then Ockam's README quick start (outlet,
 * relay, inlet, curl) with the implementations mixed, a relay node standing in for the project.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ockam, rustMissing, type StartedNode } from '../src/ockam.js';
import {
  type BlobServer,
  createInlet,
  createOutlet,
  exec,
  expectCurlThrough,
  expectNoAnswer,
  expectPsqlThrough,
  freePort,
  startBlobServer,
  startPostgres,
  waitForHead,
} from './portal-fixtures.js';

/** `relay create NAME --at ROUTE [--to NODE]` on either side; resolves with the command's JSON. */
async function createRelay(
  side: Ockam,
  name: string | undefined,
  at: string,
  to?: string,
): Promise<Record<string, unknown>> {
  return side.json<Record<string, unknown>>([
    'relay',
    'create',
    ...(name ? [name] : []),
    '--at',
    at,
    ...(to ? ['--to', to] : []),
  ]);
}

describe.skipIf(rustMissing())('relays between our ockam and Ockam Rust 0.139', () => {
  let ours: Ockam;
  let rust: Ockam;
  let blob: BlobServer;
  let pg: { port: number; stop(): void };
  const nodes: Record<string, StartedNode> = {};

  beforeAll(async () => {
    ours = Ockam.ours();
    rust = Ockam.rust();
    blob = await startBlobServer();
    pg = await startPostgres();
    for (const side of [ours, rust]) {
      nodes[`${side.impl}Relay`] = await side.createNode('relay');
      nodes[`${side.impl}Server`] = await side.createNode('server');
      nodes[`${side.impl}Client`] = await side.createNode('client');
      await createOutlet(side, 'server', blob.target);
      await createOutlet(side, 'server', `127.0.0.1:${pg.port}`, 'pg');
    }
  });

  afterAll(async () => {
    await Promise.allSettled([ours?.dispose(), rust?.dispose()]);
    pg?.stop();
    await blob?.stop();
  });

  it('our outlet node registers a relay on a Rust relay node; inlets of both reach it: curl and psql', async () => {
    const relay = nodes.rustRelay as StartedNode;
    const created = await createRelay(ours, 'blue', relay.route, 'server');
    // Ockam's relay JSON, on both sides.
    expect(created.remote_address).toBe('forward_to_blue');
    expect(created.connection_status).toBe('Up');
    // The Rust relay node lists the relay it serves under the name our node asked for.
    const base = `${relay.route}/service/forward_to_blue/secure/api/service`;
    for (const side of [ours, rust]) {
      const web = await createInlet(side, 'client', ['--to', `${base}/outlet`], `blue-web-${side.impl}`);
      await expectCurlThrough(web, blob);
      const db = await createInlet(side, 'client', ['--to', `${base}/pg`], `blue-pg-${side.impl}`);
      await expectPsqlThrough(db, `via_rust_relay_from_${side.impl}`);
    }
  });

  it('a Rust outlet node registers a relay on our relay node; inlets of both reach it: curl and psql', async () => {
    const relay = nodes.oursRelay as StartedNode;
    const created = await createRelay(rust, 'red', relay.route, 'server');
    expect(JSON.stringify(created)).toContain('forward_to_red');
    // Our relay node serves it under the requested name.
    const served = await ours.json<string[]>(['relay', 'list', '--to', 'relay', '--served']);
    expect(served).toContain('forward_to_red');
    const base = `${relay.route}/service/forward_to_red/secure/api/service`;
    for (const side of [ours, rust]) {
      const web = await createInlet(side, 'client', ['--to', `${base}/outlet`], `red-web-${side.impl}`);
      await expectCurlThrough(web, blob);
      const db = await createInlet(side, 'client', ['--to', `${base}/pg`], `red-pg-${side.impl}`);
      await expectPsqlThrough(db, `via_ours_relay_from_${side.impl}`);
    }
  });

  it('relays register again when the relay node of the other side restarts', async () => {
    // A Rust outlet node's relay on our relay node, which stops and starts on the same port; our
    // inlet goes through it.
    const ourRelay = await ours.createNode('relay2', [
      '--tcp-listener-address',
      `127.0.0.1:${await freePort()}`,
    ]);
    await createRelay(rust, 'green', ourRelay.route, 'server');
    const ourInlet = await createInlet(
      ours,
      'client',
      ['--to', `${ourRelay.route}/service/forward_to_green/secure/api/service/outlet`],
      'green-again',
    );
    await waitForHead(ourInlet);
    await ours.ok(['node', 'stop', 'relay2']);
    await expectNoAnswer(ourInlet);
    await ours.ok(['node', 'start', 'relay2']);
    // Rust's relay session notices missed pings (every 10 s, 3 misses) and registers again.
    await expect
      .poll(async () => await ours.json<string[]>(['relay', 'list', '--to', 'relay2', '--served']), {
        timeout: 120_000,
        interval: 1000,
      })
      .toContain('forward_to_green');
    await waitForHead(ourInlet);
    await expectCurlThrough(ourInlet, blob);

    // Our outlet node's relay on a Rust relay node, deleted and created again on the same port; a
    // Rust inlet goes through it.
    const port = await freePort();
    const rustRelay = await rust.createNode('relay2', ['--tcp-listener-address', `127.0.0.1:${port}`]);
    await createRelay(ours, 'yellow', rustRelay.route, 'server');
    const rustInlet = await createInlet(
      rust,
      'client',
      ['--to', `${rustRelay.route}/service/forward_to_yellow/secure/api/service/outlet`],
      'yellow-again',
    );
    await waitForHead(rustInlet);
    await rust.ok(['node', 'delete', 'relay2', '--yes']);
    await expectNoAnswer(rustInlet);
    await rust.createNode('relay2', ['--tcp-listener-address', `127.0.0.1:${port}`]);
    await waitForHead(rustInlet);
    await expectCurlThrough(rustInlet, blob);
  });
});

/**
 * Ockam's README quick start at 0.139, without the Orchestrator: `ockam enroll` provisions a
 * project that relays; here a relay node of one implementation plays the project. The rest is the
 * README's commands on default nodes: `tcp-outlet create --to PORT`, `relay create` (the relay
 * `default`), `tcp-inlet create --from PORT` (to `forward_to_default/secure/api/service/outlet`),
 * `curl --head`. Each role is a separate home; the roles alternate between the implementations.
 */
describe.skipIf(rustMissing())("Ockam's README quick start with the implementations mixed", () => {
  let blob: BlobServer;
  const homes: Ockam[] = [];

  beforeAll(async () => {
    blob = await startBlobServer(1024 * 1024);
  });
  afterAll(async () => {
    await Promise.allSettled(homes.map((h) => h.dispose()));
    await blob?.stop();
  });

  const quickStart = async (project: Ockam, service: Ockam, client: Ockam) => {
    homes.push(project, service, client);
    const relay = await project.createNode('project');
    // -- application service: an outlet and the relay `default`, both on the default node --
    await createOutlet(service, undefined, String(blob.port));
    await createRelay(service, undefined, relay.route);
    // -- application client: an inlet on the default node, then curl --head --
    const to =
      client.impl === 'ours'
        ? ['--relay-at', relay.route] // our shorthand: forward_to_default/secure/api/service/outlet
        : ['--to', `${relay.route}/service/forward_to_default/secure/api/service/outlet`];
    const inlet = await createInlet(client, undefined, to, 'quick-start');
    const head = await exec('curl', [
      '-sS',
      '--fail',
      '-m',
      '10',
      '--retry',
      '20',
      '--retry-all-errors',
      '--retry-delay',
      '1',
      '--head',
      `http://${inlet}/`,
    ]);
    expect(head.code, head.stderr).toBe(0);
    expect(head.stdout.toString()).toMatch(/^HTTP\/1\.1 200 OK/);
    await expectCurlThrough(inlet, blob);
  };

  it('Rust relay node, our outlet and relay on our default node, Rust inlet', async () => {
    await quickStart(Ockam.rust(), Ockam.ours(), Ockam.rust());
  });

  it('our relay node, Rust outlet and relay on its default node, our inlet', async () => {
    await quickStart(Ockam.ours(), Ockam.rust(), Ockam.ours());
  });

  it('Rust relay node, Rust outlet and relay, our inlet; and our relay node, our outlet, Rust inlet', async () => {
    await quickStart(Ockam.rust(), Ockam.rust(), Ockam.ours());
    await quickStart(Ockam.ours(), Ockam.ours(), Ockam.rust());
  });
});

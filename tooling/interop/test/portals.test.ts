/**
 * Matrix item 5, portals: an inlet of one implementation reaches an outlet of the other through a
 * secure channel between the two (`…/secure/api/service/outlet`), with curl (a few MB each way,
 * checked byte for byte) and psql going through it. Each side is its own `ockam` command, home and
 * node processes; only routes are shared.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ockam, rustMissing, type StartedNode } from '../src/ockam.js';
import {
  type BlobServer,
  createInlet,
  createOutlet,
  expectCurlThrough,
  expectNoAnswer,
  expectPsqlThrough,
  freePort,
  startBlobServer,
  startPostgres,
  waitForHead,
} from './portal-fixtures.js';

describe.skipIf(rustMissing())('TCP portals between our ockam and Ockam Rust 0.139', () => {
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
    nodes.oursServer = await ours.createNode('server');
    nodes.oursClient = await ours.createNode('client');
    nodes.rustServer = await rust.createNode('server');
    nodes.rustClient = await rust.createNode('client');
    for (const side of [ours, rust]) {
      // The default outlet address is `outlet` on both sides: the inlets' routes below rely on it.
      expect(await createOutlet(side, 'server', blob.target)).toContain('/service/outlet');
      await createOutlet(side, 'server', `127.0.0.1:${pg.port}`, 'pg');
    }
  });

  afterAll(async () => {
    await Promise.allSettled([ours?.dispose(), rust?.dispose()]);
    pg?.stop();
    await blob?.stop();
  });

  it('our inlet reaches a Rust outlet through a secure channel to the Rust node: curl and psql', async () => {
    const server = nodes.rustServer as StartedNode;
    const web = await createInlet(
      ours,
      'client',
      ['--to', `${server.route}/secure/api/service/outlet`],
      'o2r-web',
    );
    await expectCurlThrough(web, blob);
    const db = await createInlet(ours, 'client', ['--to', `${server.route}/secure/api/service/pg`], 'o2r-pg');
    await expectPsqlThrough(db, 'ours_to_rust');
  });

  it('a Rust inlet reaches our outlet through a secure channel to our node: curl and psql', async () => {
    const server = nodes.oursServer as StartedNode;
    const web = await createInlet(
      rust,
      'client',
      ['--to', `${server.route}/secure/api/service/outlet`],
      'r2o-web',
    );
    await expectCurlThrough(web, blob);
    const db = await createInlet(rust, 'client', ['--to', `${server.route}/secure/api/service/pg`], 'r2o-pg');
    await expectPsqlThrough(db, 'rust_to_ours');
  });

  it('the inlets of both sides list the same connection facts for a cross portal', async () => {
    // What each side reports about an inlet to the other's outlet: the route it was given.
    const shown = await ours.json<{ outlet_addr: string; status: string }>([
      'tcp-inlet',
      'show',
      'o2r-web',
      '--at',
      'client',
    ]);
    expect(shown.outlet_addr).toBe(`${(nodes.rustServer as StartedNode).route}/secure/api/service/outlet`);
    expect(shown.status).toBe('Up');
    const theirs = await rust.json<Record<string, unknown>>([
      'tcp-inlet',
      'show',
      'r2o-web',
      '--at',
      'client',
    ]);
    expect(JSON.stringify(theirs)).toContain(
      `${(nodes.oursServer as StartedNode).route}/secure/api/service/outlet`,
    );
  });

  it("each side's inlet comes back when the other side's outlet node is restarted", async () => {
    // A Rust inlet to our node, which stops and starts again on the same port (outlets restored).
    const ourNode = await ours.createNode('restarting', [
      '--tcp-listener-address',
      `127.0.0.1:${await freePort()}`,
    ]);
    await createOutlet(ours, 'restarting', blob.target);
    const rustInlet = await createInlet(
      rust,
      'client',
      ['--to', `${ourNode.route}/secure/api/service/outlet`],
      'r2o-restart',
    );
    await waitForHead(rustInlet);
    await ours.ok(['node', 'stop', 'restarting']);
    await expectNoAnswer(rustInlet);
    await ours.ok(['node', 'start', 'restarting']);
    await waitForHead(rustInlet); // Rust's inlet session replaces its route (pings `echo` every 10 s)
    await expectCurlThrough(rustInlet, blob);

    // Our inlet to a Rust node, deleted and created again on the same port with its outlet.
    const port = await freePort();
    const rustNode = await rust.createNode('restarting', ['--tcp-listener-address', `127.0.0.1:${port}`]);
    await createOutlet(rust, 'restarting', blob.target);
    const ourInlet = await createInlet(
      ours,
      'client',
      ['--to', `${rustNode.route}/secure/api/service/outlet`],
      'o2r-restart',
    );
    await waitForHead(ourInlet);
    await rust.ok(['node', 'delete', 'restarting', '--yes']);
    await expectNoAnswer(ourInlet);
    await rust.createNode('restarting', ['--tcp-listener-address', `127.0.0.1:${port}`]);
    await createOutlet(rust, 'restarting', blob.target);
    await waitForHead(ourInlet);
    await expectCurlThrough(ourInlet, blob);
  });
});

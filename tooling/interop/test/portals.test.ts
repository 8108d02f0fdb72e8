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
  expectPsqlThrough,
  startBlobServer,
  startPostgres,
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
    const shown = await ours.json<{ to: string; status: string }>([
      'tcp-inlet',
      'show',
      'o2r-web',
      '--at',
      'client',
    ]);
    expect(shown.to).toBe(`${(nodes.rustServer as StartedNode).route}/secure/api/service/outlet`);
    expect(shown.status).toBe('up');
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
});

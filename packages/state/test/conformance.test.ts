/**
 * The one conformance suite (conformance.ts) against the three stores: in memory, SQLite (two
 * `State`s on one database file) and PostgreSQL (a real server: two pools on one fresh schema).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { OckamHome } from '../src/home.js';
import { memoryStateStore } from '../src/memory-store.js';
import { openPostgresStateStore } from '../src/postgres-stores.js';
import { sqliteStateStore } from '../src/sqlite-store.js';
import { State } from '../src/state.js';
import { postgresBin, startPostgres, type TestPostgres } from '../src/testing.js';
import { describeNodeStateStore } from './conformance.js';

describeNodeStateStore('in memory', async () => {
  const store = memoryStateStore();
  return { a: store, b: store, close: async () => {} };
});

describeNodeStateStore('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ockam-state-conformance-'));
  const states = [new State(new OckamHome(dir)), new State(new OckamHome(dir))] as const;
  return {
    a: sqliteStateStore(states[0]),
    b: sqliteStateStore(states[1]),
    async close() {
      for (const s of states) s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

const available = postgresBin() !== undefined;
if (!available)
  console.warn('SKIPPED: PostgreSQL is not installed here (apt-get install postgresql); .ci/run installs it');

describe.skipIf(!available)('PostgreSQL', () => {
  let pg: TestPostgres;
  let schemas = 0;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(() => pg?.stop());

  describeNodeStateStore('PostgreSQL', async () => {
    // A fresh schema per test: an empty store without a new server.
    const config = {
      host: pg.host,
      port: pg.port,
      user: pg.user,
      database: 'postgres',
      schema: `t${++schemas}`,
    };
    const a = await openPostgresStateStore(config);
    const b = await openPostgresStateStore(config);
    return {
      a,
      b,
      async close() {
        await a.close();
        await b.close();
      },
    };
  });
});

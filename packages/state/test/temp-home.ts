import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { OckamHome } from '../src/home.js';
import { Identities } from '../src/identities.js';
import { Projects } from '../src/projects.js';
import { State } from '../src/state.js';

const opened: Array<{ state: State; dir: string }> = [];

/** Fresh `$OCKAM_HOME`s for one test file, closed and removed after each test. */
export function tempHomes(prefix: string): () => {
  dir: string;
  state: State;
  identities: Identities;
  projects: Projects;
} {
  afterEach(() => {
    for (const { state, dir } of opened.splice(0)) {
      state.db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    const state = new State(new OckamHome(dir));
    opened.push({ state, dir });
    return { dir, state, identities: new Identities(state), projects: new Projects(state) };
  };
}

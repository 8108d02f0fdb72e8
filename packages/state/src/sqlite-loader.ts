/**
 * better-sqlite3 is an optional dependency: it compiles a native addon when no prebuilt binary
 * fits, and a library user without a compiler must still be able to install our packages. It is
 * loaded here, when a SQLite store is opened, and nowhere else. When it is missing (npm and pnpm
 * drop an optional dependency whose build failed) or its addon is not there (pnpm 10 runs no
 * dependency build unless allowed; a build for another Node.js), the error says so and how to
 * build it again so that the compiler's own error shows.
 */
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { StateError } from './errors.js';

type DatabaseConstructor = typeof BetterSqlite3;

const HOW_TO_BUILD =
  "Build it again to see the compiler's error: 'npm rebuild better-sqlite3 --foreground-scripts' " +
  "(a recent npm may first want 'npm install-scripts approve better-sqlite3'; with pnpm: 'pnpm approve-builds', " +
  "then 'pnpm rebuild better-sqlite3'); npm also keeps a failed install script's output in its " +
  'debug log (~/.npm/_logs). Without a ' +
  'prebuilt binary for this platform it needs a C++ compiler, make and python3 (Debian: apt-get ' +
  'install g++ make python3). Or use the in-memory or PostgreSQL store.';

/** The driver, or a StateError (`unsupported`) saying it is not installed and how to install it. */
export function loadBetterSqlite3(from: string | URL = import.meta.url): DatabaseConstructor {
  try {
    return createRequire(from)('better-sqlite3') as DatabaseConstructor;
  } catch (cause) {
    const e = cause as NodeJS.ErrnoException;
    if (e.code === 'MODULE_NOT_FOUND' && /better-sqlite3/.test(e.message))
      throw new StateError(
        'unsupported',
        'The SQLite state store needs the optional package better-sqlite3, which is not installed ' +
          '(npm and pnpm leave an optional package out when its native build fails). Install it: ' +
          "'npm install better-sqlite3 --foreground-scripts' prints the compiler's error if its build fails. " +
          HOW_TO_BUILD,
        { cause },
      );
    throw cause;
  }
}

/** Messages of a native addon that is absent, built for another Node.js, or does not load. */
const ADDON_FAILURE =
  /Could not locate the bindings file|NODE_MODULE_VERSION|ERR_DLOPEN_FAILED|invalid ELF header|cannot open shared object|better_sqlite3\.node/;

/** Opens a database; an addon that does not load is a StateError (`unsupported`) with the fix. */
export function openSqliteDatabase(
  path: string,
  options: BetterSqlite3.Options = {},
  from: string | URL = import.meta.url,
): BetterSqlite3.Database {
  const Database = loadBetterSqlite3(from);
  try {
    // The addon is loaded by the first `new Database`, not by the require above.
    return cacheStatements(new Database(path, options));
  } catch (cause) {
    const e = cause as NodeJS.ErrnoException;
    if (ADDON_FAILURE.test(`${e.code ?? ''} ${e.message}`)) {
      const first = e.message.split('\n')[0];
      throw new StateError(
        'unsupported',
        `better-sqlite3 is installed but its native addon does not load (${first}): its build did not ` +
          `run, failed, or was made for another Node.js (this one is ${process.version}). ${HOW_TO_BUILD}`,
        { cause },
      );
    }
    throw cause;
  }
}

/** How many prepared statements a database keeps (the state's SQL is a few dozen fixed strings). */
export const STATEMENT_CACHE_SIZE = 256;

/**
 * Makes `db.prepare(sql)` return the statement it prepared before for the same SQL. Compiling a
 * statement costs more than running it: a portal's policy lookup on every message spent more time
 * in `prepare` than in SQLite. Safe here because no caller changes a statement's mode (`pluck`,
 * `raw`, `expand`, `safeIntegers`) or keeps one iterating; the cache is emptied when full, so SQL
 * built at run time cannot grow it without bound.
 */
function cacheStatements(db: BetterSqlite3.Database): BetterSqlite3.Database {
  const prepare = db.prepare.bind(db);
  const cache = new Map<string, BetterSqlite3.Statement>();
  db.prepare = ((sql: string) => {
    let statement = cache.get(sql);
    if (statement === undefined) {
      statement = prepare(sql);
      if (cache.size >= STATEMENT_CACHE_SIZE) cache.clear();
      cache.set(sql, statement);
    }
    return statement;
  }) as typeof db.prepare;
  return db;
}

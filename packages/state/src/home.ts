/**
 * Where a user's Ockam state lives: `$OCKAM_HOME`, or `~/.ockam` (PROTOCOL.md §10.1). Every
 * directory we create is owner-only (0700) and every file we create is 0600: other users of the
 * machine can neither read keys nor drive the nodes' control sockets. A directory that already
 * exists is left as it is (a shared 1777 directory keeps its sticky bit); if other users may
 * rename or replace what is in it (group- or world-writable without the sticky bit), that is
 * reported in `warnings()`, which the daemon logs and the command prints.
 */
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export const NODE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export class OckamHome {
  readonly root: string;
  readonly #warnings = new Set<string>();
  readonly #warn = (message: string): void => {
    this.#warnings.add(message);
  };

  constructor(root?: string) {
    this.root = resolve(root ?? process.env.OCKAM_HOME ?? join(homedir(), '.ockam'));
  }

  /** Creates the root (0700) if missing, and returns it. */
  ensure(): string {
    ensurePrivateDir(this.root, this.#warn);
    return this.root;
  }

  /** Why directories in use (found, not created) may be unsafe, once each. */
  warnings(): string[] {
    return [...this.#warnings];
  }

  get databasePath(): string {
    return join(this.root, 'database.sqlite3');
  }

  nodeDir(name: string): string {
    return join(this.root, 'nodes', name);
  }

  ensureNodeDir(name: string): string {
    ensurePrivateDir(join(this.root, 'nodes'), this.#warn);
    return ensurePrivateDir(this.nodeDir(name), this.#warn);
  }

  /**
   * The control socket, `run/NAME.sock`: outside `nodes/NAME`, which only a background node has (a
   * foreground node, as in Ockam, writes nothing there). Unix socket paths are limited to ~107
   * bytes; tests keep homes short.
   */
  socketPath(name: string): string {
    return join(this.root, 'run', `${name}.sock`);
  }

  /** Creates the directory of the control sockets (0700) and returns it. */
  ensureSocketDir(): string {
    return ensurePrivateDir(join(this.root, 'run'), this.#warn);
  }

  /** Where a background node's process writes its own stdout and stderr (crash traces, V8 messages). */
  stdoutPath(name: string): string {
    return join(this.nodeDir(name), 'stdout');
  }

  logPath(name: string): string {
    return join(this.nodeDir(name), 'node.log');
  }
}

/**
 * Creates `path` and its missing parents owner-only (0700, whatever the umask) and returns it. A
 * directory that exists already keeps its mode: it may be shared on purpose (a 1777 directory
 * keeps its sticky bit). `warn` hears when others could rename or replace entries in it.
 */
export function ensurePrivateDir(path: string, warn?: (message: string) => void): string {
  const target = resolve(path);
  const created = mkdirSync(target, { recursive: true, mode: 0o700 });
  if (created !== undefined) {
    // Only what we created: `created` and the directories below it down to `target`.
    for (let dir = target; ; dir = dirname(dir)) {
      chmodSync(dir, 0o700);
      if (dir === resolve(created) || dir === dirname(dir)) break;
    }
  } else if (warn !== undefined) {
    const why = unsafeDirectory(target);
    if (why !== undefined) warn(why);
  }
  return path;
}

/** Why other users could rename or replace entries in an existing directory, or undefined. */
function unsafeDirectory(path: string): string | undefined {
  if (process.platform === 'win32') return undefined;
  const mode = statSync(path).mode;
  const sticky = (mode & 0o1000) !== 0;
  const writableBy = [mode & 0o020 ? 'its group' : '', mode & 0o002 ? 'all users' : ''].filter(Boolean);
  if (sticky || writableBy.length === 0) return undefined;
  return `${path} is writable by ${writableBy.join(' and ')} (mode ${(mode & 0o7777).toString(8)}) without the sticky bit: other users can replace Ockam's files in it; use a directory of your own, or chmod 700 ${path}`;
}

export function validateNodeName(name: string): string {
  if (!NODE_NAME_PATTERN.test(name)) {
    throw new Error(
      `Invalid node name '${name}': use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit`,
    );
  }
  return name;
}

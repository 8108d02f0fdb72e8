/**
 * Where a user's Ockam state lives: `$OCKAM_HOME`, or `~/.ockam` (PROTOCOL.md §10.1). Every
 * directory is created owner-only (0700) and every file we create is 0600: other users of the
 * machine can neither read keys nor drive the nodes' control sockets.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const NODE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export class OckamHome {
  readonly root: string;

  constructor(root?: string) {
    this.root = resolve(root ?? process.env.OCKAM_HOME ?? join(homedir(), '.ockam'));
  }

  /** Creates the root (0700) if missing, and returns it. */
  ensure(): string {
    ensurePrivateDir(this.root);
    return this.root;
  }

  get databasePath(): string {
    return join(this.root, 'database.sqlite3');
  }

  nodeDir(name: string): string {
    return join(this.root, 'nodes', name);
  }

  ensureNodeDir(name: string): string {
    ensurePrivateDir(join(this.root, 'nodes'));
    return ensurePrivateDir(this.nodeDir(name));
  }

  /** The control socket. Unix socket paths are limited to ~107 bytes; tests keep homes short. */
  socketPath(name: string): string {
    return join(this.nodeDir(name), 'api.sock');
  }

  logPath(name: string): string {
    return join(this.nodeDir(name), 'node.log');
  }
}

export function ensurePrivateDir(path: string): string {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  chmodSync(path, 0o700);
  return path;
}

export function validateNodeName(name: string): string {
  if (!NODE_NAME_PATTERN.test(name)) {
    throw new Error(
      `Invalid node name '${name}': use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit`,
    );
  }
  return name;
}

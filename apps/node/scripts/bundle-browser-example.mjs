/**
 * Bundles the browser example (browser-example/src/main.ts) for browsers into
 * browser-example/ockam-example.js, which the node's HTTP server serves under /example/.
 * Runs as part of `pnpm build`, after `tsc -b` has built the workspace packages' dist/.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const result = await build({
  entryPoints: ['browser-example/src/main.ts'],
  outfile: 'browser-example/ockam-example.js',
  absWorkingDir: root,
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  sourcemap: false,
  minify: false,
  metafile: true,
  logLevel: 'warning',
  // Everything the page needs is in the bundle.
  external: [],
});
const nodeImports = Object.entries(result.metafile.inputs).flatMap(([file, input]) =>
  input.imports.filter((i) => i.path.startsWith('node:')).map((i) => `${file} imports ${i.path}`),
);
if (nodeImports.length > 0) {
  console.error(`browser example: node-only imports in the bundle:\n  ${nodeImports.join('\n  ')}`);
  process.exit(1);
}

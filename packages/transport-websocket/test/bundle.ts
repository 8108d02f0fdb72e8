import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';

/** The package root: metafile paths are relative to it (`dist/browser.js`, `../core/dist/…`). */
export const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BROWSER_APP = fileURLToPath(new URL('./fixtures/browser-app.ts', import.meta.url));

/** Bundles the browser app (core, vault/noble, identity, secure-channel, this transport) for browsers. */
export async function bundleBrowserApp(): Promise<{ code: string; metafile: Metafile }> {
  const result = await build({
    entryPoints: [BROWSER_APP],
    absWorkingDir: PACKAGE_ROOT,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
    // Nothing may be left for the page to import: every module must be bundled.
    external: [],
  });
  return { code: result.outputFiles[0]!.text, metafile: result.metafile };
}

import { describe, expect, it } from 'vitest';
import { bundleBrowserApp } from './bundle.js';

describe('browser bundle', () => {
  it('bundles core, vault/noble, identity, secure-channel and this transport with no node: imports', async () => {
    const { code, metafile } = await bundleBrowserApp();
    const inputs = Object.keys(metafile.inputs);
    // The browser entries were picked: no ws, no node-only vault backend.
    // `@ockam/transport-websocket` resolved to its browser entry through the `browser` condition.
    expect(inputs).toContain('dist/browser.js');
    expect(inputs).not.toContain('dist/index.js');
    expect(inputs).not.toContain('dist/ws-server.js');
    expect(inputs).toContain('../vault/dist/browser.js');
    expect(inputs.some((i) => /[\\/]ws[\\/]/.test(i))).toBe(false);
    expect(inputs.some((i) => i.includes('node-primitives'))).toBe(false);
    for (const [file, input] of Object.entries(metafile.inputs)) {
      for (const imp of input.imports)
        expect(imp.path.startsWith('node:'), `${file} imports ${imp.path}`).toBe(false);
    }
    expect(code).not.toMatch(/["']node:[a-z_/]+["']/);
    expect(code).not.toMatch(/\brequire\(/);
    expect(code.length).toBeGreaterThan(10_000);
  });
});

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeWebSocket } from '../src/index.js';
import { bundleBrowserApp } from './bundle.js';
import { askThroughSecureChannel } from './fixtures/browser-app.js';
import { contains, type Gateway, startGateway } from './fixtures/gateway.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const MESSAGE = 'hello from the browser';
const enc = new TextEncoder();

function expectOnlyCiphertext(gateway: Gateway): void {
  // Three handshake messages, the request, the reply and Close at least.
  expect(gateway.seen.length).toBeGreaterThanOrEqual(5);
  for (const p of gateway.seen) {
    expect(contains(p, enc.encode(MESSAGE))).toBe(false);
    expect(contains(p, enc.encode(MESSAGE.toUpperCase()))).toBe(false);
  }
}

describe('secure channel from a WebSocket client through a recording relay', () => {
  it('works from Node with the browser bundle code and ws as its WebSocket', async () => {
    const gateway = await startGateway();
    try {
      const result = await askThroughSecureChannel({
        url: gateway.url,
        serverIdentifier: gateway.identifier,
        message: MESSAGE,
        via: ['relay', 'hop'],
        WebSocket: NodeWebSocket,
      });
      expect(result.reply).toBe(MESSAGE.toUpperCase());
      expect(result.peerIdentifier).toBe(gateway.identifier);
      expectOnlyCiphertext(gateway);
    } finally {
      await gateway.stop();
    }
  });
});

const chromiumMissing = existsSync(CHROMIUM)
  ? undefined
  : `${CHROMIUM} not found (install Debian's chromium package, or set CHROMIUM_PATH)`;
if (chromiumMissing) console.warn(`skipping the headless Chromium test: ${chromiumMissing}`);

describe.skipIf(chromiumMissing !== undefined)('in headless Chromium', () => {
  let http: Server;
  let gateway: Gateway;
  let pageUrl: string;
  let foreignPageUrl: string;
  let profile: string;

  beforeAll(async () => {
    const { code } = await bundleBrowserApp();
    const page = `<!doctype html><meta charset="utf-8"><title>ockam</title><pre id="out">pending</pre>
<script type="module">
import { askThroughSecureChannel } from '/app.js';
const p = new URLSearchParams(location.search);
const out = document.getElementById('out');
try {
  const r = await askThroughSecureChannel({ url: p.get('ws'), serverIdentifier: p.get('id'), message: p.get('msg'), via: ['relay', 'hop'] });
  out.textContent = 'reply: ' + r.reply;
} catch (e) {
  out.textContent = 'error: ' + (e && e.stack || e);
}
</script>`;
    http = createServer((req, res) => {
      if (req.url?.startsWith('/app.js')) res.writeHead(200, { 'content-type': 'text/javascript' }).end(code);
      else if (req.url?.startsWith('/?') || req.url === '/')
        res.writeHead(200, { 'content-type': 'text/html' }).end(page);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    const port = (http.address() as { port: number }).port;
    // The page's origin is another port than the listener's: it must be allowed.
    gateway = await startGateway([`http://127.0.0.1:${port}`]);
    const q = new URLSearchParams({ ws: gateway.url, id: gateway.identifier, msg: MESSAGE });
    pageUrl = `http://127.0.0.1:${port}/?${q}`;
    // The same page from another origin (localhost is not 127.0.0.1 to a browser).
    foreignPageUrl = `http://localhost:${port}/?${q}`;
    profile = mkdtempSync(join(tmpdir(), 'ockam-chromium-'));
  });

  afterAll(async () => {
    await gateway?.stop();
    await new Promise((r) => http?.close(r));
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  const launch = async () => {
    const { chromium } = await import('playwright-core');
    return chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  };

  it('a page from an origin the listener does not allow cannot connect (Chromium sends Origin)', async () => {
    const context = await launch();
    try {
      const page = await context.newPage();
      await page.goto(foreignPageUrl);
      await page.waitForFunction(() => document.getElementById('out')?.textContent !== 'pending', undefined, {
        timeout: 20_000,
      });
      expect(await page.textContent('#out')).toMatch(/^error: /);
      // Nothing reached the relay worker behind the listener.
      expect(gateway.seen).toHaveLength(0);
    } finally {
      await context.close();
    }
  });

  it('opens a secure channel from the page and shows the reply; the relay saw only ciphertext', async () => {
    const context = await launch();
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(pageUrl);
      await page.waitForFunction(() => document.getElementById('out')?.textContent !== 'pending', undefined, {
        timeout: 20_000,
      });
      const text = await page.textContent('#out');
      expect(errors).toEqual([]);
      expect(text).toBe(`reply: ${MESSAGE.toUpperCase()}`);
      expectOnlyCiphertext(gateway);
    } finally {
      await context.close();
    }
  });
});

/**
 * The browser example (browser-example/, served by a node's HTTP server under /example/), end to
 * end with real processes: a relay node with a WebSocket listener and an HTTP server, a service
 * node (TCP only) that registered a relay there through a recording TCP proxy, and the page in
 * headless Chromium, which opens a secure channel to the service node through the relay:
 *
 *   Chromium --WS--> relay: forward_to_svc --TCP (proxy, recorded)--> svc: api --> uppercase
 *
 * The page must show the reply, and the proxy, which carries everything between the relay and the
 * service node, must have seen only ciphertext.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OCKAM_BIN = fileURLToPath(new URL('../bin/ockam.js', import.meta.url));
const BUNDLE = fileURLToPath(new URL('../../daemon/browser-example/ockam-example.js', import.meta.url));
const MESSAGE = 'hello from the browser example 7f3a';
const enc = new TextEncoder();

interface NodeShow {
  tcpListenerAddress: string;
  websocketListenerAddress: string | null;
  http_server_address: string | null;
  identifier: string;
}

function ockam(home: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [OCKAM_BIN, ...args],
      { env: { ...process.env, OCKAM_HOME: home }, timeout: 30_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
    child.stdin?.end();
  });
}

async function ok(home: string, args: string[]): Promise<string> {
  const r = await ockam(home, args);
  if (r.code !== 0) throw new Error(`ockam ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

const show = async (home: string, name: string): Promise<NodeShow> =>
  JSON.parse(await ok(home, ['--output', 'json', 'node', 'show', name])) as NodeShow;

/** A TCP proxy to `target` that records every byte, both directions. */
async function recordingProxy(
  target: string,
): Promise<{ port: number; bytes: () => Buffer; close(): Promise<void> }> {
  const [host, port] = [
    target.slice(0, target.lastIndexOf(':')),
    Number(target.slice(target.lastIndexOf(':') + 1)),
  ];
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    const outbound = createConnection({ host, port });
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.on('data', (d: Buffer) => chunks.push(Buffer.from(d)));
    outbound.on('data', (d: Buffer) => chunks.push(Buffer.from(d)));
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    bytes: () => Buffer.concat(chunks),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const chromiumMissing = existsSync(CHROMIUM)
  ? undefined
  : `${CHROMIUM} not found (install Debian's chromium package, or set CHROMIUM_PATH)`;
if (chromiumMissing) console.warn(`skipping the browser example test: ${chromiumMissing}`);

describe.skipIf(chromiumMissing !== undefined)('the browser example in headless Chromium', () => {
  let home: string;
  let profile: string;
  let proxy: Awaited<ReturnType<typeof recordingProxy>> | undefined;
  let relay: NodeShow;
  let svc: NodeShow;

  beforeAll(async () => {
    if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run pnpm build in apps/daemon first`);
    // Short, so the nodes' Unix socket paths stay under the 107-byte limit.
    home = mkdtempSync(join(tmpdir(), 'ock-'));
    profile = mkdtempSync(join(tmpdir(), 'ockam-chromium-'));
    await ok(home, [
      'node',
      'create',
      'relay',
      '--websocket-listener-address',
      '127.0.0.1:0',
      '--http-server',
      '127.0.0.1:0',
    ]);
    await ok(home, ['node', 'create', 'svc']);
    relay = await show(home, 'relay');
    svc = await show(home, 'svc');
    expect(relay.websocketListenerAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(relay.http_server_address).toMatch(/^127\.0\.0\.1:\d+$/);
    proxy = await recordingProxy(relay.tcpListenerAddress);
    const out = await ok(home, [
      'relay',
      'create',
      'svc',
      '--to',
      'svc',
      '--at',
      `/ip4/127.0.0.1/tcp/${proxy.port}`,
    ]);
    expect(out).toMatch(/forward_to_svc/);
  }, 45_000);

  afterAll(async () => {
    if (home) {
      await ockam(home, ['node', 'delete', '--all', '--yes']);
      rmSync(home, { recursive: true, force: true });
    }
    await proxy?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('serves the page and its bundle under /example/', async () => {
    const page = await fetch(`http://${relay.http_server_address}/example/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('id="reply"');
    expect(html).toContain('ockam-example.js');
    const bundle = await fetch(`http://${relay.http_server_address}/example/ockam-example.js`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toMatch(/javascript/);
  });

  it('opens a secure channel from the page through the relay and shows the reply; the relay saw only ciphertext', async () => {
    const { chromium } = await import('playwright-core');
    const context = await chromium.launchPersistentContext(profile, {
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
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      const q = new URLSearchParams({
        ws: relay.websocketListenerAddress!,
        route: 'forward_to_svc',
        id: svc.identifier,
      });
      await page.goto(`http://${relay.http_server_address}/example/?${q}`);
      await page.waitForFunction(
        () => document.getElementById('status')?.textContent === 'ready',
        undefined,
        {
          timeout: 10_000,
        },
      );
      const before = proxy!.bytes().length;
      await page.fill('#message', MESSAGE);
      await page.click('#send');
      await page.waitForFunction(
        () =>
          (document.getElementById('reply')?.textContent ?? '') !== '' ||
          (document.getElementById('status')?.textContent ?? '').startsWith('error'),
        undefined,
        { timeout: 30_000 },
      );
      const status = await page.textContent('#status');
      expect(errors).toEqual([]);
      expect(status).not.toMatch(/^error/);
      expect(await page.textContent('#reply')).toBe(MESSAGE.toUpperCase());
      expect(status).toBe(`secure channel with ${svc.identifier}`);

      // Everything between the relay and the service node went through the proxy: the handshake,
      // the request and the reply (well over 5 Ockam messages' worth), and none of it in the clear.
      const recorded = proxy!.bytes();
      expect(recorded.length - before).toBeGreaterThan(500);
      expect(recorded.includes(Buffer.from(enc.encode(MESSAGE)))).toBe(false);
      expect(recorded.includes(Buffer.from(enc.encode(MESSAGE.toUpperCase())))).toBe(false);
    } finally {
      await context.close();
    }
  });
});

/**
 * Finding 5 of issue 14, "any web page can drive a node": a page the node's user visits can open a
 * WebSocket to the node's listener and read its HTTP status server (by DNS rebinding), and the
 * status server published the addresses of the workers that a route may name (a channel's
 * encryptor, TCP senders), which is what made the flow-control bypass of finding 1 practical.
 *
 * The node under attack runs in its own process with a WebSocket listener, the HTTP status server
 * (which serves the browser example) and one extra allowed origin; it has a secure channel to a
 * second node, a portal with an open connection, a relay and a WebSocket client, so that every
 * kind of worker whose address is a capability exists while /metrics and /show are read.
 */
import net from 'node:net';
import { decodeBareString, encodeBareString, LocalMessage } from '@ockam/core';
import { controlGet } from '@ockam/hardening/ockam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest } from '../src/http-peer.js';
import { logLines, OckamEnv, type RunningNode, rssMiB, startNode, underAttack } from '../src/nodes.js';
import { splitHostPort } from '../src/peer.js';
import { messageFrame, RawWebSocket } from '../src/websocket-peer.js';

/** The node's resident memory stays under this during and after the attacks (it starts near 80). */
const RSS_BOUND_MIB = 250;
const ALLOWED_ORIGIN = 'https://app.example';
const EVIL = 'evil.example';
const STATUS_PATHS = [
  '/',
  '/health',
  '/show',
  '/metrics',
  '/example',
  '/example/',
  '/example/index.html',
  '/example/ockam-example.js',
  '/nope',
];

describe('any web page can drive a node (issue 14, finding 5)', () => {
  const env = new OckamEnv();
  let target: RunningNode;
  let wsAddress: string;
  let httpAddress: string;
  let echoServer: net.Server;
  let portal: net.Socket | undefined;
  let wsClient: RawWebSocket | undefined;

  const socket = () => env.socketPath(target.name);
  const workers = async () => (await controlGet<{ workers: string[] }>(socket(), '/workers')).workers;
  const deliveries = async (kind: string): Promise<number> => {
    const text = (await httpRequest(httpAddress, '/metrics')).body;
    return Number(
      new RegExp(`^ockam_worker_messages_total\\{kind="${kind}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0,
    );
  };

  beforeAll(async () => {
    target = await startNode(env, 'target', [
      '--websocket-listener-address',
      '127.0.0.1:0',
      '--http-server',
      '127.0.0.1:0',
      '--websocket-allowed-origin',
      ALLOWED_ORIGIN,
    ]);
    await startNode(env, 'peer');
    const shown = await env.json<{ websocketListenerAddress: string; http_server_address: string }>([
      'node',
      'show',
      'target',
    ]);
    wsAddress = shown.websocketListenerAddress;
    httpAddress = shown.http_server_address;

    // Workers whose addresses are capabilities, on the target: a secure channel it initiated (its
    // encryptor, a TCP sender), a channel it accepted behind a portal with an open connection
    // (outlet portal workers), a relay it hosts, and a WebSocket client's connection.
    await env.ok(['secure-channel', 'create', '--from', 'target', '--to', '/node/peer/service/api']);
    echoServer = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echoServer.listen(0, '127.0.0.1', () => r()));
    const echoPort = (echoServer.address() as net.AddressInfo).port;
    await env.ok(['tcp-outlet', 'create', '--at', 'target', '--to', `127.0.0.1:${echoPort}`]);
    const inlet = await env.json<{ bind_addr: string }>([
      'tcp-inlet',
      'create',
      '--at',
      'peer',
      '--to',
      '/node/target/secure/api/service/outlet',
    ]);
    const [ih, ip] = splitHostPort(inlet.bind_addr);
    portal = net.connect({ host: ih, port: ip });
    const echoed = new Promise<void>((r) => portal!.once('data', () => r()));
    portal.write('through the portal');
    await echoed;
    await env.ok(['relay', 'create', 'r1', '--to', 'peer', '--at', '/node/target']);
    wsClient = await RawWebSocket.open(wsAddress);
    expect(wsClient.status).toBe(101);
  }, 240_000);

  afterAll(async () => {
    portal?.destroy();
    wsClient?.destroy();
    await new Promise((r) => echoServer?.close(r));
    await env.dispose();
  });

  it('refuses a WebSocket upgrade from a foreign page with 403, and nothing reaches the node', async () => {
    const wsWorkers = async () => (await workers()).filter((w) => /^ws_(sender|receiver)_/.test(w)).length;
    const before = { ws: await wsWorkers(), uppercase: await deliveries('uppercase') };
    const port = wsAddress.slice(wsAddress.lastIndexOf(':') + 1);
    // Each request carries a frame for `uppercase` right behind it, as if the upgrade had worked.
    const frame = messageFrame(new LocalMessage(['uppercase'], ['attacker'], encodeBareString('pwned')));
    const attempts: Array<{ origin: string; host?: string }> = [
      { origin: `http://${EVIL}` },
      // DNS rebinding: the page came from evil.example:PORT, which now resolves to the node.
      { origin: `http://${EVIL}:${port}`, host: `${EVIL}:${port}` },
      { origin: 'null' },
      { origin: 'http://app.example' },
    ];
    const timing = await underAttack(target, async () => {
      for (let round = 0; round < 10; round++) {
        for (const a of attempts) {
          const peer = await RawWebSocket.open(wsAddress, a, frame);
          try {
            expect(peer.status, JSON.stringify(a)).toBe(403);
            expect(await peer.waitFor(() => peer.closed, 10_000)).toBe(true);
            expect(peer.received).toHaveLength(0);
          } finally {
            peer.destroy();
          }
        }
      }
    });
    expect(timing.during).toBeLessThan(1_000);
    expect(timing.after).toBeLessThan(1_000);
    expect(await wsWorkers()).toBe(before.ws);
    expect(await deliveries('uppercase')).toBe(before.uppercase);
    // 40 refusals, one line (at most one per minute).
    expect(logLines(target, /websocket upgrade refused/)).toHaveLength(1);
    expect(rssMiB(target)).toBeLessThan(RSS_BOUND_MIB);
  });

  it('still upgrades same-origin, allowed and Origin-less requests, each carrying an echo', async () => {
    const port = wsAddress.slice(wsAddress.lastIndexOf(':') + 1);
    const accepted: Array<{ origin?: string; host?: string }> = [
      {},
      { origin: `http://${wsAddress}` },
      { origin: `http://localhost:${port}`, host: `localhost:${port}` },
      // The example page the node's own status server serves.
      { origin: `http://${httpAddress}` },
      { origin: ALLOWED_ORIGIN },
    ];
    const timing = await underAttack(target, async () => {
      for (const a of accepted) {
        const peer = await RawWebSocket.open(wsAddress, a);
        try {
          expect(peer.status, JSON.stringify(a)).toBe(101);
          peer.send(new LocalMessage(['echo'], ['page'], encodeBareString('hello')));
          expect(await peer.waitFor(() => peer.received.length > 0, 10_000)).toBe(true);
          expect(decodeBareString(peer.received[0]!.payload, 'echo')).toBe('hello');
          expect(peer.received[0]!.onwardRoute.toString()).toBe('0#page');
        } finally {
          peer.destroy();
        }
      }
    });
    expect(timing.during).toBeLessThan(1_000);
    expect(timing.after).toBeLessThan(1_000);
  });

  it('refuses every status endpoint, the example page included, when Host is a foreign name (DNS rebinding)', async () => {
    const port = httpAddress.slice(httpAddress.lastIndexOf(':') + 1);
    const hosts = [EVIL, `${EVIL}:${port}`, `localhost.${EVIL}:${port}`, `127.0.0.1.${EVIL}:${port}`];
    const timing = await underAttack(target, async () => {
      for (const path of STATUS_PATHS)
        for (const method of ['GET', 'HEAD'])
          for (const host of hosts) {
            const answer = await httpRequest(httpAddress, path, { host, method });
            expect(answer.status, `${method} ${path} Host: ${host}`).toBe(421);
            expect(answer.body).not.toMatch(/ockam_|identifier|<html/i);
          }
    });
    expect(timing.during).toBeLessThan(1_000);
    expect(timing.after).toBeLessThan(1_000);
    // The node's own names still work.
    for (const host of [httpAddress, `localhost:${port}`]) {
      expect((await httpRequest(httpAddress, '/health', { host })).status).toBe(200);
      expect((await httpRequest(httpAddress, '/example/', { host })).status).toBe(200);
    }
    expect(logLines(target, /http status request refused/)).toHaveLength(1);
    expect(rssMiB(target)).toBeLessThan(RSS_BOUND_MIB);
  });

  it('publishes no worker address in /metrics or /show, yet still counts messages per kind of worker', async () => {
    const all = await workers();
    const { channels } = await controlGet<{ channels: Array<{ address: string }> }>(
      socket(),
      '/secure-channels',
    );
    const { connections } = await controlGet<{
      connections: Array<{ senderAddress: string; flowControlId: string }>;
    }>(socket(), '/tcp-connections');
    const encryptors = channels.map((c) => c.address);
    const senders = connections.map((c) => c.senderAddress);
    expect(encryptors.length).toBeGreaterThan(0);
    expect(senders.length).toBeGreaterThan(0);
    // Every random address (32 hex digits, with or without a prefix) and every relay is secret.
    const secret = [
      ...new Set([
        ...all.filter((w) => /[0-9a-f]{32}/.test(w) || w.startsWith('forward_to_')),
        ...encryptors,
        ...senders,
        ...connections.map((c) => c.flowControlId),
      ]),
    ];
    for (const kind of [
      /^tcp_sender_/,
      /^tcp_receiver_/,
      /^ws_sender_/,
      /^outlet_portal_/,
      /^forward_to_r1$/,
      /^[0-9a-f]{32}$/,
    ])
      expect(
        secret.some((w) => kind.test(w)),
        String(kind),
      ).toBe(true);

    const metrics = (await httpRequest(httpAddress, '/metrics')).body;
    const show = (await httpRequest(httpAddress, '/show')).body;
    for (const text of [metrics, show]) for (const s of secret) expect(text).not.toContain(s);

    expect(metrics).toMatch(/^ockam_worker_messages_total\{kind="secure_channel"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^ockam_worker_messages_total\{kind="tcp_sender"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^ockam_worker_messages_total\{kind="relay"\} \d+$/m);
    expect(JSON.parse(show)).toMatchObject({ name: 'target', secureChannels: { initiated: 1 } });
  });
});

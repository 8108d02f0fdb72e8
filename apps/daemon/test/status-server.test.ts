import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LogLine, recordingLogger } from '@ockam/core';
import type { NodeStatus } from '@ockam/node/control';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicStatus, type StatusServer, startStatusServer } from '../src/status-server.js';

/** GET (or `method`) `path` from `address` with `Host: host`. */
function get(address: string, path: string, host: string, method = 'GET'): Promise<number> {
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { host } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

const source = (dir: string) => ({
  staticDir: dir,
  health: () => ({}),
  show: () => ({ ok: true }),
  metrics: () => [],
});

describe('the HTTP status server checks Host on every request', () => {
  let dir: string;
  let server: StatusServer;
  let port: number;
  let lines: LogLine[];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ockam-status-'));
    writeFileSync(join(dir, 'index.html'), '<html></html>');
    const rec = recordingLogger('debug');
    lines = rec.lines;
    server = await startStatusServer('127.0.0.1:0', {
      ...source(dir),
      allowedHosts: ['Status.Example.com', 'proxy.example:8443'],
      logger: rec.logger,
    });
    port = Number(server.address.split(':')[1]);
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers its own address, its loopback names and the allowed hosts', async () => {
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `LOCALHOST:${port}`,
      `[::1]:${port}`,
      'status.example.com',
      'proxy.example:8443',
    ]) {
      expect(await get(server.address, '/health', host), host).toBe(200);
      expect(await get(server.address, '/example/', host), host).toBe(200);
    }
  });

  it('refuses other names with 421 on every path and logs it once', async () => {
    for (const path of ['/', '/health', '/show', '/metrics', '/example/', '/example/index.html', '/nope'])
      for (const host of [
        'evil.example',
        `evil.example:${port}`,
        `127.0.0.1:${port + 1}`,
        'status.example.com:80',
        `127.0.0.1:${port}@evil.example`,
      ])
        expect(await get(server.address, path, host), `${path} ${host}`).toBe(421);
    // HTTP/1.0 without Host at all.
    const answer = await new Promise<string>((resolve) => {
      const s = connect(port, '127.0.0.1', () => s.write('GET /show HTTP/1.0\r\n\r\n'));
      let text = '';
      s.on('data', (d) => {
        text += d;
      });
      s.on('close', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 421 /);
    expect(lines.filter((l) => l.message.startsWith('http status request refused'))).toHaveLength(1);
  });

  it('gives the origins of the pages it serves, for the WebSocket listener to allow', () => {
    expect(server.origins).toEqual(
      expect.arrayContaining([
        `http://127.0.0.1:${port}`,
        `http://localhost:${port}`,
        `http://[::1]:${port}`,
        'http://status.example.com',
        'https://status.example.com',
      ]),
    );
  });

  it('refuses to start with an allowed host that is not a host', async () => {
    await expect(
      startStatusServer('127.0.0.1:0', { ...source(dir), allowedHosts: ['http://x.example/'] }),
    ).rejects.toThrow(RangeError);
  });
});

describe('a status server bound to every interface', () => {
  it('answers IP literals with its port, and no DNS name', async () => {
    const server = await startStatusServer('0.0.0.0:0', source(tmpdir()));
    try {
      const port = Number(server.address.split(':').pop());
      expect(await get(server.address, '/health', `10.1.2.3:${port}`)).toBe(200);
      expect(await get(server.address, '/health', `10.1.2.3:${port + 1}`)).toBe(421);
      expect(await get(server.address, '/health', `evil.example:${port}`)).toBe(421);
    } finally {
      await server.close();
    }
  });
});

describe('what the status server publishes', () => {
  it('/show keeps no worker address or flow-control id', () => {
    const status: NodeStatus = {
      name: 'n1',
      pid: 1,
      tcpListenerAddress: '127.0.0.1:1',
      identifier: 'I00',
      uptimeMs: 1,
      services: ['echo'],
      tcpConnections: [
        {
          senderAddress: 'tcp_sender_0123456789abcdef0123456789abcdef',
          peer: '127.0.0.1:2',
          flowControlId: 'f'.repeat(32),
          exposed: false,
        },
      ],
      secureChannels: { initiated: 1, accepted: 0 },
      httpServerAddress: null,
      websocketListenerAddress: null,
      udp: null,
    };
    const text = JSON.stringify(publicStatus(status));
    expect(text).not.toContain('tcp_sender_');
    expect(text).not.toContain('f'.repeat(32));
    expect(text).toContain('127.0.0.1:2');
  });
});

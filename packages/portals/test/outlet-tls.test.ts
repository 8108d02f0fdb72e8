import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { Node } from '@ockam/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInlet, createOutlet } from '../src/index.js';
import { capturingLogger, collect, connectTo, listenOn, waitFor } from './helpers.js';

/** A TLS echo server with a fresh self-signed certificate for 127.0.0.1 (made by openssl). */
let server: Server;
let port: number;
let cert: Buffer;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outlet-tls-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  cert = readFileSync(join(dir, 'cert.pem'));
  server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (s) => s.pipe(s));
  port = await listenOn(server as unknown as Parameters<typeof listenOn>[0]);
});
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('tcp outlet with tls', () => {
  it('reaches a TLS service whose certificate it trusts, and refuses one it does not', async () => {
    const { logger, lines } = capturingLogger();
    const node = new Node({ name: 'tls', logger });
    try {
      createOutlet(node, { address: 'trusting', to: `127.0.0.1:${port}`, tls: { ca: cert }, lingerMs: 20 });
      createOutlet(node, { address: 'system-cas', to: `127.0.0.1:${port}`, tls: true, lingerMs: 20 });
      const trusting = await createInlet(node, { bind: '127.0.0.1:0', route: ['trusting'], lingerMs: 20 });
      const client = await connectTo(trusting.address.port);
      const echoed = new Promise<string>((resolve) =>
        client.once('data', (d: Buffer) => resolve(d.toString())),
      );
      client.write('over tls');
      expect(await echoed).toBe('over tls');
      client.destroy();

      const refusing = await createInlet(node, { bind: '127.0.0.1:0', route: ['system-cas'], lingerMs: 20 });
      const refused = await connectTo(refusing.address.port);
      refused.write('never delivered');
      expect((await collect(refused)).data.length).toBe(0);
      await waitFor(() => lines.some((l) => l.message.includes('cannot reach its target')), 'refusal logged');
      await trusting.stop();
      await refusing.stop();
    } finally {
      await node.stop();
    }
  });
});

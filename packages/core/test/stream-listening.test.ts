import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { whenListening } from '../src/index.js';

const listenOn = (server: Server, port: number, signal?: AbortSignal): Promise<void> =>
  whenListening(server, () => server.listen({ host: '127.0.0.1', port }), {
    signal,
    release: () => server.close(),
    failed: (e) => new Error(`failed: ${e.message}`),
    cancelled: () => new Error('cancelled'),
  });

describe('whenListening', () => {
  it('resolves once the server listens', async () => {
    const server = createServer();
    await listenOn(server, 0);
    expect(server.listening).toBe(true);
    server.close();
  });

  it("rejects with the transport's error and releases the server when the port is taken", async () => {
    const first = createServer();
    await listenOn(first, 0);
    const { port } = first.address() as { port: number };
    const second = createServer();
    await expect(listenOn(second, port)).rejects.toThrow(/^failed: .*EADDRINUSE/);
    expect(second.listening).toBe(false);
    expect(second.listenerCount('error')).toBe(0);
    first.close();
  });

  it('rejects as cancelled, listening on nothing, when its signal aborts first', async () => {
    const server = createServer();
    const ac = new AbortController();
    const listening = listenOn(server, 0, ac.signal);
    ac.abort();
    await expect(listening).rejects.toThrow('cancelled');
    expect(server.listenerCount('listening')).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(server.listening).toBe(false);
  });
});

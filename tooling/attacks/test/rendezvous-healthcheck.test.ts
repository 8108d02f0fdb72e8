/**
 * The rendezvous server's TCP healthcheck (`ockam rendezvous create --healthcheck`, issue 17)
 * listens on 0.0.0.0:4001 by default, so anyone may connect. Each healthcheck costs a UDP bind and
 * a ping, so the server serves at most 16 at once and gives a client 5 s to send its request. An
 * attacker who opens many connections and sends nothing (slowloris) gets the ones over the cap
 * closed at once, holds the others no longer than the read timeout, and the healthcheck answers
 * `Alive` again as soon as they are gone.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { OCKAM_BIN, OckamEnv } from '@ockam/hardening/ockam';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const CAP = 16;
const ATTACKERS = 40;

/** A connection, and a promise of its close by the server (with whether anything came first). */
function open(port: number): Promise<{ socket: Socket; closed: Promise<{ gotData: boolean; at: number }> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    // Listening from the start: a connection over the cap may be closed before `connect` returns.
    let gotData = false;
    socket.on('data', () => (gotData = true));
    const closed = new Promise<{ gotData: boolean; at: number }>((r) =>
      socket.once('close', () => r({ gotData, at: performance.now() })),
    );
    socket.once('connect', () => {
      socket.on('error', () => {});
      resolve({ socket, closed });
    });
    socket.once('error', reject);
  });
}

async function healthcheck(port: number): Promise<string> {
  const { socket: s } = await open(port);
  const reply = new Promise<string>((resolve) => {
    let text = '';
    s.on('data', (d) => (text += d));
    s.on('error', () => {});
    s.once('close', () => resolve(text));
  });
  s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  return reply;
}

describe('rendezvous healthcheck under a connection flood', () => {
  const env = new OckamEnv();
  let server: ChildProcess;
  let port = 0;

  beforeAll(async () => {
    server = spawn(
      process.execPath,
      [OCKAM_BIN, 'rendezvous', 'create', '--udp', '127.0.0.1:0', '--healthcheck', '127.0.0.1:0'],
      { env: { ...process.env, OCKAM_HOME: env.home }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    server.stderr!.on('data', (d) => (err += d));
    await vi.waitFor(
      () => {
        const m = /healthcheck on TCP [^\s,;]*:(\d+)/.exec(err);
        if (!m) throw new Error(`no healthcheck address yet: ${err}`);
        port = Number(m[1]);
      },
      { timeout: 60_000, interval: 100 },
    );
    expect(await healthcheck(port)).toMatch(/Alive/);
  }, 90_000);

  afterAll(async () => {
    server?.kill('SIGTERM');
    await env.dispose();
  });

  it('closes connections over the cap at once, idle ones at the read timeout, and recovers', async () => {
    const held = [];
    for (let i = 0; i < CAP; i++) held.push(await open(port));
    const extra = [];
    for (let i = 0; i < ATTACKERS - CAP; i++) extra.push(await open(port));
    // Every connection over the cap was closed by the server without an answer.
    const extraClosed = await Promise.all(extra.map((c) => c.closed));
    expect(extraClosed.every((c) => !c.gotData)).toBe(true);
    // The idle ones are closed by the server at its read timeout (5 s), not held for ever.
    const started = Date.now();
    const idle = await Promise.all(held.map((c) => c.closed));
    expect(idle.every((c) => !c.gotData)).toBe(true);
    expect(Date.now() - started).toBeLessThan(30_000);
    // Without the cap all 40 would wait out the read timeout, the first opened closing first.
    expect(Math.max(...extraClosed.map((c) => c.at))).toBeLessThan(Math.min(...idle.map((c) => c.at)));
    // And the healthcheck answers again.
    expect(await healthcheck(port)).toMatch(/Alive/);
  }, 120_000);
});

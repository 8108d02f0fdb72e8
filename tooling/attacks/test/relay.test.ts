/**
 * Findings 6 and 7 of issue 14, tried through real listeners against `ockam` daemons in their own
 * processes:
 * - relay hijack: a raw TCP peer registers a relay name that a victim holds. Refused, with the
 *   reason as answer (no authority) or dropped at the listener (with an authority); the victim's
 *   traffic still reaches the victim and nothing reaches the attacker;
 * - with an authority, `echo` and `uppercase` answer the network only through ABAC: nothing for a
 *   raw peer or a member the policy does not admit, an answer for one it admits.
 * Every attack runs under `underAttack`: the node answers a local echo within a second during and
 * after it.
 */
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeBareString, encodeBareString } from '@ockam/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logLines, OckamEnv, type RunningNode, rssMiB, startNode, underAttack } from '../src/nodes.js';
import { RawPeer } from '../src/peer.js';

const ATTEMPTS = 300;
/** A node that answers these attacks stays far below this. */
const RSS_BOUND_MIB = 200;
const REFUSED = 'relay registration refused: ';

async function httpServer(body: string): Promise<{ port: number; server: Server }> {
  const server = createServer((_req, res) => res.end(body));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, server };
}

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 20_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no HTTP answer in 20 s')));
    req.on('error', reject);
  });
}

/** Polls `condition` (async) until it holds; throws after `timeoutMs`. */
async function eventually(
  condition: () => Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const texts = (peer: RawPeer): string[] =>
  peer.received.map((m) => {
    try {
      return decodeBareString(m.payload, 'answer');
    } catch {
      return '<not a BARE string>';
    }
  });

async function servedRelays(node: RunningNode): Promise<string[]> {
  return await node.env.json<string[]>(['relay', 'list', '--to', node.name, '--served']);
}

describe('relay hijack, on a relay node without an authority', () => {
  const env = new OckamEnv();
  const secret = `victim-data-${Math.random().toString(16).slice(2)}`;
  let web: { port: number; server: Server };
  let relay: RunningNode;
  let inletPort: number;

  beforeAll(async () => {
    web = await httpServer(secret);
    relay = await startNode(env, 'relay');
    await startNode(env, 'victim');
    await startNode(env, 'client');
    await env.ok(['tcp-outlet', 'create', '--at', 'victim', '--to', String(web.port)]);
    // The victim registers `default` through a secure channel to the relay node.
    await env.ok(['relay', 'create', 'default', '--to', 'victim', '--at', '/node/relay/secure/api']);
    const inlet = await env.json<{ bind_addr: string }>([
      'tcp-inlet',
      'create',
      '--at',
      'client',
      '--from',
      '127.0.0.1:0',
      '--to',
      '/node/relay/service/forward_to_default/secure/api/service/outlet',
    ]);
    inletPort = Number(inlet.bind_addr.split(':').pop());
    expect(await httpGet(inletPort)).toBe(secret);
  }, 300_000);
  afterAll(async () => {
    web.server.close();
    await env.dispose();
  });

  it("refuses a raw TCP peer's registration of the victim's name, answers why, and the victim keeps its traffic", async () => {
    const attacker = await RawPeer.connect(relay.tcpListenerAddress);
    const sender = await RawPeer.connect(relay.tcpListenerAddress);
    try {
      const timing = await underAttack(relay, async () => {
        for (let i = 0; i < ATTEMPTS; i++) attacker.send(['forwarding_service'], encodeBareString('default'));
        expect(await attacker.waitFor(() => attacker.received.length >= ATTEMPTS, 60_000)).toBe(true);
        // Traffic for the victim, sent to the relay while the attack runs.
        sender.send(['forward_to_default', 'echo'], encodeBareString(secret));
      });
      console.log(
        `relay hijack, no authority: ${ATTEMPTS} registrations refused; echo ${timing.during.toFixed(0)} ms during, ${timing.after.toFixed(0)} ms after; RSS ${rssMiB(relay).toFixed(0)} MiB`,
      );
      expect(timing.during).toBeLessThan(1_000);
      expect(timing.after).toBeLessThan(1_000);
      expect(rssMiB(relay)).toBeLessThan(RSS_BOUND_MIB);
      // Every attempt got the reason, and nothing else reached the attacker.
      expect(new Set(texts(attacker))).toEqual(new Set([`${REFUSED}the name is held by another registrant`]));
      // The victim still holds the name and gets its traffic through the portal.
      expect(await servedRelays(relay)).toEqual(['forward_to_default']);
      expect(await httpGet(inletPort)).toBe(secret);
      expect(attacker.received.length).toBe(ATTEMPTS);
      expect(texts(attacker).some((t) => t.includes(secret))).toBe(false);
      // One log line for this reason, not one per attempt.
      expect(
        logLines(relay, /relay registration refused/).filter((l) => l.includes('"name-held"')),
      ).toHaveLength(1);
    } finally {
      attacker.destroy();
      sender.destroy();
    }
  });

  it('lets a raw TCP peer take a free name, and the relay dies with its connection', async () => {
    const peer = await RawPeer.connect(relay.tcpListenerAddress);
    peer.send(['forwarding_service'], encodeBareString('free-name'));
    expect(await peer.waitFor(() => peer.received.length > 0, 30_000)).toBe(true);
    expect(texts(peer)).toEqual(['forward_to_free-name']);
    expect(await servedRelays(relay)).toContain('forward_to_free-name');
    peer.destroy();
    await eventually(
      async () => !(await servedRelays(relay)).includes('forward_to_free-name'),
      'the relay to go',
    );
    expect(await servedRelays(relay)).toEqual(['forward_to_default']);
  });

  it("keeps the name for the victim's identity across kill -9 and node start: refused to a raw peer meanwhile, taken back after", async () => {
    const victim = await env.json<{ pid: number }>(['node', 'show', 'victim']);
    process.kill(victim.pid, 'SIGKILL');
    const attacker = await RawPeer.connect(relay.tcpListenerAddress);
    try {
      attacker.send(['forwarding_service'], encodeBareString('default'));
      expect(await attacker.waitFor(() => attacker.received.length > 0, 30_000)).toBe(true);
      expect(texts(attacker)).toEqual([`${REFUSED}the name is held by another registrant`]);
    } finally {
      attacker.destroy();
    }
    await env.ok(['node', 'start', 'victim'], { timeoutMs: 120_000 });
    await eventually(
      async () => (await httpGet(inletPort)) === secret,
      'the portal through the relay again',
      90_000,
    );
    expect(await servedRelays(relay)).toEqual(['forward_to_default']);
  });
});

describe('with an authority: relay registration and the echo services', () => {
  const admin = new OckamEnv();
  const lacking = new OckamEnv();
  const admitted = new OckamEnv();
  const rival = new OckamEnv();
  const secret = `project-data-${Math.random().toString(16).slice(2)}`;
  let web: { port: number; server: Server };
  let project: RunningNode;
  let inletPort: number;

  const ticket = async (args: string[]) => (await admin.ok(['project', 'ticket', ...args])).trim();

  beforeAll(async () => {
    web = await httpServer(secret);
    // Ockam's quick start: the project node `default` is the authority and the relay node, and
    // registers `default` for itself through a secure channel.
    await admin.ok(['enroll'], { timeoutMs: 120_000 });
    const shown = await admin.json<{ pid: number; tcpListenerAddress: string }>(['node', 'show', 'default']);
    project = { env: admin, name: 'default', pid: shown.pid, tcpListenerAddress: shown.tcpListenerAddress };
    await admin.ok(['tcp-outlet', 'create', '--to', String(web.port)]);
    await admin.ok(['relay', 'create']);
    const inlet = await admin.json<{ bind_addr: string }>(['tcp-inlet', 'create', '--from', '127.0.0.1:0']);
    inletPort = Number(inlet.bind_addr.split(':').pop());
    expect(await httpGet(inletPort)).toBe(secret);
    // Members: one the echo policy will not admit, one it will, one allowed to register `default`.
    for (const [m, args] of [
      [lacking, ['--attribute', 'component=other']],
      [admitted, ['--attribute', 'component=echo-ok']],
      [rival, ['--relay', 'default']],
    ] as const) {
      await m.ok(['project', 'enroll', await ticket([...args])]);
      await startNode(m, 'm');
    }
    for (const resource of ['echo', 'uppercase'])
      await admin.ok([
        'policy',
        'create',
        '--resource',
        resource,
        '--allow',
        '(= subject.component "echo-ok")',
      ]);
  }, 300_000);
  afterAll(async () => {
    web.server.close();
    for (const m of [lacking, admitted, rival]) await m.dispose();
    await admin.dispose();
  });

  it('drops a plain-TCP registration at the listener: no answer, and the victim keeps its traffic', async () => {
    const attacker = await RawPeer.connect(project.tcpListenerAddress);
    try {
      const timing = await underAttack(project, async () => {
        for (let i = 0; i < ATTEMPTS; i++) attacker.send(['forwarding_service'], encodeBareString('default'));
        for (let i = 0; i < ATTEMPTS; i++)
          attacker.send(['static_forwarding_service'], encodeBareString('default'));
        // The victim's traffic flows while the registrations arrive.
        expect(await httpGet(inletPort)).toBe(secret);
      });
      console.log(
        `relay hijack, authority: ${2 * ATTEMPTS} plain registrations dropped; echo ${timing.during.toFixed(0)} ms during, ${timing.after.toFixed(0)} ms after; RSS ${rssMiB(project).toFixed(0)} MiB; router log lines: ${logLines(project, /flow control dropped a message/).length}`,
      );
      expect(timing.during).toBeLessThan(1_000);
      expect(timing.after).toBeLessThan(1_000);
      expect(rssMiB(project)).toBeLessThan(RSS_BOUND_MIB);
      expect(await attacker.waitFor(() => attacker.received.length > 0, 2_000)).toBe(false);
      expect(await servedRelays(project)).toEqual(['forward_to_default']);
      expect(await httpGet(inletPort)).toBe(secret);
    } finally {
      attacker.destroy();
    }
  });

  it('refuses a member allowed to register `default` while another identity holds it, and says why', async () => {
    const r = await rival.run(['relay', 'create', 'default', '--to', 'm']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/refused by the relay node: the name is held by another registrant/);
    expect(await httpGet(inletPort)).toBe(secret);
    expect(
      logLines(project, /relay registration refused/).filter((l) => l.includes('"name-held"')),
    ).toHaveLength(1);
  });

  it('gives a raw TCP peer no answer from echo or uppercase', async () => {
    const peer = await RawPeer.connect(project.tcpListenerAddress);
    try {
      const timing = await underAttack(project, async () => {
        for (let i = 0; i < ATTEMPTS; i++) {
          peer.send(['echo'], encodeBareString('ping'));
          peer.send(['uppercase'], encodeBareString('ping'));
        }
        expect(await peer.waitFor(() => peer.received.length > 0, 2_000)).toBe(false);
      });
      console.log(
        `echo and uppercase, authority: ${2 * ATTEMPTS} raw messages unanswered; echo ${timing.during.toFixed(0)} ms during, ${timing.after.toFixed(0)} ms after; RSS ${rssMiB(project).toFixed(0)} MiB; router log lines: ${logLines(project, /incoming access control denied a message/).length}`,
      );
      expect(timing.during).toBeLessThan(1_000);
      expect(timing.after).toBeLessThan(1_000);
      expect(rssMiB(project)).toBeLessThan(RSS_BOUND_MIB);
      expect(peer.received).toEqual([]);
    } finally {
      peer.destroy();
    }
  });

  it('answers echo and uppercase through a secure channel only to a member the policy admits', async () => {
    const [host, port] = project.tcpListenerAddress.split(':');
    const projectRoute = `/ip4/${host}/tcp/${port}`;
    for (const service of ['echo', 'uppercase']) {
      const denied = await lacking.run([
        'message',
        'send',
        'hello',
        '--from',
        'm',
        '--to',
        `${projectRoute}/secure/api/service/${service}`,
        '--timeout',
        '3s',
      ]);
      expect(denied.code, service).not.toBe(0);
      expect(denied.stdout).toBe('');
      expect(denied.stderr).toMatch(/No reply within 3000 ms/);
      const answered = await admitted.ok([
        'message',
        'send',
        'hello',
        '--from',
        'm',
        '--to',
        `${projectRoute}/secure/api/service/${service}`,
      ]);
      expect(answered).toBe(service === 'echo' ? 'hello\n' : 'HELLO\n');
    }
    // The node's own clients (the control API) are still answered.
    expect(await admin.ok(['message', 'send', 'hello', '--to', '/service/uppercase'])).toBe('HELLO\n');
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createLogger,
  decodeTransportMessage,
  encodeBareString,
  encodeTransportMessage,
  LocalMessage,
  Route,
} from '@ockam/core';
import { ControlClient, type NodeStatus } from '@ockam/node/control';
import { OckamHome, State } from '@ockam/state';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeRuntime, startNodeRuntime } from '../src/index.js';

function frame(m: LocalMessage): Buffer {
  const body = encodeTransportMessage(m);
  const out = Buffer.alloc(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.set(body, 4);
  return out;
}

/** A raw Ockam TCP peer: sends the version byte, then frames; collects decoded replies. */
async function rawPeer(
  address: string,
): Promise<{ socket: Socket; replies: LocalMessage[]; closed: Promise<void> }> {
  const [host, port] = address.split(':');
  const socket = connect(Number(port), host);
  await new Promise<void>((r) => socket.once('connect', () => r()));
  socket.write(Buffer.from([1]));
  const replies: LocalMessage[] = [];
  let buf = Buffer.alloc(0);
  let versionSeen = false;
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    if (!versionSeen && buf.length >= 1) {
      versionSeen = true;
      buf = buf.subarray(1);
    }
    while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
      const n = buf.readUInt32BE(0);
      replies.push(decodeTransportMessage(buf.subarray(4, 4 + n)));
      buf = buf.subarray(4 + n);
    }
  });
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  return { socket, replies, closed };
}

describe('node runtime', () => {
  let dir: string;
  let rt: NodeRuntime;
  let state: State;
  const lines: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ockrt-'));
    const logger = createLogger('debug', (_l, message, fields) =>
      lines.push(`${message} ${JSON.stringify(fields)}`),
    );
    state = new State(new OckamHome(dir));
    rt = await startNodeRuntime({ home: new OckamHome(dir), state, name: 'rt', logger });
  });
  afterAll(async () => {
    await rt.stop();
    state.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves its status over the control socket', async () => {
    const s = await new ControlClient(rt.socketPath, 'rt').get<NodeStatus>('/node');
    expect(s).toMatchObject({
      name: 'rt',
      tcpListenerAddress: rt.tcpListenerAddress,
      // hop only on request (issue 14: it forwarded a raw peer anywhere).
      services: ['echo', 'uppercase'],
    });
    expect(rt.node.router.has('hop')).toBe(false);
  });

  it('serves every listing of the typed control API, and answers an unknown policy with not-found', async () => {
    const client = new ControlClient(rt.socketPath, 'rt');
    expect((await client.call('workers', {})).workers).toEqual(expect.arrayContaining(['api', 'echo']));
    expect(await client.call('listTcpConnections', {})).toEqual({ connections: [] });
    expect((await client.call('listSecureChannelListeners', {})).listeners.map((l) => l.address)).toEqual([
      'api',
    ]);
    expect(await client.call('listSecureChannels', {})).toEqual({ channels: [] });
    expect(await client.call('listOutlets', {})).toEqual({ outlets: [] });
    expect(await client.call('listInlets', {})).toEqual({ inlets: [] });
    expect(await client.call('listRelays', {})).toEqual({ relays: [], served: [] });
    expect(await client.call('trust', {})).toEqual({
      project: null,
      authority: false,
      trustedAuthority: null,
      credentials: 0,
    });
    // A node that trusts no authority presents no credential, and says so.
    await expect(client.call('presentCredential', { credential: 'aabb' })).rejects.toMatchObject({
      status: 409,
    });
    await expect(client.call('presentCredential', { credential: 'not hex' })).rejects.toMatchObject({
      status: 400,
    });
    await expect(client.call('getPolicy', { resource: 'nothing' })).rejects.toMatchObject({
      kind: 'not-found',
      status: 404,
    });
    const reply = await client.call('sendMessage', { route: ['0#echo'], payloadHex: '0102' });
    expect(reply.payloadHex).toBe('0102');
  });

  it('answers a raw Ockam TCP peer: uppercase replies to the return route', async () => {
    const peer = await rawPeer(rt.tcpListenerAddress);
    peer.socket.write(
      frame(new LocalMessage(Route.of('uppercase'), Route.of('app'), encodeBareString('raw'))),
    );
    await expect.poll(() => peer.replies.length).toBe(1);
    expect(peer.replies[0]!.onwardRoute.toString()).toBe('0#app');
    expect(peer.replies[0]!.payload).toEqual(encodeBareString('RAW'));
    peer.socket.destroy();
  });

  it('never opens a TCP connection because a remote peer asked it to', async () => {
    let trapped = 0;
    const trap = createServer((s) => {
      trapped++;
      s.destroy();
    });
    await new Promise<void>((r) => trap.listen(0, '127.0.0.1', r));
    const port = (trap.address() as { port: number }).port;
    const peer = await rawPeer(rt.tcpListenerAddress);
    // Straight to a TCP address, and through the hop service (not even started by default):
    // neither may make the node connect.
    peer.socket.write(
      frame(new LocalMessage(Route.of(`1#127.0.0.1:${port}`, 'echo'), Route.of('app'), new Uint8Array([1]))),
    );
    const peer2 = await rawPeer(rt.tcpListenerAddress);
    peer2.socket.write(
      frame(
        new LocalMessage(
          Route.of('hop', `1#127.0.0.1:${port}`, 'echo'),
          Route.of('app'),
          new Uint8Array([1]),
        ),
      ),
    );
    await peer.closed;
    await new Promise((r) => setTimeout(r, 200));
    expect(trapped).toBe(0);
    trap.close();
    peer2.socket.destroy();
  });

  it('does not let a network peer reach a local worker that is not exposed to the listener', async () => {
    let reached = 0;
    rt.node.router.startWorker('private', { handleMessage: () => void reached++ });
    const peer = await rawPeer(rt.tcpListenerAddress);
    peer.socket.write(frame(new LocalMessage(Route.of('private'), Route.of('app'), new Uint8Array([1]))));
    peer.socket.write(frame(new LocalMessage(Route.of('echo'), Route.of('app'), new Uint8Array([2]))));
    await expect.poll(() => peer.replies.length).toBe(1);
    expect(reached).toBe(0);
    expect(
      lines.some((l) => l.startsWith('flow control dropped a message') && l.includes('"to":"private"')),
    ).toBe(true);
    peer.socket.destroy();
    await rt.node.router.stopWorker('private');
  });

  it('rejects a second node on the same control socket', async () => {
    await expect(startNodeRuntime({ home: new OckamHome(dir), state, name: 'rt' })).rejects.toThrow(
      /Another node is already serving/,
    );
  });
});

describe('node runtime with hop enabled', () => {
  it('starts and exposes hop on request, and hop reaches only what the raw peer could reach itself', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ockrt-'));
    const lines: string[] = [];
    const logger = createLogger('debug', (_l, message, fields) =>
      lines.push(`${message} ${JSON.stringify(fields)}`),
    );
    const state = new State(new OckamHome(dir));
    const rt = await startNodeRuntime({
      home: new OckamHome(dir),
      state,
      name: 'hop',
      logger,
      enableHop: true,
    });
    try {
      const s = await new ControlClient(rt.socketPath, 'hop').get<NodeStatus>('/node');
      expect(s.services).toEqual(['echo', 'uppercase', 'hop']);
      let reached = 0;
      rt.node.router.startWorker('private', { handleMessage: () => void reached++ });
      const peer = await rawPeer(rt.tcpListenerAddress);
      peer.socket.write(
        frame(new LocalMessage(Route.of('hop', 'private'), Route.of('app'), new Uint8Array([1]))),
      );
      peer.socket.write(
        frame(new LocalMessage(Route.of('hop', 'echo'), Route.of('app'), new Uint8Array([2]))),
      );
      await expect.poll(() => peer.replies.length).toBe(1);
      expect(peer.replies[0]!.returnRoute.toString()).toBe('0#hop => 0#echo');
      expect(reached).toBe(0);
      expect(
        lines.some((l) => l.startsWith('flow control dropped a message') && l.includes('"from":"hop"')),
      ).toBe(true);
      peer.socket.destroy();
    } finally {
      await rt.stop();
      state.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('router limits from the environment', () => {
  it('refuses a malformed OCKAM_ROUTER_TIME_SLICE_MS with a clear reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ockrt-'));
    const state = new State(new OckamHome(dir));
    process.env.OCKAM_ROUTER_TIME_SLICE_MS = 'soon';
    try {
      await expect(startNodeRuntime({ home: new OckamHome(dir), state, name: 'env' })).rejects.toThrow(
        "Invalid OCKAM_ROUTER_TIME_SLICE_MS 'soon': a whole number of milliseconds ≥ 1",
      );
    } finally {
      delete process.env.OCKAM_ROUTER_TIME_SLICE_MS;
      state.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('services and TCP listeners started through the control socket', () => {
  it('starts a hop service once per address, refuses other kinds, and a new listener reaches the services', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ockrt-'));
    const state = new State(new OckamHome(dir));
    const rt = await startNodeRuntime({ home: new OckamHome(dir), state, name: 'svc' });
    const api = new ControlClient(rt.socketPath, 'svc');
    try {
      // Off by default: the node runs no hop until its owner asks for one.
      expect((await api.call('listServices', {})).services.map((s) => s.type)).toEqual(['echo', 'uppercase']);
      expect(await api.call('startService', { kind: 'hop', address: 'h1' })).toEqual({
        address: 'h1',
        type: 'hop',
      });
      await expect(api.call('startService', { kind: 'hop', address: 'h1' })).rejects.toThrow(
        /already running at address h1/,
      );
      await expect(api.call('startService', { kind: 'echo', address: 'e2' })).rejects.toThrow(
        /Unknown service kind 'echo'/,
      );
      await expect(api.call('startService', { kind: 'hop', address: '../x' })).rejects.toThrow(
        /Invalid service address/,
      );

      const extra = await api.call('createTcpListener', { address: '127.0.0.1:0' });
      expect((await api.call('listTcpListeners', {})).listeners.map((l) => l.address)).toEqual([
        rt.tcpListenerAddress,
        extra.address,
      ]);
      const peer = await rawPeer(extra.address);
      peer.socket.write(
        frame(new LocalMessage(Route.of('h1', 'echo'), Route.of('app'), new Uint8Array([7]))),
      );
      await expect.poll(() => peer.replies.length).toBe(1);
      expect(peer.replies[0]!.returnRoute.toString()).toBe('0#h1 => 0#echo');
      peer.socket.destroy();
      await expect(api.call('deleteTcpListener', { address: rt.tcpListenerAddress })).rejects.toThrow(
        /the node's own TCP listener/,
      );
      expect((await api.call('deleteTcpListener', { address: extra.address })).address).toBe(extra.address);
      expect((await api.call('listTcpListeners', {})).listeners).toHaveLength(1);
    } finally {
      await rt.stop();
      state.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

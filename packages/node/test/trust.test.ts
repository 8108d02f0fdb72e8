import { type Logger, utf8 } from '@ockam/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNode, type OckamNode } from '../src/index.js';
import { echoServer, exchange } from './tcp-echo.js';

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('credentials and policies through createNode (in memory, over TCP)', () => {
  let authority: OckamNode;
  let rogue: OckamNode;
  let server: OckamNode;
  const nodes: OckamNode[] = [];
  /** A client that trusts `issuer` and presents a credential from it with `attributes`. */
  const member = async (issuer: OckamNode, attributes: Record<string, string>) => {
    const n = await createNode({ tcp: { listen: false }, trust: { authority: issuer.exportIdentity() } });
    nodes.push(n);
    n.presentCredential(await issuer.issueCredential(n.identifier, attributes));
    return n;
  };
  const echo = (client: OckamNode) =>
    client.request(`${server.multiaddr}/secure/api/service/echo`, utf8('hello'), { timeoutMs: 3_000 });

  /** What the server warns about, to see why it refused. */
  const warnings: string[] = [];
  const logger: Logger = {
    trace: () => {},
    debug: () => {},
    info: () => {},
    warn: (message, fields) => void warnings.push(`${message} ${JSON.stringify(fields ?? {})}`),
    error: (message, fields) => void warnings.push(`${message} ${JSON.stringify(fields ?? {})}`),
    child: () => logger,
  };

  beforeAll(async () => {
    [authority, rogue] = await Promise.all([
      createNode({ tcp: { listen: false } }),
      createNode({ tcp: { listen: false } }),
    ]);
    server = await createNode({ trust: { authority: authority.exportIdentity() }, logger });
    nodes.push(authority, rogue, server);
    await server.setPolicy({ resourceName: 'echo' }, '(= subject.cluster "green")');
  });
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  });

  it('admits a member whose credential has the attribute the policy asks for', async () => {
    const green = await member(authority, { cluster: 'green' });
    expect(text((await echo(green)).payload)).toBe('hello');
  });

  it('refuses a member with another attribute value, loudly (the request times out naming the route)', async () => {
    const blue = await member(authority, { cluster: 'blue' });
    await expect(echo(blue)).rejects.toThrow(/echo.*its policy allows this identity/s);
  });

  it('refuses a credential from an authority the server does not trust, even with the attribute', async () => {
    const impostor = await member(rogue, { cluster: 'green' });
    await expect(echo(impostor)).rejects.toThrow(/echo.*its policy allows this identity/s);
    expect(warnings.join('\n')).toMatch(new RegExp(`${impostor.identifier}.*untrusted-issuer`));
  });

  it("a TCP outlet with a policy: the green inlet gets through, the blue inlet's connection is closed", async () => {
    // The inlet's side checks the outlet's node too (deny by default): the server is a member as well.
    server.presentCredential(await authority.issueCredential(server.identifier, { role: 'server' }));
    const { server: backend, port } = await echoServer();
    try {
      await server.createOutlet({
        address: 'db',
        to: `127.0.0.1:${port}`,
        allow: '(= subject.cluster "green")',
      });
      const through = async (client: OckamNode) => {
        const inlet = await client.createInlet({
          name: 'db',
          from: '127.0.0.1:0',
          to: `${server.multiaddr}/secure/api/service/db`,
        });
        return exchange(Number(inlet.bound.split(':').at(-1)), 'hi');
      };
      expect(await through(await member(authority, { cluster: 'green' }))).toBe('echo:hi');
      expect(await through(await member(authority, { cluster: 'blue' }))).toBe('');
    } finally {
      backend.close();
    }
  });

  it('deny by default: with an authority, a peer without any credential is refused by uppercase too', async () => {
    const anonymous = await createNode({ tcp: { listen: false } });
    nodes.push(anonymous);
    await expect(
      anonymous.request(`${server.multiaddr}/secure/api/service/uppercase`, utf8('x'), { timeoutMs: 3_000 }),
    ).rejects.toThrow();
  });

  it('createNode fails loudly when trust.credential is not for its identity', async () => {
    const credential = await authority.issueCredential(server.identifier, { cluster: 'green' });
    await expect(
      createNode({ tcp: { listen: false }, trust: { authority: authority.exportIdentity(), credential } }),
    ).rejects.toThrow(/subject-mismatch/);
  });

  it('a credential for another identity, or from another authority, is refused when presented', async () => {
    const n = await createNode({ tcp: { listen: false }, trust: { authority: authority.exportIdentity() } });
    nodes.push(n);
    await expect(
      (async () =>
        n.presentCredential(await authority.issueCredential(server.identifier, { cluster: 'green' })))(),
    ).rejects.toThrow(/subject-mismatch|subject/);
    await expect(
      (async () => n.presentCredential(await rogue.issueCredential(n.identifier, { cluster: 'green' })))(),
    ).rejects.toThrow(/untrusted|issuer/);
    expect(() => authority.presentCredential(new Uint8Array(0))).toThrow(/without an authority/);
  });
});

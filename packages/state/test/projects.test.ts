import { describe, expect, it } from 'vitest';

import { tempHomes } from './temp-home.js';

const home = tempHomes('ockam-projects-test-');

describe('projects and their authorities', () => {
  it('a project is its own authority unless it names another identity and route', async () => {
    const { identities, projects } = home();
    const project = await identities.createIdentity('project');
    const authority = await identities.createIdentity('authority');
    projects.save({
      name: 'own',
      id: 'p1',
      identifier: project.identifier,
      changeHistory: project.changeHistory,
      route: '/ip4/127.0.0.1/tcp/4000',
      nodeName: null,
    });
    const own = projects.require('own');
    expect(own.authorityChangeHistory).toBeNull();
    expect(projects.authority(own).identity.identifier).toBe(project.identifier);
    expect(projects.authority(own).route).toBe('/ip4/127.0.0.1/tcp/4000');

    projects.save({
      name: 'elsewhere',
      id: '1',
      identifier: project.identifier,
      changeHistory: project.changeHistory,
      route: '/dnsaddr/127.0.0.1/tcp/4000',
      nodeName: null,
      authorityChangeHistory: authority.changeHistory,
      authorityRoute: '/dnsaddr/127.0.0.1/tcp/4001',
    });
    const elsewhere = projects.require('elsewhere');
    expect(projects.authority(elsewhere).identity.identifier).toBe(authority.identifier);
    expect(projects.authority(elsewhere).route).toBe('/dnsaddr/127.0.0.1/tcp/4001');
  });

  it('refuses an authority change history that does not verify', async () => {
    const { identities, projects } = home();
    const project = await identities.createIdentity('project');
    const bad = new Uint8Array(project.changeHistory);
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 1;
    expect(() =>
      projects.save({
        name: 'p',
        id: 'p',
        identifier: project.identifier,
        changeHistory: project.changeHistory,
        route: '/ip4/127.0.0.1/tcp/4000',
        nodeName: null,
        authorityChangeHistory: bad,
      }),
    ).toThrow();
    expect(projects.get('p')).toBeUndefined();
  });

  it('an imported identity is stored without keys and never becomes the default', async () => {
    const source = home();
    const alice = await source.identities.createIdentity('alice');
    const { identities } = home();
    const imported = await identities.importIdentity(
      'alice',
      Buffer.from(alice.changeHistory).toString('hex'),
    );
    expect(imported.identifier).toBe(alice.identifier);
    expect(imported.isDefault).toBe(false);
    expect(identities.identitiesWithIdentifier(alice.identifier).map((r) => r.name)).toEqual(['alice']);
    // The first identity that needs keys is made, and is the default.
    const mine = await identities.ensureIdentity();
    expect(mine.name).toBe('default');
    expect(mine.isDefault).toBe(true);
    await expect(identities.importIdentity('mallory', 'ff00')).rejects.toThrow(/Invalid identity/);
  });
});

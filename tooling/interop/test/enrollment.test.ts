/**
 * Matrix item 4 (issue 15): authorities and enrollment between our `ockam` and Ockam Rust 0.139's.
 *
 * - A Rust `ockam authority create` (run as Ockam's `local/authority.bats` runs it: pre-trusted
 *   enroller, `project import --project-file`, `project ticket --identity enroller`) enrolls our
 *   identity with the ticket Rust's `project ticket` prints.
 * - Our project authority (`ockam enroll`, and our `authority create` run the same way as Rust's)
 *   enrolls a Rust identity with the ticket our `project ticket` prints.
 * - Then each side's outlet policy admits the other side's enrolled node, which presents its
 *   credential in the secure channel, and refuses a node that never enrolled.
 *
 * The sides share nothing but tickets, project files and routes.
 */
import { writeFileSync } from 'node:fs';
import { get as httpGetRaw } from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BodyServer, getSha256, serveBody } from '../src/http.js';
import { Ockam, rustMissing, type StartedNode } from '../src/ockam.js';
import { freePort } from '../src/ports.js';
import { until } from '../src/wait.js';

/** The project identity of Ockam's bats project files: a project node that does not run here. */
const BATS_PROJECT = {
  identity: 'I923829d0397a06fa862be5a87b7966959b8ef99ab6455b843ca9131a747b4819',
  project_change_history:
    '81825837830101583285f68200815820f405e06d988fa8039cce1cd0ae607e46847c1b64bc459ca9d89dd9b21ae30681f41a654cebe91a7818eee98200815840494c9b70e8a9ad5593fceb478f722a513b4bd39fa70f4265d584253bc24617d0eb498ce532273f6d0d5326921e013696fce57c20cc6c4008f74b816810f0b009',
};

/** Resolves once something accepts TCP connections on the port. */
function waitForListener(port: number, timeoutMs = 60_000): Promise<void> {
  return until(
    () =>
      new Promise<boolean>((resolve) => {
        const s = connect(port, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      }),
    timeoutMs,
    `a listener on 127.0.0.1:${port}`,
  );
}

/** One HTTP GET through a portal: the body, or undefined if the portal gave nothing in time. */
function httpGet(port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = httpGetRaw(
      { host: '127.0.0.1', port, path: '/', timeout: timeoutMs, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve(body));
        res.on('error', () => resolve(undefined));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/** The body's sha256 through an inlet, retried until the portal answers. */
function throughInlet(port: number): Promise<string> {
  return getSha256(`http://127.0.0.1:${port}/`, 120_000);
}

/**
 * A portal that must stay shut: several requests, each with its own bound, none answered. Called
 * after the same portal shape has been shown to work for an enrolled peer, so the refusal is the
 * policy's doing.
 */
async function refused(port: number): Promise<boolean> {
  for (let i = 0; i < 3; i++) if ((await httpGet(port, 5_000)) !== undefined) return false;
  return true;
}

/** A project JSON file as Ockam's bats scripts write it, naming an authority that runs locally. */
function writeProjectFile(dir: string, authorityPort: number, authorityIdentity: string): string {
  const file = path.join(dir, 'project.json');
  writeFileSync(
    file,
    JSON.stringify({
      id: '1',
      name: 'default',
      space_name: 'together-porgy',
      access_route: '/dnsaddr/127.0.0.1/tcp/4000/service/api',
      users: [],
      space_id: '1',
      ...BATS_PROJECT,
      authority_access_route: `/dnsaddr/127.0.0.1/tcp/${authorityPort}/service/api`,
      authority_identity: authorityIdentity,
      version: '605c4632ded93eb17edeeef31fa3860db225b3ab-2023-12-05',
      running: false,
      operation_id: null,
      user_roles: [],
    }),
  );
  return file;
}

/** The JSON inside a legacy ticket (hex of `{"one_time_code", "project"}`). */
function legacyTicket(hex: string): { one_time_code: string; project: Record<string, unknown> } {
  expect(hex).toMatch(/^[0-9a-f]+$/);
  return JSON.parse(Buffer.from(hex, 'hex').toString('utf8'));
}

interface EnrollOutput {
  attributes: Record<string, string>;
}

/** Rust's `project enroll --output json`: `{identity, project_name, credential: {attributes, …}}`. */
interface RustEnrollOutput {
  project_name: string;
  credential: { subject: string; issuer: string; attributes: Record<string, string> };
}

/** Our inlet (on `node`) to an outlet route; resolves with its local port. */
async function ourInlet(o: Ockam, node: string, to: string): Promise<number> {
  const r = await o.json<{ bind_addr: string }>([
    'tcp-inlet',
    'create',
    '--at',
    node,
    '--from',
    '127.0.0.1:0',
    '--to',
    to,
  ]);
  return Number(r.bind_addr.slice(r.bind_addr.lastIndexOf(':') + 1));
}

/** A Rust inlet (on `node`) to an outlet route, on a free port. */
async function rustInlet(o: Ockam, node: string, to: string): Promise<number> {
  const port = await freePort('tcp');
  await o.ok(['tcp-inlet', 'create', '--at', node, '--from', `127.0.0.1:${port}`, '--to', to], {
    timeoutMs: 120_000,
  });
  return port;
}

describe.skipIf(rustMissing())('authorities and enrollment with Ockam Rust 0.139', () => {
  let web: BodyServer;
  const homes: Ockam[] = [];
  const home = (o: Ockam) => {
    homes.push(o);
    return o;
  };

  beforeAll(async () => {
    web = await serveBody(64 * 1024);
  });
  afterAll(async () => {
    await Promise.all(homes.map((h) => h.dispose().catch(() => {})));
    await web?.close();
  });

  describe("Ockam Rust's authority", () => {
    let rust: Ockam;
    let ours: Ockam;
    let rustNode: StartedNode;
    let ourNode: StartedNode;

    beforeAll(async () => {
      rust = home(Ockam.rust());
      ours = home(Ockam.ours());
      await rust.ok(['identity', 'create', 'enroller']);
      const enroller = await rust.identifier('enroller');
      const port = await freePort('tcp');
      await rust.ok(
        [
          'authority',
          'create',
          '--tcp-listener-address',
          `127.0.0.1:${port}`,
          '--project-identifier',
          '1',
          '--trusted-identities',
          JSON.stringify({ [enroller]: { 'ockam-role': 'enroller' } }),
        ],
        { timeoutMs: 180_000 },
      );
      await waitForListener(port);
      const authority = (
        await rust.ok(['identity', 'show', '--full', '--encoding', 'hex', 'authority'])
      ).trim();
      await rust.ok(['project', 'import', '--project-file', writeProjectFile(rust.home, port, authority)]);
    });

    it("enrolls our identity with the ticket Rust's `project ticket` prints (Ockam's legacy JSON)", async () => {
      const ticket = (
        await rust.ok(['project', 'ticket', '--identity', 'enroller', '--attribute', 'component=ours'])
      ).trim();
      const json = legacyTicket(ticket);
      expect(json.one_time_code).toMatch(/^[0-9a-f]{64}$/);
      expect(json.project).toMatchObject({ name: 'default', identity: BATS_PROJECT.identity });
      const enrolled = await ours.json<EnrollOutput>(['project', 'enroll', ticket]);
      expect(enrolled.attributes).toMatchObject({ component: 'ours', trust_context_id: '1' });
      const shown = await ours.json<{ identifier: string; authorityChangeHistory: string }>([
        'project',
        'show',
      ]);
      expect(shown.identifier).toBe(BATS_PROJECT.identity);
      // The ticket is single use, at Rust's authority as at ours.
      const again = home(Ockam.ours());
      expect((await again.run(['project', 'enroll', ticket])).code).not.toBe(0);
    });

    it("Rust's outlet admits our enrolled node by its attribute and refuses a node that never enrolled", async () => {
      // Rust's node: the pre-trusted enroller, a member, so it gets a credential from its authority.
      await rust.ok(['project', 'enroll', '--identity', 'enroller']);
      rustNode = await rust.createNode('r1', ['--identity', 'enroller']);
      // Rust's `authority create` made the authority the home's default node, and commands such as
      // `tcp-outlet create` first wait for the default node to answer, which an authority node never
      // does (they hang): make r1 the default.
      await rust.ok(['node', 'default', 'r1']);
      // The attribute comes from the credential our node presents in the channel (Rust's ticket
      // gave it component=ours).
      await rust.ok([
        'tcp-outlet',
        'create',
        '--at',
        'r1',
        '--to',
        `127.0.0.1:${web.port}`,
        '--allow',
        '(= subject.component "ours")',
      ]);
      ourNode = await ours.createNode('n1');
      const to = `${rustNode.route}/secure/api/service/outlet`;
      expect(await throughInlet(await ourInlet(ours, 'n1', to))).toBe(web.sha256);

      const stranger = home(Ockam.ours());
      await stranger.createNode('x1');
      expect(await refused(await ourInlet(stranger, 'x1', to))).toBe(true);
    });

    it("our outlet admits Rust's enrolled node by its attribute and refuses a Rust node that never enrolled", async () => {
      // Rust's authority puts trust_context_id = the project id in its credentials.
      await ours.ok([
        'tcp-outlet',
        'create',
        '--at',
        'n1',
        '--to',
        String(web.port),
        '--allow',
        '(= subject.trust_context_id "1")',
      ]);
      const to = `${ourNode.route}/secure/api/service/outlet`;
      expect(await throughInlet(await rustInlet(rust, 'r1', to))).toBe(web.sha256);

      const stranger = home(Ockam.rust());
      await stranger.createNode('x2');
      expect(await refused(await rustInlet(stranger, 'x2', to))).toBe(true);
    });
  });

  describe('our project authority', () => {
    let ours: Ockam;
    let rust: Ockam;
    let ourNode: StartedNode;
    let rustNode: StartedNode;

    beforeAll(async () => {
      ours = home(Ockam.ours());
      rust = home(Ockam.rust());
      await ours.ok(['enroll']);
    });

    it("enrolls a Rust identity with the ticket our `project ticket` prints, in Ockam's format", async () => {
      const ticket = (await ours.ok(['project', 'ticket', '--attribute', 'component=rust'])).trim();
      const json = legacyTicket(ticket);
      expect(Object.keys(json)).toEqual(['one_time_code', 'project']);
      expect(String(json.project.access_route)).toMatch(/^\/dnsaddr\/127\.0\.0\.1\/tcp\/\d+\/service\/api$/);
      const enrolled = await rust.json<RustEnrollOutput>(['project', 'enroll', ticket]);
      const project = await ours.json<{ identifier: string }>(['project', 'show']);
      expect(enrolled.credential.issuer).toBe(project.identifier);
      expect(enrolled.credential.attributes).toMatchObject({ component: 'rust' });
      expect(enrolled.credential.subject).toBe(await rust.identifier());
    });

    it("a Rust enroller of our project makes tickets with Rust's `project ticket` that our command enrolls with", async () => {
      // Rust's `project ticket` re-reads the project route it stored from our ticket and refuses
      // any route but /dnsaddr (ProjectRoute::new): this is why our tickets write /dnsaddr routes.
      const enrollerTicket = (await ours.ok(['project', 'ticket', '--enroller'])).trim();
      const rustEnroller = home(Ockam.rust());
      const enrolled = await rustEnroller.json<RustEnrollOutput>(['project', 'enroll', enrollerTicket]);
      expect(enrolled.credential.attributes).toMatchObject({ 'ockam-role': 'enroller' });
      const ticket = (await rustEnroller.ok(['project', 'ticket', '--attribute', 'made-by=rust'])).trim();
      const json = legacyTicket(ticket);
      expect(json.project.authority_identity).toBe(
        (await ours.json<{ changeHistory: string }>(['project', 'show'])).changeHistory,
      );
      const member = home(Ockam.ours());
      const joined = await member.json<EnrollOutput>(['project', 'enroll', ticket]);
      expect(joined.attributes).toMatchObject({ 'made-by': 'rust' });
    });

    it('our outlet admits the Rust node enrolled with our authority, and refuses one that never enrolled', async () => {
      ourNode = await ours.createNode('n2');
      await ours.ok(['tcp-outlet', 'create', '--at', 'n2', '--to', String(web.port)]);
      rustNode = await rust.createNode('r2');
      const to = `${ourNode.route}/secure/api/service/outlet`;
      expect(await throughInlet(await rustInlet(rust, 'r2', to))).toBe(web.sha256);

      const stranger = home(Ockam.rust());
      await stranger.createNode('x3');
      expect(await refused(await rustInlet(stranger, 'x3', to))).toBe(true);
    });

    it("our outlet's policy reads the Rust node's credential: an attribute it lacks keeps it out", async () => {
      await ours.ok([
        'tcp-outlet',
        'create',
        '--at',
        'n2',
        '--to',
        String(web.port),
        '--from',
        'web-only',
        '--allow',
        '(= subject.component "web")',
      ]);
      // The same node, channel and credential (component=rust) that the default policy admitted.
      expect(await refused(await rustInlet(rust, 'r2', `${ourNode.route}/secure/api/service/web-only`))).toBe(
        true,
      );
    });

    it("the Rust node's outlet admits our enrolled node, and refuses one of ours that never enrolled", async () => {
      await rust.ok(['tcp-outlet', 'create', '--at', 'r2', '--to', `127.0.0.1:${web.port}`]);
      const to = `${rustNode.route}/secure/api/service/outlet`;
      expect(await throughInlet(await ourInlet(ours, 'n2', to))).toBe(web.sha256);

      const stranger = home(Ockam.ours());
      await stranger.createNode('x4');
      expect(await refused(await ourInlet(stranger, 'x4', to))).toBe(true);
    });
  });

  it("our `authority create`, run as Ockam's scripts run Rust's, enrolls a Rust identity with our ticket", async () => {
    const ours = home(Ockam.ours());
    const rust = home(Ockam.rust());
    await ours.ok(['identity', 'create', 'enroller']);
    const enroller = await ours.identifier('enroller');
    const port = await freePort('tcp');
    await ours.ok([
      'authority',
      'create',
      '--tcp-listener-address',
      `127.0.0.1:${port}`,
      '--project-identifier',
      '1',
      '--trusted-identities',
      JSON.stringify({ [enroller]: { 'ockam-role': 'enroller' } }),
    ]);
    const authority = (
      await ours.ok(['identity', 'show', '--full', '--encoding', 'hex', 'authority'])
    ).trim();
    await ours.ok(['project', 'import', '--project-file', writeProjectFile(ours.home, port, authority)]);
    const ticket = (
      await ours.ok(['project', 'ticket', '--identity', 'enroller', '--attribute', 'sample_attr=rust_member'])
    ).trim();
    const enrolled = await rust.json<RustEnrollOutput>(['project', 'enroll', ticket]);
    expect(enrolled.credential.issuer).toBe(await ours.identifier('authority'));
    expect(enrolled.credential.attributes).toMatchObject({
      sample_attr: 'rust_member',
      trust_context_id: '1',
    });
  });
});

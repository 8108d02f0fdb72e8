import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { fromHex, OckamError, parseHostPort, toHex } from '@ockam/core';
import {
  ApiError,
  createEnrollmentToken,
  decodeEnrollmentTicket,
  decodeProjectModel,
  encodeLegacyEnrollmentTicket,
  MAX_TICKET_LENGTH,
  parseTrustedIdentities,
  presentEnrollmentToken,
  requestCredential,
  verifyCredential,
} from '@ockam/credentials';
import { isNodeRunning, spawnNode, stopNodeProcess } from '@ockam/daemon';
import { importIdentity } from '@ockam/identity';
import { type ClientNode, withClientNode } from '@ockam/node';
import { type ProjectAuthority, type ProjectRecord, Projects } from '@ockam/state';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { parseDuration, table } from '../output.js';
import { joinWithOidc, registerProjectAddonCommands } from './project-addon.js';
import { registerProjectMemberCommands } from './project-member.js';
import { registerSpaceCommands } from './space.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

async function freePort(host: string): Promise<number> {
  const s = createServer();
  await new Promise<void>((r, j) => {
    s.once('error', j);
    s.listen(0, host, () => r());
  });
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function routeOf(hostPort: string): string {
  const { host, port } = parseHostPort(hostPort);
  if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) return `/ip4/${host}/tcp/${port}`;
  if (host.includes(':')) return `/ip6/${host}/tcp/${port}`;
  return `/dnsaddr/${host}/tcp/${port}`;
}

/** Attributes given as `k=v` (or `k`, meaning `k=true`, as Ockam's tickets do). */
export function parseAttributes(values: string[] = []): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of values) {
    const i = v.indexOf('=');
    const [k, val] = i < 0 ? [v, 'true'] : [v.slice(0, i), v.slice(i + 1)];
    if (!/^[A-Za-z0-9_.-]+$/.test(k))
      throw new OckamError(
        'application',
        'invalid',
        `Invalid attribute '${v}': names use letters, digits, '_', '.' and '-'`,
      );
    out.set(k, val);
  }
  return out;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/**
 * Creates (or restarts) a project node: a node named after the project, with its own identity,
 * running the authority (admin: `admin`'s identity), a relay service and the `api` listener.
 */
async function hostProject(
  ctx: CliContext,
  name: string,
  listen: string | undefined,
  admin: string | undefined,
  options: {
    projectId?: string;
    trustedIdentities?: string;
    identityName?: string;
    /** The other flags of `authority create` (account authority, services), kept with the node. */
    authorityFlags?: Record<string, string | boolean>;
  } = {},
): Promise<ProjectRecord> {
  const projects = new Projects(ctx.state);
  const ids = ctx.identities;
  const identityName = options.identityName ?? `project-${name}`;
  const identity = ids.getIdentity(identityName) ?? (await ids.createIdentity(identityName));
  const trusted = new Map<string, Map<string, string>>(
    options.trustedIdentities ? parseTrustedIdentities(options.trustedIdentities) : [],
  );
  if (admin !== undefined)
    trusted.set(admin, new Map([...(trusted.get(admin) ?? []), ['ockam-role', 'enroller']]));
  const trustedJson = JSON.stringify(
    Object.fromEntries([...trusted].map(([k, v]) => [k, Object.fromEntries(v)])),
  );
  let record = ctx.state.getNode(name);
  if (record?.pid && (await isNodeRunning(ctx.home, record))) await stopNodeProcess(record.pid);
  const host = listen ? parseHostPort(listen).host : '127.0.0.1';
  const address =
    listen && parseHostPort(listen).port !== 0
      ? listen
      : (record?.tcpListenerAddress ?? `${host}:${await freePort(host)}`);
  const existing = projects.get(name);
  projects.save({
    name,
    id: existing?.id ?? options.projectId ?? randomUUID(),
    identifier: identity.identifier,
    changeHistory: identity.changeHistory,
    route: routeOf(address),
    nodeName: name,
  });
  // Add-ons configured since (`project addon configure`) stay when the project is started again.
  const oidc = (record?.options.authority as { oidc?: unknown } | undefined)?.oidc;
  const nodeOptions = {
    identity: identityName,
    project: name,
    authority: { trustedIdentities: trustedJson, ...options.authorityFlags, ...(oidc ? { oidc } : {}) },
  };
  if (!record) record = ctx.state.createNode(name, nodeOptions);
  else ctx.state.setNodeOptions(name, { ...record.options, ...nodeOptions });
  await spawnNode(ctx.home, name, { tcpListenerAddress: address, identity: identityName });
  return projects.require(name);
}

/** A secure channel to the project's authority (its `api` listener), authorized to its identifier. */
export function connectAuthority(c: ClientNode, authority: ProjectAuthority) {
  return c.connect(`${authority.route}/secure/api`, { authorized: [authority.identity.identifier] });
}

/**
 * How a ticket or project file names a route we store without its listener: Ockam's routes end
 * with the `api` listener (`…/service/api`), ours stop before it (`/project/NAME` adds `/secure/api`).
 */
function routeWithoutApi(route: string): string {
  return route.replace(/\/service\/api$/, '');
}

/**
 * A stored route as a ticket writes it: with `/service/api`, and `/ip4/H` as `/dnsaddr/H` (Ockam
 * reads a project's id from a /dnsaddr route's first label and refuses other routes there; it
 * resolves an address literal in /dnsaddr as such).
 */
function ticketRoute(route: string): string {
  return `${route.replace(/^\/ip4\//, '/dnsaddr/')}/service/api`;
}

/** Gets (and stores) a credential for `identityName` from the project's authority. */
async function fetchCredential(
  ctx: CliContext,
  project: ProjectRecord,
  identityName: string | undefined,
  /** A ticket's one-time code, or `oidc`: become a member first (by ticket, or by a login). */
  join?: Uint8Array | 'oidc',
): Promise<{
  name: string;
  identifier: string;
  createdAt: number;
  expiresAt: number;
  attributes: Record<string, string>;
}> {
  const identity = await ctx.identities.ensureIdentity(identityName);
  const authority = new Projects(ctx.state).authority(project);
  return withClientNode(ctx.state, identity.name, async (c) => {
    const { client, via } = await connectAuthority(c, authority);
    if (join === 'oidc') await joinWithOidc(ctx, project, client, via);
    else if (join) {
      try {
        await presentEnrollmentToken(client, via, join, { timeoutMs: 15_000 });
      } catch (e) {
        // A member presenting another ticket: Ockam's authority answers 403 "Already a member",
        // and Ockam's command goes on to fetch the credential (`enroll/enrollment.rs`); so do we.
        if (!(ApiError.isStatus(e, 403) && /already a member/i.test(e.body?.message ?? ''))) throw e;
      }
    }
    const bytes = await requestCredential(client, via, { timeoutMs: 15_000 });
    const verified = verifyCredential(bytes, {
      trustedAuthorities: [authority.identity],
      expectedSubject: identity.identifier,
    });
    new Projects(ctx.state).saveCredential(identity.name, project.name, bytes, verified.expiresAt);
    return {
      name: identity.name,
      identifier: identity.identifier,
      createdAt: verified.createdAt,
      expiresAt: verified.expiresAt,
      attributes: Object.fromEntries(verified.attributes),
    };
  });
}

export function registerProjectCommands(program: Command, run: Run): void {
  // Registered here rather than in main.ts: they belong to projects.
  registerSpaceCommands(program, run);
  registerProjectMemberCommands(program, run);
  program
    .command('enroll')
    .description(
      'Create and start your own project "default" on this machine (authority, relays, secure channels), with your default identity as its admin',
    )
    .option(
      '--tcp-listener-address <host:port>',
      'where the project node listens (default: a free port on 127.0.0.1)',
    )
    .option(
      '--oidc',
      'instead: join the project (--project, default "default", hosted elsewhere or here) by logging in at its OpenID Connect provider, as project enroll --oidc',
    )
    .option('--project <name>', 'with --oidc: the project', 'default')
    .option('--identity <name>', 'with --oidc: the identity that enrols (default identity if omitted)')
    .addHelpText(
      'after',
      "\nThen, as in Ockam's quick start:\n  $ ockam tcp-outlet create --to 6000\n  $ ockam relay create\n  $ ockam tcp-inlet create --from 7000\n\nWith --oidc, the project must be known here (ockam project import) and have the oidc add-on.\n\nExamples:\n  $ ockam enroll\n  $ ockam enroll --oidc",
    )
    .action((opts: { tcpListenerAddress?: string; oidc?: boolean; project: string; identity?: string }) =>
      run(async (ctx) => {
        if (opts.oidc) {
          if (opts.tcpListenerAddress !== undefined)
            throw new OckamError(
              'application',
              'invalid',
              '--oidc joins a project: it takes no --tcp-listener-address',
            );
          const { project: p, cred } = await enrollMember(ctx, opts.project, opts.identity, 'oidc');
          printEnrolled(ctx, p, cred);
          return;
        }
        const admin = await ctx.identities.ensureIdentity();
        const project = await hostProject(ctx, 'default', opts.tcpListenerAddress, admin.identifier);
        const cred = await fetchCredential(ctx, project, admin.name);
        ctx.out.result(
          [
            `Project default is running on node default at ${project.route} (identifier ${project.identifier}).`,
            `Your identity ${admin.name} (${admin.identifier}) is its admin; credential valid until ${new Date(cred.expiresAt * 1000).toISOString()}.`,
          ].join('\n'),
          { project, admin: admin.identifier, credential: cred },
        );
      }),
    );

  const project = program
    .command('project')
    .description('Projects: an authority and relays that your nodes and other machines enroll with');
  registerProjectAddonCommands(project, run);
  project
    .command('create')
    .description('Create and start a project node that other machines can reach')
    .argument('<name>', 'project name (also the name of its node)')
    .requiredOption('--tcp-listener-address <host:port>', 'where the project node listens')
    .addHelpText('after', '\nExamples:\n  $ ockam project create acme --tcp-listener-address 127.0.0.1:4000')
    .action((name: string, opts: { tcpListenerAddress: string }) =>
      run(async (ctx) => {
        const admin = await ctx.identities.ensureIdentity();
        const p = await hostProject(ctx, name, opts.tcpListenerAddress, admin.identifier);
        await fetchCredential(ctx, p, admin.name);
        ctx.out.result(
          `Project ${name} is running on node ${name} at ${p.route} (identifier ${p.identifier})`,
          describeProject(p),
        );
      }),
    );

  project
    .command('ticket')
    .description('Print an enrollment ticket: a one-time code that lets another identity join the project')
    .option('--project <name>', 'project', 'default')
    .option(
      '--attribute <k=v>',
      'attribute the enrolled member gets (repeatable; "k" alone means k=true)',
      collect,
    )
    .option('--relay <name>', 'let the member create relay NAME (attribute ockam-relay=NAME)')
    .option('--usage-count <n>', 'how many enrollments the ticket allows', '1')
    .option('--expires-in <duration>', 'how long the ticket is valid', '10m')
    .option('--enroller', 'the member may enroll others (attribute ockam-role=enroller)')
    .option(
      '--identity <name>',
      'identity that asks the authority for the ticket, an enroller (default identity if omitted)',
    )
    .addHelpText(
      'after',
      '\nThe ticket is the hex of Ockam\'s JSON ticket (what Ockam 0.139 prints), so Ockam\'s `ockam project enroll` reads it too.\n\nExamples:\n  $ ockam project ticket --attribute component=db --relay db > db.ticket\n  $ OCKAM_HOME=/elsewhere ockam project enroll "$(cat db.ticket)"',
    )
    .action(
      (opts: {
        project: string;
        attribute?: string[];
        relay?: string;
        usageCount: string;
        expiresIn: string;
        enroller?: boolean;
        identity?: string;
      }) =>
        run(async (ctx) => {
          const projects = new Projects(ctx.state);
          const p = projects.require(opts.project);
          const authority = projects.authority(p);
          const attributes = parseAttributes(opts.attribute);
          if (opts.relay) attributes.set('ockam-relay', opts.relay);
          if (opts.enroller) attributes.set('ockam-role', 'enroller');
          const uses = Number(opts.usageCount);
          if (!Number.isInteger(uses) || uses < 1)
            throw new OckamError('application', 'invalid', `Invalid --usage-count '${opts.usageCount}'`);
          const ttlSeconds = Math.round(parseDuration(opts.expiresIn) / 1000);
          const otc = await withClientNode(ctx.state, opts.identity, async (c) => {
            const { client, via } = await connectAuthority(c, authority);
            return createEnrollmentToken(
              client,
              via,
              { attributes, ttlSeconds, ttlCount: uses },
              { timeoutMs: 15_000 },
            );
          });
          // Ockam 0.139's `project ticket` prints the legacy form and its parser tries it first
          // (PROTOCOL.md §5.2): so do we, with the routes as Ockam writes them.
          const ticket = encodeLegacyEnrollmentTicket({
            projectRoute: ticketRoute(p.route),
            projectId: p.id,
            projectIdentifier: p.identifier,
            projectName: p.name,
            oneTimeCode: otc,
            projectChangeHistory: toHex(p.changeHistory),
            authorityChangeHistory: authority.identity.export(),
            authorityRoute: ticketRoute(authority.route),
          });
          ctx.out.result(ticket, {
            ticket,
            project: p.name,
            attributes: Object.fromEntries(attributes),
            usageCount: uses,
            expiresInSeconds: ttlSeconds,
          });
        }),
    );

  project
    .command('enroll')
    .description(
      'Join a project with a ticket: become a member and get a credential; without a ticket, a member gets its credential',
    )
    .argument(
      '[ticket]',
      "the ticket printed by 'ockam project ticket' (Ockam's or ours: hex), a file holding it, or '-' to read it from stdin",
    )
    .option('--identity <name>', 'identity that enrolls (default identity if omitted)')
    .option('--project <name>', 'without a ticket: the project (default: "default")', 'default')
    .option(
      '--oidc',
      "join by logging in at the project's OpenID Connect provider (its oidc add-on): prints a URL and a code, waits for the login, and the authority makes the ID token's claims your attributes",
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam project enroll "$(cat db.ticket)"\n  $ ockam project enroll db.ticket --identity db\n  $ ockam project enroll --identity m1\n  $ ockam project enroll --oidc --project acme',
    )
    .action((text: string | undefined, opts: { identity?: string; project: string; oidc?: boolean }) =>
      run(async (ctx) => {
        if (opts.oidc && text !== undefined)
          throw new OckamError('application', 'invalid', 'Give a ticket or --oidc, not both');
        const { project: p, cred } =
          text === undefined
            ? await enrollMember(ctx, opts.project, opts.identity, opts.oidc ? 'oidc' : undefined)
            : await enrollTicket(ctx, readTicket(text), opts.identity);
        printEnrolled(ctx, p, cred);
      }),
    );

  project
    .command('import')
    .description(
      "Import a project from Ockam's project JSON (id, name, access_route, identity, project_change_history, authority_access_route, authority_identity)",
    )
    .requiredOption('--project-file <path>', 'the project JSON file')
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam project import --project-file project.json\n  $ ockam project enroll --identity m1',
    )
    .action((opts: { projectFile: string }) =>
      run(async (ctx) => {
        const p = importProjectFile(ctx, opts.projectFile);
        // Ockam's words, which scripts look for.
        ctx.out.result(
          `Successfully imported project ${p.name} (identifier ${p.identifier})`,
          describeProject(p),
        );
      }),
    );

  project
    .command('list')
    .description('List projects')
    .addHelpText('after', '\nExamples:\n  $ ockam project list')
    .action(() =>
      run(async (ctx) => {
        const list = new Projects(ctx.state)
          .list()
          .map((p) => ({ name: p.name, identifier: p.identifier, route: p.route, node: p.nodeName }));
        ctx.out.result(
          () =>
            list.length
              ? table(
                  ['NAME', 'IDENTIFIER', 'ROUTE', 'NODE'],
                  list.map((p) => [p.name, p.identifier, p.route, p.node ?? '-']),
                )
              : 'No projects. Create one with: ockam enroll',
          list,
        );
      }),
    );
  project
    .command('show')
    .description('Show a project')
    .argument('[name]', 'project', 'default')
    .addHelpText('after', '\nExamples:\n  $ ockam project show')
    .action((name: string) =>
      run(async (ctx) => {
        const p = new Projects(ctx.state).require(name);
        ctx.out.result(
          [
            `Project:    ${p.name}`,
            `Identifier: ${p.identifier}`,
            `Route:      ${p.route}`,
            `Node:       ${p.nodeName ?? '(elsewhere)'}`,
          ].join('\n'),
          describeProject(p),
        );
      }),
    );
  project
    .command('delete')
    .description('Forget a project (and stop its node if it runs here)')
    .argument('<name>', 'project')
    .option('-y, --yes', 'do not ask for confirmation')
    .addHelpText('after', '\nExamples:\n  $ ockam project delete acme')
    .action((name: string) =>
      run(async (ctx) => {
        const projects = new Projects(ctx.state);
        const p = projects.require(name);
        if (p.nodeName) {
          const n = ctx.state.getNode(p.nodeName);
          if (n?.pid && (await isNodeRunning(ctx.home, n))) await stopNodeProcess(n.pid);
        }
        projects.delete(name);
        ctx.out.result(`Project ${name} deleted`, { deleted: name });
      }),
    );

  program
    .command('authority')
    .description('Authorities: issue credentials to members')
    .command('create')
    .description('Start an authority node (members, enrollment tokens, credential issuer) for a project')
    .argument('[name]', 'node name', 'authority')
    .option('--tcp-listener-address <host:port>', 'where it listens', '127.0.0.1:4000')
    .requiredOption('--project-identifier <id>', 'the project id (the trust_context_id attribute)')
    .option(
      '--trusted-identities <json>',
      'pre-trusted members and their attributes, as JSON: {"I…": {"k": "v"}}; an enroller has "ockam-role": "enroller"',
    )
    .option('--identity <name>', 'identity of the authority (created when missing)', 'authority')
    .option(
      '--account-authority <hex>',
      'an account authority (exported identity) whose credentials with project=<--project-identifier> make project admins',
    )
    .option(
      '--enforce-admin-checks',
      'with --account-authority, enrollers are not admins (they cannot make enrollers)',
    )
    .option(
      '--no-direct-authentication',
      'members cannot be added directly (project-member add): tickets only',
    )
    .option('--no-token-enrollment', 'no enrollment tickets: members are added directly only')
    .option('--disable-trust-context-id', 'leave trust_context_id out of the credentials it issues')
    .addHelpText(
      'after',
      '\nAs in Ockam, only the pre-trusted identities are members at first: give an enroller there to make tickets.\nOthers reach it through a project file (\'ockam project import --project-file\') naming its identity\n(\'ockam identity show authority --full --encoding hex\') and its route (/dnsaddr/127.0.0.1/tcp/4000/service/api).\n\nExamples:\n  $ ockam authority create --tcp-listener-address 127.0.0.1:4000 --project-identifier p1 \\\n      --trusted-identities \'{"I923829d0…": {"ockam-role": "enroller"}}\'',
    )
    .action(
      (
        name: string,
        opts: {
          tcpListenerAddress: string;
          projectIdentifier: string;
          trustedIdentities?: string;
          identity: string;
          accountAuthority?: string;
          enforceAdminChecks?: boolean;
          directAuthentication: boolean;
          tokenEnrollment: boolean;
          disableTrustContextId?: boolean;
        },
      ) =>
        run(async (ctx) => {
          if (opts.trustedIdentities) parseTrustedIdentities(opts.trustedIdentities);
          const account =
            opts.accountAuthority === undefined
              ? undefined
              : exportedIdentityFlag(opts.accountAuthority, '--account-authority');
          const p = await hostProject(ctx, name, opts.tcpListenerAddress, undefined, {
            projectId: opts.projectIdentifier,
            identityName: opts.identity,
            authorityFlags: {
              ...(account !== undefined ? { accountAuthority: account } : {}),
              ...(opts.enforceAdminChecks ? { enforceAdminChecks: true } : {}),
              ...(opts.directAuthentication === false ? { noDirectAuthentication: true } : {}),
              ...(opts.tokenEnrollment === false ? { noTokenEnrollment: true } : {}),
              ...(opts.disableTrustContextId ? { disableTrustContextId: true } : {}),
            },
            ...(opts.trustedIdentities ? { trustedIdentities: opts.trustedIdentities } : {}),
          });
          ctx.out.result(`Authority ${p.identifier} is running on node ${name} at ${p.route}`, {
            name,
            identifier: p.identifier,
            route: p.route,
            projectId: p.id,
          });
        }),
    );
}

/** What `project enroll` and `enroll --oidc` print. */
function printEnrolled(
  ctx: CliContext,
  p: ProjectRecord,
  cred: Awaited<ReturnType<typeof fetchCredential>>,
): void {
  const attributes = Object.entries(cred.attributes).map(([k, v]) => `  ${k}=${v}`);
  // Piped, Ockam prints its enroll output as JSON (identity, project, credential): so do we.
  const ockam = {
    identity: { name: cred.name, identifier: cred.identifier },
    project_name: p.name,
    credential: {
      attributes: cred.attributes,
      created_at: cred.createdAt,
      expires_at: cred.expiresAt,
    },
  };
  ctx.out.result(
    [
      `Enrolled ${cred.name} (${cred.identifier}) in project ${p.name}; credential valid until ${new Date(cred.expiresAt * 1000).toISOString()}`,
      ...(attributes.length ? ['Attributes attested by the project authority:', ...attributes] : []),
    ].join('\n'),
    { project: p.name, ...cred, ...ockam },
    JSON.stringify(ockam, null, 2),
  );
}

/** What `project show --output json` and friends print: the record, its histories as hex. */
function describeProject(p: ProjectRecord) {
  return {
    ...p,
    changeHistory: toHex(p.changeHistory),
    authorityChangeHistory: p.authorityChangeHistory ? toHex(p.authorityChangeHistory) : null,
  };
}

/** A ticket argument: '-' (stdin), a file holding one, or the ticket itself (as Ockam takes it). */
function readTicket(text: string): string {
  if (text === '-') return readFileSync(0, 'utf8').trim();
  if (!/^[0-9a-fA-F]+$/.test(text.trim()) && existsSync(text)) {
    if (statSync(text).size > MAX_TICKET_LENGTH)
      throw new OckamError('application', 'invalid', `${text} is larger than a ticket can be`);
    return readFileSync(text, 'utf8').trim();
  }
  return text;
}

/** The largest project file `project import` reads (Ockam's are a few kilobytes). */
const MAX_PROJECT_FILE = 1024 * 1024;

/**
 * Stores a project from Ockam's project JSON: its identity must verify and match `identity`; its
 * authority (identity, route) may be another node. Routes are stored without `/service/api`.
 */
export function importProjectFile(ctx: CliContext, path: string): ProjectRecord {
  if (statSync(path).size > MAX_PROJECT_FILE)
    throw new OckamError('application', 'invalid', `${path} is larger than ${MAX_PROJECT_FILE} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new OckamError('application', 'invalid', `${path} is not JSON: ${(cause as Error).message}`, {
      cause,
    });
  }
  const model = decodeProjectModel(json);
  return saveProject(ctx, {
    name: model.name,
    id: model.id,
    projectRoute: model.accessRoute,
    ...(model.identifier ? { projectIdentifier: model.identifier } : {}),
    ...(model.projectChangeHistory ? { projectChangeHistory: model.projectChangeHistory } : {}),
    ...(model.authorityChangeHistory ? { authorityChangeHistory: model.authorityChangeHistory } : {}),
    ...(model.authorityRoute ? { authorityRoute: model.authorityRoute } : {}),
  });
}

/** Verifies and stores a project a ticket or a project file describes. */
function saveProject(
  ctx: CliContext,
  d: {
    name: string;
    id: string;
    projectRoute: string;
    projectIdentifier?: string;
    projectChangeHistory?: string;
    authorityChangeHistory?: string;
    authorityRoute?: string;
  },
): ProjectRecord {
  if (!d.projectChangeHistory)
    throw new OckamError(
      'identity',
      'invalid',
      `Project ${d.name} comes without its identity (project_change_history); ask for a ticket from 'ockam project ticket'`,
    );
  const history = fromHex(d.projectChangeHistory, 'project change history');
  const identity = importIdentity(history);
  if (d.projectIdentifier && d.projectIdentifier !== identity.identifier) {
    throw new OckamError(
      'identity',
      'invalid',
      `The project identifier ${d.projectIdentifier} does not match its change history (${identity.identifier})`,
    );
  }
  const authorityHistory = d.authorityChangeHistory
    ? fromHex(d.authorityChangeHistory, 'authority change history')
    : undefined;
  const authority = authorityHistory ? importIdentity(authorityHistory) : undefined;
  const projects = new Projects(ctx.state);
  const existing = projects.get(d.name);
  if (existing && existing.identifier !== identity.identifier) {
    throw new OckamError(
      'node',
      'already-exists',
      `A different project named ${d.name} (${existing.identifier}) is already known here`,
    );
  }
  const route = routeWithoutApi(d.projectRoute);
  const authorityRoute = d.authorityRoute ? routeWithoutApi(d.authorityRoute) : undefined;
  // The project node is its own authority unless the ticket or file names another.
  const separate =
    (authority !== undefined && authority.identifier !== identity.identifier) ||
    (authorityRoute !== undefined && authorityRoute !== route);
  projects.save({
    name: d.name,
    id: d.id,
    identifier: identity.identifier,
    changeHistory: history,
    route,
    nodeName: existing?.nodeName ?? null,
    authorityChangeHistory: separate && authority ? authority.changeHistory : null,
    authorityRoute: separate ? (authorityRoute ?? null) : null,
  });
  return projects.require(d.name);
}

/** A flag holding an exported identity (hex of its change history): checked, trimmed. */
function exportedIdentityFlag(value: string, flag: string): string {
  const hex = value.trim();
  try {
    importIdentity(hex);
  } catch (cause) {
    throw new OckamError(
      'identity',
      'invalid',
      `${flag} is not an exported identity (hex of its change history): ${(cause as Error).message}`,
      { cause },
    );
  }
  return hex;
}

/** How a new node is told whom to trust (`node create`): the options stored with it. */
export interface NodeTrustFlags {
  project?: string;
  authorityIdentity?: string;
  authorityRoute?: string;
  credentialScope?: string;
  enrollmentTicket?: string;
}

/**
 * The trust options a new node is stored with: a project (`--project`, the one a ticket
 * enrolled in, or "default" when it exists), or an authority without a project
 * (`--authority-identity`, checked here, with `--authority-route` and `--credential-scope`).
 */
export async function nodeTrustOptions(
  ctx: CliContext,
  identityName: string,
  flags: NodeTrustFlags,
): Promise<Record<string, string>> {
  const scope: Record<string, string> = flags.credentialScope
    ? { credentialScope: flags.credentialScope }
    : {};
  if (flags.authorityIdentity !== undefined) {
    if (flags.project !== undefined || flags.enrollmentTicket !== undefined)
      throw new OckamError(
        'application',
        'invalid',
        'Give --authority-identity, or a project (--project, --enrollment-ticket), not both',
      );
    const hex = exportedIdentityFlag(flags.authorityIdentity, '--authority-identity');
    return {
      authorityIdentity: hex,
      ...(flags.authorityRoute ? { authorityRoute: flags.authorityRoute } : {}),
      ...scope,
    };
  }
  if (flags.enrollmentTicket !== undefined) {
    const { project } = await enrollTicket(ctx, readTicket(flags.enrollmentTicket), identityName);
    return { project: project.name, ...scope };
  }
  const projects = new Projects(ctx.state);
  const project = flags.project ? projects.require(flags.project).name : projects.get('default')?.name;
  return project ? { project, ...scope } : {};
}

/** A member of a project (pre-trusted, added, or enrolled before) gets its credential. */
async function enrollMember(ctx: CliContext, projectName: string, identityName?: string, join?: 'oidc') {
  const project = new Projects(ctx.state).require(projectName);
  const cred = await fetchCredential(ctx, project, identityName, join);
  return { project, cred };
}

/** Joins a project with a ticket (hex text): stores the project and fetches a credential. */
export async function enrollTicket(ctx: CliContext, raw: string, identityName?: string) {
  const ticket = decodeEnrollmentTicket(raw);
  const existing = new Projects(ctx.state).get(ticket.projectName);
  const p = saveProject(ctx, {
    name: ticket.projectName,
    id: ticket.projectId ?? existing?.id ?? '',
    projectRoute: ticket.projectRoute,
    ...(ticket.projectIdentifier ? { projectIdentifier: ticket.projectIdentifier } : {}),
    ...(ticket.projectChangeHistory ? { projectChangeHistory: ticket.projectChangeHistory } : {}),
    ...(ticket.authorityChangeHistory ? { authorityChangeHistory: ticket.authorityChangeHistory } : {}),
    ...(ticket.authorityRoute ? { authorityRoute: ticket.authorityRoute } : {}),
  });
  const cred = await fetchCredential(ctx, p, identityName, ticket.oneTimeCode);
  return { project: p, cred };
}

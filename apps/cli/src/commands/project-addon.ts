/**
 * `ockam project addon …`: add-ons of a project hosted here. One for now, `oidc`: the project's
 * authority trusts an OpenID Connect provider, and people enrol with `ockam project enroll --oidc`
 * (see @ockam/oidc). The configuration is stored with the project node's authority options; the
 * node is restarted to apply it (its relays, portals and members are kept: they are in the state).
 */
import type { Client, RouteLike } from '@ockam/core';
import { OckamError } from '@ockam/core';
import { isNodeRunning, spawnNode, stopNodeProcess } from '@ockam/daemon';
import {
  checkOidcConfig,
  type DevicePrompt,
  enrollWithOidc,
  type OidcConfig,
  type OidcEnrolled,
  parseClaimMapping,
} from '@ockam/oidc';
import { type ProjectRecord, Projects } from '@ockam/state';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { table } from '../output.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** The node hosting `project` here, with its options; add-ons need the authority to be local. */
function hostedProject(ctx: CliContext, projectName: string) {
  const project = new Projects(ctx.state).require(projectName);
  const node = project.nodeName ? ctx.state.getNode(project.nodeName) : undefined;
  const authority = node?.options.authority as Record<string, unknown> | undefined;
  if (node === undefined || authority === undefined)
    throw new OckamError(
      'application',
      'invalid',
      `Project ${projectName}'s authority does not run on this machine; configure its add-ons where it runs`,
    );
  return { project, node, authority };
}

/** Stores the authority's options and restarts the project node if it runs, so they apply. */
async function applyAuthorityOptions(
  ctx: CliContext,
  projectName: string,
  update: (authority: Record<string, unknown>) => Record<string, unknown>,
): Promise<boolean> {
  const { node, authority } = hostedProject(ctx, projectName);
  ctx.state.setNodeOptions(node.name, { ...node.options, authority: update({ ...authority }) });
  const running = node.pid !== null && node.pid !== undefined && (await isNodeRunning(ctx.home, node));
  if (!running) return false;
  await stopNodeProcess(node.pid!);
  await spawnNode(ctx.home, node.name, {
    ...(node.tcpListenerAddress ? { tcpListenerAddress: node.tcpListenerAddress } : {}),
    ...(typeof node.options.identity === 'string' ? { identity: node.options.identity } : {}),
  });
  return true;
}

function oidcConfigOf(authority: Record<string, unknown>): OidcConfig | undefined {
  return authority.oidc === undefined ? undefined : checkOidcConfig(authority.oidc);
}

export function registerProjectAddonCommands(project: Command, run: Run): void {
  const addon = project
    .command('addon')
    .description("A project's add-ons: oidc (people enrol through an OpenID Connect provider)");
  const configure = addon.command('configure').description('Configure an add-on');
  configure
    .command('oidc')
    .description(
      'Let people enrol in the project with a login at an OpenID Connect provider (device authorization grant); the authority verifies their ID token and makes the chosen claims their attributes',
    )
    .option('--project <name>', 'project (hosted on this machine)', 'default')
    .requiredOption(
      '--issuer <url>',
      "the provider's issuer URL, exactly as its tokens' iss (https; plain http only on 127.0.0.1, localhost or ::1)",
    )
    .requiredOption(
      '--client-id <id>',
      'the OAuth client people log in with; ID tokens must be issued to it (their audience)',
    )
    .option(
      '--attribute-from-claim <claim[=attribute]>',
      'an ID token claim that becomes a member attribute (repeatable; e.g. email, groups, groups=team)',
      collect,
    )
    .option(
      '--scope <scope>',
      'a scope the login asks for (repeatable; default: openid and those of the claims)',
      collect,
    )
    .addHelpText(
      'after',
      [
        '',
        'A list claim such as groups ["db-admins","staff"] gives groups="db-admins,staff" and groups.db-admins="true",',
        'groups.staff="true": a policy (= subject.groups "db-admins") admits a person whose only group is db-admins,',
        'and (= subject.groups.db-admins "true") anyone in db-admins. The membership ends when the ID token expires.',
        'The project node restarts to apply it.',
        '',
        'Examples:',
        '  $ ockam project addon configure oidc --issuer https://login.example.com --client-id ockam \\',
        '      --attribute-from-claim email --attribute-from-claim groups',
        '  $ ockam project enroll --oidc',
      ].join('\n'),
    )
    .action(
      (opts: {
        project: string;
        issuer: string;
        clientId: string;
        attributeFromClaim?: string[];
        scope?: string[];
      }) =>
        run(async (ctx) => {
          const config = checkOidcConfig({
            issuer: opts.issuer,
            clientId: opts.clientId,
            claims: (opts.attributeFromClaim ?? []).map(parseClaimMapping),
            ...(opts.scope ? { scopes: opts.scope } : {}),
          });
          const restarted = await applyAuthorityOptions(ctx, opts.project, (a) => ({ ...a, oidc: config }));
          ctx.out.result(
            `Project ${opts.project} now enrols people who log in at ${config.issuer} (client ${config.clientId})${restarted ? '; its node restarted' : ''}`,
            { project: opts.project, addon: 'oidc', ...config, restarted },
          );
        }),
    );
  addon
    .command('list')
    .description("List a project's add-ons")
    .option('--project <name>', 'project (hosted on this machine)', 'default')
    .addHelpText('after', '\nExamples:\n  $ ockam project addon list')
    .action((opts: { project: string }) =>
      run(async (ctx) => {
        const config = oidcConfigOf(hostedProject(ctx, opts.project).authority);
        const rows = [
          {
            id: 'oidc',
            enabled: config !== undefined,
            description: config ? `${config.issuer} (client ${config.clientId})` : 'OpenID Connect logins',
          },
        ];
        ctx.out.result(
          () =>
            table(
              ['ADDON', 'ENABLED', 'DESCRIPTION'],
              rows.map((r) => [r.id, r.enabled ? 'yes' : 'no', r.description]),
            ),
          config ? [{ ...rows[0], config }] : rows,
        );
      }),
    );
  addon
    .command('disable')
    .description('Disable an add-on (members it enrolled keep their membership until it expires)')
    .argument('<addon>', 'oidc')
    .option('--project <name>', 'project (hosted on this machine)', 'default')
    .addHelpText('after', '\nExamples:\n  $ ockam project addon disable oidc')
    .action((name: string, opts: { project: string }) =>
      run(async (ctx) => {
        if (name !== 'oidc')
          throw new OckamError('application', 'invalid', `Unknown add-on ${name}; known: oidc`);
        const restarted = await applyAuthorityOptions(ctx, opts.project, ({ oidc: _, ...rest }) => rest);
        ctx.out.result(`Add-on oidc disabled for project ${opts.project}`, {
          project: opts.project,
          addon: 'oidc',
          restarted,
        });
      }),
    );
}

/**
 * The person's side of `project enroll --oidc` / `enroll --oidc`, through the channel to the
 * authority: prints where to log in (stderr, as Ockam; with --quiet only the code, on stdout)
 * and waits for the login.
 */
export async function joinWithOidc(
  ctx: CliContext,
  project: ProjectRecord,
  client: Client,
  via: RouteLike,
): Promise<OidcEnrolled> {
  const prompt = (p: DevicePrompt) => {
    if (ctx.out.quiet) {
      process.stdout.write(`${p.userCode}\n`);
      return;
    }
    process.stderr.write(
      [
        `To enrol in project ${project.name}, log in at your identity provider:`,
        `Open ${p.verificationUri} and enter the code ${p.userCode}`,
        ...(p.verificationUriComplete ? [`(or open ${p.verificationUriComplete})`] : []),
        `Waiting up to ${Math.round(p.expiresInSeconds / 60)} min for the login…`,
        '',
      ].join('\n'),
    );
  };
  return enrollWithOidc(client, via, { onPrompt: prompt, timeoutMs: 15_000 });
}

/**
 * `ockam project-member`: the members of a project, managed at its authority's
 * `direct_authenticator` by an enroller (`--identity`) over a secure channel. Output as Ockam
 * prints it: `{ identifier, attributes: { attributes, added_at, expires_at, attested_by } }`.
 */
import { OckamError } from '@ockam/core';
import {
  addMember,
  deleteMember,
  ENROLLER,
  listMemberIds,
  listMembers,
  type MemberEntry,
  OCKAM_RELAY,
  OCKAM_ROLE,
  showMember,
} from '@ockam/credentials';
import { withClientNode } from '@ockam/node';
import { Projects } from '@ockam/state';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { table } from '../output.js';
import { connectAuthority, parseAttributes } from './project.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;
const collect = (v: string, prev: string[] = []) => [...prev, v];
const TIMEOUT = { timeoutMs: 15_000 };

interface MemberOptions {
  identity?: string;
  project: string;
}

/** Runs `fn` with an API client on a secure channel to the project's authority, as `identity`. */
async function atAuthority<T>(
  ctx: CliContext,
  opts: MemberOptions,
  fn: (client: Parameters<typeof addMember>[0], via: Parameters<typeof addMember>[1]) => Promise<T>,
): Promise<T> {
  const projects = new Projects(ctx.state);
  const authority = projects.authority(projects.require(opts.project));
  const identity = await ctx.identities.ensureIdentity(opts.identity);
  return withClientNode(ctx.state, identity.name, async (c) => {
    const { client, via } = await connectAuthority(c, authority);
    return fn(client, via);
  });
}

function checkIdentifier(id: string): string {
  if (!/^I[0-9a-f]{64}$/.test(id))
    throw new OckamError(
      'identity',
      'invalid',
      `Invalid identifier '${id}': expected I followed by 64 hex digits`,
    );
  return id;
}

/** A member as Ockam prints it. */
function memberJson(identifier: string, m: MemberEntry) {
  return {
    identifier,
    attributes: {
      attributes: Object.fromEntries(m.attributes),
      added_at: m.addedAt,
      expires_at: m.expiresAt ?? null,
      attested_by: m.attestedBy ?? null,
    },
  };
}

const attributesText = (m: MemberEntry) => [...m.attributes].map(([k, v]) => `${k}=${v}`).join(' ') || '-';

function withMemberOptions(c: Command): Command {
  return c
    .option('--identity <name>', 'an enroller identity that asks the authority (default identity if omitted)')
    .option('--project <name>', 'project', 'default');
}

export function registerProjectMemberCommands(program: Command, run: Run): void {
  const pm = program
    .command('project-member')
    .description("A project's members and their attributes, at its authority (for enrollers)");

  withMemberOptions(pm.command('list-ids').description('List the identifiers of the members'))
    .addHelpText('after', '\nExamples:\n  $ ockam project-member list-ids --identity enroller')
    .action((opts: MemberOptions) =>
      run(async (ctx) => {
        const ids = await atAuthority(ctx, opts, (client, via) => listMemberIds(client, via, TIMEOUT));
        ctx.out.result(ids.length ? ids.join('\n') : 'No members', ids, JSON.stringify(ids, null, 2));
      }),
    );

  withMemberOptions(pm.command('list').description('List the members with their attributes'))
    .addHelpText('after', '\nExamples:\n  $ ockam project-member list --identity enroller')
    .action((opts: MemberOptions) =>
      run(async (ctx) => {
        const members = await atAuthority(ctx, opts, (client, via) => listMembers(client, via, TIMEOUT));
        const json = [...members].map(([id, m]) => memberJson(id, m));
        ctx.out.result(
          () =>
            json.length
              ? table(
                  ['IDENTIFIER', 'ATTRIBUTES', 'ATTESTED BY'],
                  [...members].map(([id, m]) => [id, attributesText(m), m.attestedBy ?? '-']),
                )
              : 'No members',
          json,
          JSON.stringify(json, null, 2),
        );
      }),
    );

  withMemberOptions(
    pm
      .command('add')
      .description('Add a member (or replace its attributes); only admins may add enrollers')
      .argument('<identifier>', 'the identifier of the new member')
      .option('--attribute <k=v>', 'an attribute of the member (repeatable)', collect)
      .option('--relay <name>', 'the member may create relay NAME ("*": any), attribute ockam-relay')
      .option('--enroller', 'the member may enroll others (attribute ockam-role=enroller)'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam project-member add I923829d0… --identity enroller --attribute component=db --relay db',
    )
    .action(
      (
        identifier: string,
        opts: MemberOptions & { attribute?: string[]; relay?: string; enroller?: boolean },
      ) =>
        run(async (ctx) => {
          const attributes = parseAttributes(opts.attribute);
          if (opts.relay !== undefined) attributes.set(OCKAM_RELAY, opts.relay);
          if (opts.enroller) attributes.set(OCKAM_ROLE, ENROLLER);
          const id = checkIdentifier(identifier);
          await atAuthority(ctx, opts, (client, via) => addMember(client, via, id, attributes, TIMEOUT));
          ctx.out.result(
            `Identity ${id} is now a member of project ${opts.project}${attributes.size ? ` with ${[...attributes].map(([k, v]) => `${k}=${v}`).join(' ')}` : ''}`,
            { identifier: id, project: opts.project, attributes: Object.fromEntries(attributes) },
            id,
          );
        }),
    );

  withMemberOptions(
    pm.command('show').description("Show a member's attributes").argument('<identifier>', 'the member'),
  )
    .addHelpText('after', '\nExamples:\n  $ ockam project-member show I923829d0… --identity enroller')
    .action((identifier: string, opts: MemberOptions) =>
      run(async (ctx) => {
        const id = checkIdentifier(identifier);
        const m = await atAuthority(ctx, opts, (client, via) => showMember(client, via, id, TIMEOUT));
        const json = memberJson(id, m);
        ctx.out.result(
          [
            `Member:      ${id}`,
            `Attributes:  ${attributesText(m)}`,
            `Added at:    ${new Date(m.addedAt * 1000).toISOString()}`,
            `Attested by: ${m.attestedBy ?? '-'}`,
          ].join('\n'),
          json,
          JSON.stringify(json, null, 2),
        );
      }),
    );

  withMemberOptions(
    pm
      .command('delete')
      .description('Remove a member (pre-trusted members cannot be removed)')
      .argument('<identifier>', 'the member'),
  )
    .addHelpText('after', '\nExamples:\n  $ ockam project-member delete I923829d0… --identity enroller')
    .action((identifier: string, opts: MemberOptions) =>
      run(async (ctx) => {
        const id = checkIdentifier(identifier);
        await atAuthority(ctx, opts, (client, via) => deleteMember(client, via, id, TIMEOUT));
        ctx.out.result(
          `Identity ${id} is no longer a member of project ${opts.project}`,
          { deleted: id },
          id,
        );
      }),
    );
}

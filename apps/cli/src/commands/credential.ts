import { readFileSync } from 'node:fs';
import { fromHex, OckamError, toHex } from '@ockam/core';
import {
  CredentialError,
  DEFAULT_CLI_CREDENTIAL_TTL,
  issueCredential,
  type VerifiedCredential,
  verifyCredential,
} from '@ockam/credentials';
import { importIdentity } from '@ockam/identity';
import { Projects } from '@ockam/state';
import { type Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { parseDuration, table } from '../output.js';
import { parseAttributes } from './project.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;
const collect = (v: string, prev: string[] = []) => [...prev, v];

/**
 * The issuer to trust: an identity or project name here, an identifier (`I…`, as Ockam's
 * `--issuer` takes) of an identity known here (created, imported with `identity create --identity`,
 * or a project's or its authority's), or an exported identity (hex).
 */
function issuerIdentity(ctx: CliContext, nameOrHex: string) {
  const named = ctx.identities.getIdentity(nameOrHex);
  if (named) return importIdentity(named.changeHistory);
  const projects = new Projects(ctx.state);
  const project = projects.get(nameOrHex);
  if (project) return projects.authority(project).identity;
  if (/^I[0-9a-f]{64}$/.test(nameOrHex)) {
    const known = ctx.identities.identitiesWithIdentifier(nameOrHex)[0];
    if (known) return importIdentity(known.changeHistory);
    for (const p of projects.list()) {
      const a = projects.authority(p);
      if (a.identity.identifier === nameOrHex) return a.identity;
      if (p.identifier === nameOrHex) return importIdentity(p.changeHistory);
    }
    throw new OckamError(
      'identity',
      'not-found',
      `--issuer ${nameOrHex} is not known here: import it first with 'ockam identity create NAME --identity HEX'`,
    );
  }
  try {
    return importIdentity(nameOrHex.trim());
  } catch (e) {
    throw new OckamError(
      'identity',
      'invalid',
      `--issuer '${nameOrHex.slice(0, 20)}' is neither an identity or project name here nor a valid exported identity: ${(e as Error).message}`,
      { cause: e },
    );
  }
}

/** `--credential HEX` or `--credential-path FILE` (exactly one, as in Ockam). */
function credentialBytes(opts: { credential?: string; credentialPath?: string }): Uint8Array {
  if ((opts.credential === undefined) === (opts.credentialPath === undefined))
    throw new OckamError('application', 'invalid', 'Give exactly one of --credential and --credential-path');
  const text = opts.credential ?? readFileSync(opts.credentialPath as string, 'utf8');
  return fromHex(text.trim(), 'credential');
}

export function registerCredentialCommands(program: Command, run: Run): void {
  const credential = program
    .command('credential')
    .description('Credentials: attributes of an identity, signed by an issuer');
  credential
    .command('issue')
    .description('Issue a credential as one of your identities (the issuer)')
    .option('--as <identity>', 'issuing identity (the default identity if omitted)')
    .requiredOption('--for <identifier>', 'subject identifier (I…)')
    .option('--attribute <k=v>', 'attribute (repeatable)', collect)
    .option('--ttl <duration>', 'validity', `${DEFAULT_CLI_CREDENTIAL_TTL / 60}m`)
    .addOption(
      new Option(
        '--encoding <format>',
        "'hex': the credential as hex (CBOR CredentialAndPurposeKey, what 'credential verify' and Ockam's take); 'plain': a description with the hex",
      )
        .choices(['plain', 'hex'])
        .default('hex'),
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam credential issue --as alice --for I923829d0… --attribute component=db --ttl 1h --encoding hex',
    )
    .action(
      (opts: { as?: string; for: string; attribute?: string[]; ttl: string; encoding: 'plain' | 'hex' }) =>
        run(async (ctx) => {
          if (!/^I[0-9a-f]{64}$/.test(opts.for))
            throw new OckamError(
              'identity',
              'invalid',
              `Invalid --for '${opts.for}': expected I followed by 64 lowercase hex digits`,
            );
          const { identity, vault } = await ctx.identities.loadIdentity(opts.as);
          try {
            const purposeKey = await ctx.identities.ensurePurposeKey(
              identity,
              vault.vault,
              'credential-signing',
            );
            const attributes = Object.fromEntries(parseAttributes(opts.attribute));
            const bytes = await issueCredential({
              vault: vault.vault,
              issuer: identity,
              purposeKey,
              subject: opts.for,
              attributes,
              ttlSeconds: Math.round(parseDuration(opts.ttl) / 1000),
            });
            const json = {
              credential: toHex(bytes),
              issuer: identity.identifier,
              subject: opts.for,
              attributes,
            };
            ctx.out.result(
              opts.encoding === 'hex'
                ? toHex(bytes)
                : [
                    'Credential:',
                    `  subject: ${opts.for}`,
                    `  issuer: ${identity.identifier}`,
                    `  attributes: ${JSON.stringify(attributes)}`,
                    `  credential: ${toHex(bytes)}`,
                  ].join('\n'),
              json,
            );
          } finally {
            vault.close();
          }
        }),
    );
  credential
    .command('verify')
    .description(
      'Verify a credential: every rule (issuer, signature, windows); prints its subject and attributes',
    )
    .requiredOption(
      '--issuer <identity>',
      'trusted issuer: an identity or project name here, or an exported identity (hex)',
    )
    .option('--credential <hex>', 'the credential')
    .option('--credential-path <file>', 'a file holding the credential (hex)')
    .option('--for <identifier>', 'the subject it must be about')
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam credential verify --issuer alice --credential 8282…\n  $ ockam credential verify --issuer I923829d0… --credential-path alice.cred',
    )
    .action((opts: { issuer: string; credential?: string; credentialPath?: string; for?: string }) =>
      run(async (ctx) => {
        let v: VerifiedCredential;
        try {
          v = verifyCredential(credentialBytes(opts), {
            trustedAuthorities: [issuerIdentity(ctx, opts.issuer)],
            ...(opts.for ? { expectedSubject: opts.for } : {}),
          });
        } catch (e) {
          if (CredentialError.isReason(e) || OckamError.is(e))
            throw new OckamError('identity', 'invalid', `Invalid credential: ${(e as Error).message}`, {
              cause: e,
            });
          throw e;
        }
        const json = {
          valid: true,
          subject: v.subject,
          issuer: v.issuer,
          attributes: Object.fromEntries(v.attributes),
          createdAt: v.createdAt,
          expiresAt: v.expiresAt,
        };
        ctx.out.result(
          `Valid credential for ${v.subject} from ${v.issuer}, until ${new Date(v.expiresAt * 1000).toISOString()}: ${[...v.attributes].map(([k, x]) => `${k}=${x}`).join(' ')}`,
          json,
        );
      }),
    );
  credential
    .command('store')
    .description(
      'Verify a credential for one of your identities and keep it for a project (presented by its nodes)',
    )
    .requiredOption(
      '--issuer <identity>',
      'trusted issuer (identity or project name, or exported identity hex)',
    )
    .option('--credential <hex>', 'the credential')
    .option('--credential-path <file>', 'a file holding the credential (hex)')
    .option('--scope <project>', 'project it is for', 'default')
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam credential store --issuer default --credential 8282… --scope default',
    )
    .action((opts: { issuer: string; credential?: string; credentialPath?: string; scope: string }) =>
      run(async (ctx) => {
        const bytes = credentialBytes(opts);
        let v: VerifiedCredential;
        try {
          v = verifyCredential(bytes, { trustedAuthorities: [issuerIdentity(ctx, opts.issuer)] });
        } catch (e) {
          throw new OckamError('identity', 'invalid', `Invalid credential: ${(e as Error).message}`, {
            cause: e,
          });
        }
        const owner = ctx.identities.listIdentities().find((i) => i.identifier === v.subject);
        if (!owner)
          throw new OckamError(
            'identity',
            'not-found',
            `The credential is about ${v.subject}, which is not one of your identities`,
          );
        new Projects(ctx.state).saveCredential(owner.name, opts.scope, bytes, v.expiresAt);
        ctx.out.result(`Stored a credential for identity ${owner.name} in ${opts.scope}`, {
          identity: owner.name,
          scope: opts.scope,
          expiresAt: v.expiresAt,
        });
      }),
    );
  credential
    .command('list')
    .description('List stored credentials')
    .addHelpText('after', '\nExamples:\n  $ ockam credential list')
    .action(() =>
      run(async (ctx) => {
        const list = new Projects(ctx.state).credentials().map((c) => ({
          identity: c.identityName,
          scope: c.project,
          expiresAt: c.expiresAt,
          expired: c.expiresAt * 1000 < Date.now(),
          credential: toHex(c.credential),
        }));
        ctx.out.result(
          () =>
            list.length
              ? table(
                  ['IDENTITY', 'SCOPE', 'EXPIRES'],
                  list.map((c) => [
                    c.identity,
                    c.scope,
                    `${new Date(c.expiresAt * 1000).toISOString()}${c.expired ? ' (expired)' : ''}`,
                  ]),
                )
              : 'No credentials',
          list,
        );
      }),
    );
}

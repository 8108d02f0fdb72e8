import { readFileSync, statSync } from 'node:fs';
import { fromHex, OckamError, toHex } from '@ockam/core';
import {
  CredentialError,
  DEFAULT_CLI_CREDENTIAL_TTL,
  describeCredential,
  issueCredential,
  type VerifiedCredential,
  verifyCredential,
} from '@ockam/credentials';
import { isNodeRunning } from '@ockam/daemon';
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

/** The largest credential file read (Ockam's credentials are well under a kilobyte of hex). */
const MAX_CREDENTIAL_FILE = 64 * 1024;

/** The text of `--credential HEX` or `--credential-path FILE` (exactly one, as in Ockam). */
function readCredential(opts: { credential?: string; credentialPath?: string }): string {
  if ((opts.credential === undefined) === (opts.credentialPath === undefined))
    throw new OckamError('application', 'invalid', 'Give exactly one of --credential and --credential-path');
  if (opts.credentialPath !== undefined && statSync(opts.credentialPath).size > MAX_CREDENTIAL_FILE)
    throw new OckamError(
      'application',
      'invalid',
      `${opts.credentialPath} is larger than a credential can be (${MAX_CREDENTIAL_FILE} bytes)`,
    );
  return (opts.credential ?? readFileSync(opts.credentialPath as string, 'utf8')).trim();
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
        // As in Ockam, the verdict is the result (`true`/`false` when piped), not the exit code:
        // only a question that cannot be asked (no credential given, an issuer unknown here) fails.
        const text = readCredential(opts);
        const issuer = issuerIdentity(ctx, opts.issuer);
        let v: VerifiedCredential;
        try {
          v = verifyCredential(fromHex(text, 'credential'), {
            trustedAuthorities: [issuer],
            ...(opts.for ? { expectedSubject: opts.for } : {}),
          });
        } catch (e) {
          if (!(CredentialError.isReason(e) || OckamError.is(e))) throw e;
          const error = (e as Error).message;
          ctx.out.result(`Invalid credential: ${error}`, { valid: false, is_valid: false, error }, 'false');
          return;
        }
        const json = {
          valid: true,
          is_valid: true,
          subject: v.subject,
          issuer: v.issuer,
          attributes: Object.fromEntries(v.attributes),
          createdAt: v.createdAt,
          expiresAt: v.expiresAt,
        };
        ctx.out.result(
          `Valid credential for ${v.subject} from ${v.issuer}, until ${new Date(v.expiresAt * 1000).toISOString()}: ${[...v.attributes].map(([k, x]) => `${k}=${x}`).join(' ')}`,
          json,
          'true',
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
    .option('--scope <scope>', 'what it is for: a project, or the --credential-scope of nodes', 'default')
    .option(
      '--at <node>',
      'the node that presents it (its identity must be the subject); a running node starts presenting it now',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam credential store --issuer default --credential 8282… --scope default\n  $ ockam credential store --issuer I923829d0… --credential-path n1.cred --scope test --at n1',
    )
    .action(
      (opts: { issuer: string; credential?: string; credentialPath?: string; scope: string; at?: string }) =>
        run(async (ctx) => {
          const text = readCredential(opts);
          const node = opts.at === undefined ? undefined : ctx.requireNode(opts.at);
          let v: VerifiedCredential;
          try {
            v = verifyCredential(fromHex(text, 'credential'), {
              trustedAuthorities: [issuerIdentity(ctx, opts.issuer)],
            });
          } catch (e) {
            // Ockam's words, so that scripts matching them keep working; ours say why.
            throw new OckamError(
              'identity',
              'invalid',
              `Credential is not verified: ${(e as Error).message}`,
              {
                cause: e,
              },
            );
          }
          const bytes = fromHex(text, 'credential');
          const owner = ctx.identities.listIdentities().find((i) => i.identifier === v.subject);
          if (!owner)
            throw new OckamError(
              'identity',
              'not-found',
              `The credential is about ${v.subject}, which is not one of your identities`,
            );
          // A running node presents it from its next handshake on (and over its live channels);
          // one that refuses it (another authority, another identity) leaves nothing stored.
          if (node && (await isNodeRunning(ctx.home, node))) {
            const trust = await ctx.client(node.name).call('trust', {});
            if (trust.trustedAuthority === null)
              ctx.out.warn(`Node ${node.name} trusts no authority: it will not present this credential`);
            else await ctx.client(node.name).call('presentCredential', { credential: text });
          }
          new Projects(ctx.state).saveCredential(owner.name, opts.scope, bytes, v.expiresAt);
          ctx.out.result(
            `Stored a credential for identity ${owner.name} in ${opts.scope}`,
            {
              identity: owner.name,
              scope: opts.scope,
              expiresAt: v.expiresAt,
              issuer: v.issuer,
              credential: text,
            },
            text,
          );
        }),
    );
  credential
    .command('list')
    .description('List stored credentials')
    .option('--subject <identifier>', 'only credentials about this identity')
    .option('--issuer <identifier>', 'only credentials this identity issued')
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam credential list\n  $ ockam credential list --issuer I6c20e814…',
    )
    .action((opts: { subject?: string; issuer?: string }) =>
      run(async (ctx) => {
        const now = Math.floor(Date.now() / 1000);
        // Ockam's shape (`credential`, `is_verified`, `scope`), with the identity that holds it.
        const all = new Projects(ctx.state).credentials().map((c) => {
          const d = describeCredential(c.credential);
          return {
            credential: {
              attributes: Object.fromEntries(d.attributes),
              created_at: d.createdAt,
              credential: toHex(c.credential),
              expires_at: d.expiresAt,
              issuer: d.issuer,
              subject: d.subject ?? null,
            },
            // Every stored credential was verified when it was stored.
            is_verified: true,
            scope: c.project,
            identity: c.identityName,
            expired: c.expiresAt <= now,
          };
        });
        const list = all.filter(
          (c) =>
            (opts.subject === undefined || c.credential.subject === opts.subject) &&
            (opts.issuer === undefined || c.credential.issuer === opts.issuer),
        );
        const json = JSON.stringify(list, null, 2);
        ctx.out.result(
          () =>
            list.length
              ? table(
                  ['IDENTITY', 'SCOPE', 'ISSUER', 'EXPIRES', 'ATTRIBUTES'],
                  list.map((c) => [
                    c.identity,
                    c.scope,
                    c.credential.issuer,
                    `${new Date(c.credential.expires_at * 1000).toISOString()}${c.expired ? ' (expired)' : ''}`,
                    Object.entries(c.credential.attributes)
                      .map(([k, v]) => `${k}=${v}`)
                      .join(' '),
                  ]),
                )
              : 'No credentials',
          list,
          json,
        );
      }),
    );
}

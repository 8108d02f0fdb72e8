import { readFileSync } from 'node:fs';
import { OckamError, type SigningKeyType } from '@ockam/core';
import { IdentityError, importIdentity } from '@ockam/identity';
import type { IdentityRecord } from '@ockam/state';
import { type Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { table } from '../output.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

function describe(r: IdentityRecord) {
  const identity = importIdentity(r.changeHistory);
  return {
    name: r.name,
    identifier: r.identifier,
    vault: r.vaultName,
    keyType: identity.primaryPublicKey.type,
    changes: identity.changes.length,
    default: r.isDefault,
    changeHistory: identity.export(),
  };
}

export function registerIdentityCommands(program: Command, run: Run): void {
  const identity = program
    .command('identity')
    .description('Manage identities: cryptographic identifiers whose keys stay in a vault');

  identity
    .command('create')
    .description('Create an identity with a new primary key in a vault')
    .argument('[name]', 'identity name (default: "default" for the first identity)')
    .option('--vault <name>', 'vault for its keys (default vault if omitted, created when missing)')
    .addOption(
      new Option('--key-type <type>', 'primary key type').choices(['ed25519', 'p256']).default('ed25519'),
    )
    .option(
      '--identity <hex>',
      "import someone else's identity instead (its change history as hex, from 'identity show --full --encoding hex'): it is verified and stored without keys, to be trusted as an issuer or authority",
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam identity create alice\n  $ ockam identity create bob --vault v1 --key-type p256\n  $ ockam identity create carol --identity "$(ockam identity show carol --full --encoding hex)"',
    )
    .action(
      (name: string | undefined, opts: { vault?: string; keyType: SigningKeyType; identity?: string }) =>
        run(async (ctx) => {
          const ids = ctx.identities;
          const n =
            name ??
            (ids.defaultIdentity() ? `identity-${Math.random().toString(16).slice(2, 8)}` : 'default');
          if (opts.identity !== undefined) {
            const imported = ids.importIdentity(n, opts.identity, opts.vault ? { vault: opts.vault } : {});
            ctx.out.result(
              `Identity ${imported.identifier} imported as ${imported.name}`,
              describe(imported),
            );
            return;
          }
          const r = await ids.createIdentity(n, {
            ...(opts.vault ? { vault: opts.vault } : {}),
            keyType: opts.keyType,
          });
          ctx.out.result(`Identity ${r.name} created: ${r.identifier}`, describe(r), r.identifier);
        }),
    );

  identity
    .command('list')
    .description('List identities')
    .addHelpText('after', '\nExamples:\n  $ ockam identity list')
    .action(() =>
      run(async (ctx) => {
        const list = ctx.identities.listIdentities().map(describe);
        ctx.out.result(
          () =>
            list.length === 0
              ? 'No identities. Create one with: ockam identity create'
              : table(
                  ['NAME', 'IDENTIFIER', 'KEY', 'VAULT', 'DEFAULT'],
                  list.map((i) => [i.name, i.identifier, i.keyType, i.vault, i.default ? 'yes' : '']),
                ),
          list.map(({ changeHistory: _, ...rest }) => rest),
        );
      }),
    );

  identity
    .command('show')
    .description('Show an identity: its identifier, or with --full its change history (the export format)')
    .argument('[name]', 'identity name (default identity if omitted, created when missing)')
    .option('--full', 'print the change history (hex unless --encoding plain)')
    .addOption(
      new Option(
        '--encoding <format>',
        "with --full: 'hex' prints the change history as hex (the export format, as Ockam's), 'plain' describes each change",
      ).choices(['plain', 'hex']),
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam identity show\n  $ ockam identity show alice --full --encoding hex > alice.identity',
    )
    .action((name: string | undefined, opts: { full?: boolean; encoding?: 'plain' | 'hex' }) =>
      run(async (ctx) => {
        if (opts.encoding !== undefined && !opts.full)
          throw new OckamError('application', 'invalid', '--encoding requires --full');
        const r = await ctx.identities.ensureIdentity(name);
        const d = describe(r);
        if (!opts.full) {
          ctx.out.result(d.identifier, { ...d, changeHistory: undefined });
        } else if (opts.encoding === 'plain') {
          const identity = importIdentity(r.changeHistory);
          const lines = [`Identifier: ${identity.identifier}`];
          identity.changes.forEach((c, i) => {
            lines.push(
              `Change ${i + 1}: ${c.data.primaryPublicKey.type} key, attestations valid from ${new Date(c.data.attestationsValidFrom * 1000).toISOString()} until ${new Date(c.data.attestationsValidUntil * 1000).toISOString()}`,
            );
          });
          ctx.out.result(lines.join('\n'), d);
        } else if (opts.encoding === 'hex') {
          // Ockam's JSON for this form is {"encoded": HEX}.
          ctx.out.result(d.changeHistory, { encoded: d.changeHistory });
        } else {
          ctx.out.result(d.changeHistory, d);
        }
      }),
    );

  identity
    .command('default')
    .description('Show the default identity, or make NAME the default')
    .argument('[name]', 'identity to make the default')
    .addHelpText('after', '\nExamples:\n  $ ockam identity default\n  $ ockam identity default alice')
    .action((name: string | undefined) =>
      run(async (ctx) => {
        if (name) ctx.identities.setDefaultIdentity(name);
        const d = ctx.identities.defaultIdentity();
        ctx.out.result(
          d ? `The default identity is ${d.name} (${d.identifier})` : 'There is no default identity',
          { default: d?.name ?? null, identifier: d?.identifier ?? null },
        );
      }),
    );

  identity
    .command('rotate')
    .description(
      'Rotate the primary key: a new change signed by the new and the previous key; the identifier stays the same',
    )
    .argument('<name>', 'identity name')
    .addHelpText('after', '\nExamples:\n  $ ockam identity rotate alice')
    .action((name: string) =>
      run(async (ctx) => {
        const d = describe(await ctx.identities.rotateIdentity(name));
        ctx.out.result(`Identity ${d.name} rotated: ${d.identifier} now has ${d.changes} changes`, d);
      }),
    );

  identity
    .command('delete')
    .description('Delete an identity (its keys stay in the vault until the vault is deleted)')
    .argument('<name>', 'identity name')
    .option('-y, --yes', 'do not ask for confirmation')
    .addHelpText('after', '\nExamples:\n  $ ockam identity delete alice')
    .action((name: string) =>
      run(async (ctx) => {
        ctx.identities.deleteIdentity(name);
        ctx.out.result(`Identity ${name} deleted`, { deleted: name });
      }),
    );

  identity
    .command('verify')
    .description(
      "Verify an exported identity (change history hex) completely and print its identifier; '-' reads it from stdin, '@FILE' from a file",
    )
    .argument('<hex>', 'the change history as hex')
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam identity verify 81825837830101...\n  $ ockam identity show alice --full | ockam identity verify -',
    )
    .action((hex: string) =>
      run(async (ctx) => {
        let text = hex;
        if (hex === '-') text = readFileSync(0, 'utf8');
        else if (hex.startsWith('@')) text = readFileSync(hex.slice(1), 'utf8');
        let verified: ReturnType<typeof importIdentity>;
        try {
          verified = importIdentity(text.trim());
        } catch (e) {
          if (e instanceof IdentityError || OckamError.is(e))
            throw new OckamError('identity', 'invalid', `Invalid identity: ${(e as Error).message}`, {
              cause: e,
            });
          throw e;
        }
        ctx.out.result(verified.identifier, {
          identifier: verified.identifier,
          keyType: verified.primaryPublicKey.type,
          changes: verified.changes.length,
        });
      }),
    );
}

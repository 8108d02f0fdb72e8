import { readFileSync } from 'node:fs';
import { OckamError, type SigningKeyType, toHex } from '@ockam/core';
import { type Identity, IdentityError, importIdentity } from '@ockam/identity';
import type { IdentityRecord } from '@ockam/state';
import { type Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { table } from '../output.js';
import { deleteNamedOrAll } from './delete-named.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

/** An identity as `identity list --output json` prints it: Ockam's fields, then ours. */
function describe(r: IdentityRecord) {
  const identity = importIdentity(r.changeHistory);
  return {
    identifier: r.identifier,
    is_default: r.isDefault,
    name: r.name,
    vault_name: r.vaultName,
    key_type: identity.primaryPublicKey.type,
    changes: identity.changes.length,
  };
}

/** How Ockam names a primary key's type in `identity show --full`. */
const KEY_TYPE_NAMES: Record<SigningKeyType, string> = {
  ed25519: 'EdDSACurve25519',
  p256: 'ECDSASHA256CurveP256',
};

/** The change history described change by change, as Ockam's `identity show --full` prints it. */
function fullDescription(identity: Identity) {
  const changes = identity.changes.map((c) => ({
    identifier: toHex(c.changeHash),
    primary_public_key: `${KEY_TYPE_NAMES[c.data.primaryPublicKey.type]}: ${toHex(c.data.primaryPublicKey.bytes)}`,
    revoke_all_purpose_keys: c.data.revokeAllPurposeKeys,
  }));
  const lines = [`Identifier: ${identity.identifier}`];
  changes.forEach((c, i) => {
    lines.push(
      `  Change[${i}]:`,
      `    identifier:              ${c.identifier}`,
      `    primary_public_key:      ${c.primary_public_key}`,
      `    revoke_all_purpose_keys: ${c.revoke_all_purpose_keys}`,
    );
  });
  return { plain: lines.join('\n'), json: { identifier: identity.identifier, changes } };
}

export function registerIdentityCommands(program: Command, run: Run): void {
  const identity = program
    .command('identity')
    .description('Manage identities: cryptographic identifiers whose keys stay in a vault');

  identity
    .command('create')
    .description('Create an identity with a new primary key in a vault, or import one with --identity')
    .argument('[name]', 'identity name (default: "default" for the first identity)')
    .option('--vault <name>', 'vault for its keys (default vault if omitted, created when missing)')
    .addOption(
      new Option(
        '--key-type <type>',
        'primary key type (default: ed25519, or p256 in a PKCS#11 token or KMS that cannot make ed25519 keys)',
      ).choices(['ed25519', 'p256']),
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
      (name: string | undefined, opts: { vault?: string; keyType?: SigningKeyType; identity?: string }) =>
        run(async (ctx) => {
          const ids = ctx.identities;
          const n =
            name ??
            (ids.defaultIdentity() ? `identity-${Math.random().toString(16).slice(2, 8)}` : 'default');
          if (opts.identity !== undefined) {
            const imported = await ids.importIdentity(
              n,
              opts.identity,
              opts.vault ? { vault: opts.vault } : {},
            );
            ctx.out.result(
              `Identity ${imported.identifier} imported as ${imported.name}`,
              describe(imported),
            );
            return;
          }
          const r = await ids.createIdentity(n, {
            ...(opts.vault ? { vault: opts.vault } : {}),
            ...(opts.keyType ? { keyType: opts.keyType } : {}),
          });
          // Piped, the identifier alone (as Ockam), for `id=$(ockam identity create)`.
          ctx.out.result(`Identity ${r.name} created: ${r.identifier}`, describe(r), r.identifier);
        }),
    );

  identity
    .command('list')
    .description('List identities')
    .addHelpText('after', '\nExamples:\n  $ ockam identity list\n  $ ockam identity list --output json')
    .action(() =>
      run(async (ctx) => {
        const list = ctx.identities.listIdentities().map(describe);
        ctx.out.result(
          () =>
            list.length === 0
              ? 'No identities. Create one with: ockam identity create'
              : table(
                  ['NAME', 'IDENTIFIER', 'KEY', 'VAULT', 'DEFAULT'],
                  list.map((i) => [
                    i.name,
                    i.identifier,
                    i.key_type,
                    i.vault_name,
                    i.is_default ? 'yes' : '',
                  ]),
                ),
          list,
          list.map((i) => i.name).join('\n'),
        );
      }),
    );

  identity
    .command('show')
    .description(
      'Show an identity: its identifier; with --full its change history, described change by change, or with --encoding hex in the export format',
    )
    .argument('[name]', 'identity name (default identity if omitted, created when missing)')
    .option('--full', 'print the change history')
    .addOption(
      new Option(
        '--encoding <format>',
        "with --full: 'hex' prints the change history as hex (the export format, as Ockam's); 'plain' (the default) describes each change",
      ).choices(['plain', 'hex']),
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam identity show\n  $ ockam identity show alice --full\n  $ ockam identity show alice --full --encoding hex > alice.identity',
    )
    .action((name: string | undefined, opts: { full?: boolean; encoding?: 'plain' | 'hex' }) =>
      run(async (ctx) => {
        if (opts.encoding !== undefined && !opts.full)
          throw new OckamError('application', 'invalid', '--encoding requires --full');
        const r = await ctx.identities.ensureIdentity(name);
        if (!opts.full) {
          ctx.out.result(r.identifier, describe(r));
        } else if (opts.encoding === 'hex') {
          // Ockam's JSON for this form is {"encoded": HEX}.
          const hex = toHex(r.changeHistory);
          ctx.out.result(hex, { encoded: hex });
        } else {
          const full = fullDescription(importIdentity(r.changeHistory));
          ctx.out.result(full.plain, full.json);
        }
      }),
    );

  identity
    .command('default')
    .description('Show the name of the default identity, or make NAME the default')
    .argument('[name]', 'identity to make the default')
    .addHelpText('after', '\nExamples:\n  $ ockam identity default\n  $ ockam identity default alice')
    .action((name: string | undefined) =>
      run(async (ctx) => {
        const ids = ctx.identities;
        if (name === undefined) {
          const d = await ids.ensureIdentity();
          ctx.out.result(`The name of the default identity is '${d.name}'`, {
            name: d.name,
            identifier: d.identifier,
          });
          return;
        }
        const wanted = ids.requireIdentity(name);
        if (wanted.isDefault)
          throw new OckamError('identity', 'invalid', `The identity named '${name}' is already the default`);
        ids.setDefaultIdentity(name);
        ctx.out.result(
          `The identity named '${name}' is now the default`,
          { name, identifier: wanted.identifier },
          name,
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
    .description(
      'Delete an identity, or all of them with --all (refused for an identity a node uses; its keys stay in the vault until the vault is deleted)',
    )
    .argument('[name]', 'identity name')
    .option('-a, --all', 'delete every identity (those a node uses are kept, with a warning)')
    .option('-y, --yes', 'do not ask for confirmation')
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam identity delete alice --yes\n  $ ockam identity delete --all --yes',
    )
    .action((name: string | undefined, opts: { all?: boolean }) =>
      run(async (ctx) => {
        const ids = ctx.identities;
        deleteNamedOrAll(
          ctx,
          {
            singular: 'identity',
            plural: 'identities',
            names: ids.listIdentities().map((x) => x.name),
            remove: (n) => ids.deleteIdentity(n),
          },
          name,
          opts.all,
        );
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
      '\nExamples:\n  $ ockam identity verify 81825837830101...\n  $ ockam identity show alice --full --encoding hex | ockam identity verify -',
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

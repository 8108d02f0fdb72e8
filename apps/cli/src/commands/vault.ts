import { OckamError } from '@ockam/core';
import { PASSPHRASE_ENV, type VaultRecord } from '@ockam/state';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { table } from '../output.js';
import { deleteNamedOrAll } from './delete-named.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

/** Ockam's `UseAwsKms` as it serializes it. */
const useAwsKms = (v: VaultRecord): 'Yes' | 'No' => (v.signingKeys?.kind === 'aws-kms' ? 'Yes' : 'No');

/** A vault as Ockam prints it (`{"vault": {…}}`), with what ours adds inside. */
const describe = (v: VaultRecord) => ({
  vault: {
    is_default: v.isDefault,
    name: v.name,
    vault_type: v.inDatabase
      ? { DatabaseVault: { use_aws_kms: useAwsKms(v) } }
      : { LocalFileVault: { path: v.path, use_aws_kms: useAwsKms(v) } },
    path: v.path,
    master_key: v.masterKey,
    backend: v.backend,
    created_at: new Date(v.createdAt).toISOString(),
  },
});

export function registerVaultCommands(program: Command, run: Run): void {
  const vault = program
    .command('vault')
    .description('Manage vaults: where the secret keys of identities are kept, encrypted at rest');
  vault
    .command('create')
    .description(
      `Create a vault. The first one without --path keeps its keys in the main database; others are files of their own. Its secrets are encrypted with a key file (0600), or with a passphrase if ${PASSPHRASE_ENV} is set`,
    )
    .argument('[name]', 'vault name (default: "default" for the first vault)')
    .option('--path <file>', 'keep the keys in this file (it must not exist yet)')
    .option(
      '--aws-kms',
      'generate and keep identity and credential signing keys in AWS KMS (P-256); region, credentials and endpoint come from the AWS SDK (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_KMS, ~/.aws)',
    )
    .addHelpText(
      'after',
      `\nExamples:\n  $ ockam vault create v1\n  $ ockam vault create v2 --path ~/keys/v2.sqlite3\n  $ ${PASSPHRASE_ENV}='correct horse' ockam vault create locked\n  $ AWS_REGION=eu-west-1 ockam vault create kms --aws-kms`,
    )
    .action((name: string | undefined, opts: { path?: string; awsKms?: boolean }) =>
      run(async (ctx) => {
        const ids = ctx.identities;
        if (ids.listVaults().length === 0)
          ctx.out.info('This is the first vault in this environment: it becomes the default vault');
        const v = ids.createVault(
          name ?? (ids.defaultVault() ? `vault-${Math.random().toString(16).slice(2, 8)}` : 'default'),
          {
            ...(opts.path !== undefined ? { path: opts.path } : {}),
            ...(opts.awsKms ? { signingKeys: { kind: 'aws-kms' } as const } : {}),
          },
        );
        ctx.out.result(
          `Vault ${v.name} created (${v.masterKey === 'passphrase' ? 'passphrase' : 'key file'} protected)`,
          describe(v),
          v.name,
        );
      }),
    );
  vault
    .command('move')
    .description('Move the file of a vault to another path (not the vault kept in the main database)')
    .argument('<name>', 'vault name')
    .requiredOption('--path <file>', 'the new path (it must not exist yet)')
    .addHelpText('after', '\nExamples:\n  $ ockam vault move v2 --path /secure/disk/v2.sqlite3')
    .action((name: string, opts: { path: string }) =>
      run(async (ctx) => {
        const v = ctx.identities.moveVault(name, opts.path);
        ctx.out.result(`Moved the vault ${v.name} to ${v.path}`, describe(v), v.path);
      }),
    );
  vault
    .command('list')
    .description('List vaults')
    .addHelpText('after', '\nExamples:\n  $ ockam vault list\n  $ ockam vault list --output json')
    .action(() =>
      run(async (ctx) => {
        const vaults = ctx.identities.listVaults();
        ctx.out.result(
          () =>
            vaults.length === 0
              ? 'No vaults. Create one with: ockam vault create'
              : table(
                  ['NAME', 'MASTER KEY', 'DEFAULT', 'KEYS IN'],
                  vaults.map((v) => [
                    v.name,
                    v.masterKey,
                    v.isDefault ? 'yes' : '',
                    v.inDatabase ? 'the main database' : v.path,
                  ]),
                ),
          vaults.map(describe),
          vaults.map((v) => v.name).join('\n'),
        );
      }),
    );
  vault
    .command('show')
    .description('Show a vault')
    .argument('[name]', 'vault name (default vault if omitted)')
    .addHelpText('after', '\nExamples:\n  $ ockam vault show v1\n  $ ockam vault show v1 --output json')
    .action((name: string | undefined) =>
      run(async (ctx) => {
        const v = name ? ctx.identities.requireVault(name) : ctx.identities.defaultVault();
        if (!v)
          throw new OckamError(
            'vault',
            'not-found',
            "There is no default vault; create one with 'ockam vault create'",
          );
        ctx.out.result(
          [
            `Vault:      ${v.name}${v.isDefault ? ' (default)' : ''}`,
            `Master key: ${v.masterKey}`,
            `Backend:    ${v.backend}`,
            `Keys in:    ${v.inDatabase ? `the main database (${v.path})` : v.path}`,
            ...(useAwsKms(v) === 'Yes' ? ['Uses AWS KMS: true'] : []),
          ].join('\n'),
          describe(v),
          v.name,
        );
      }),
    );
  vault
    .command('delete')
    .description('Delete a vault and its keys, or all of them with --all (refused while an identity uses it)')
    .argument('[name]', 'vault name')
    .option('-a, --all', 'delete every vault that no identity uses (the others are kept, with a warning)')
    .option('-y, --yes', 'do not ask for confirmation')
    .addHelpText('after', '\nExamples:\n  $ ockam vault delete v1 --yes\n  $ ockam vault delete --all --yes')
    .action((name: string | undefined, opts: { all?: boolean }) =>
      run(async (ctx) => {
        const ids = ctx.identities;
        deleteNamedOrAll(
          ctx,
          {
            singular: 'vault',
            plural: 'vaults',
            names: ids.listVaults().map((x) => x.name),
            remove: (n) => ids.deleteVault(n),
          },
          name,
          opts.all,
        );
      }),
    );
}

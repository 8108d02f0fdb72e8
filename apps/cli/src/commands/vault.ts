import { OckamError } from '@ockam/core';
import { PASSPHRASE_ENV, type VaultRecord } from '@ockam/state';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { table } from '../output.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

const describe = (v: VaultRecord) => ({
  name: v.name,
  path: v.path,
  masterKey: v.masterKey,
  backend: v.backend,
  default: v.isDefault,
  createdAt: new Date(v.createdAt).toISOString(),
});

export function registerVaultCommands(program: Command, run: Run): void {
  const vault = program
    .command('vault')
    .description('Manage vaults: where the secret keys of identities are kept, encrypted at rest');
  vault
    .command('create')
    .description(
      `Create a vault. Its secrets are encrypted with a key file (0600), or with a passphrase if ${PASSPHRASE_ENV} is set`,
    )
    .argument('[name]', 'vault name (default: "default" for the first vault)')
    .addHelpText(
      'after',
      `\nExamples:\n  $ ockam vault create v1\n  $ ${PASSPHRASE_ENV}='correct horse' ockam vault create locked`,
    )
    .action((name: string | undefined) =>
      run(async (ctx) => {
        const ids = ctx.identities;
        const v = ids.createVault(
          name ?? (ids.defaultVault() ? `vault-${Math.random().toString(16).slice(2, 8)}` : 'default'),
        );
        ctx.out.result(
          `Vault ${v.name} created (${v.masterKey === 'passphrase' ? 'passphrase' : 'key file'} protected)`,
          describe(v),
        );
      }),
    );
  vault
    .command('list')
    .description('List vaults')
    .addHelpText('after', '\nExamples:\n  $ ockam vault list')
    .action(() =>
      run(async (ctx) => {
        const vaults = ctx.identities.listVaults().map(describe);
        ctx.out.result(
          () =>
            vaults.length === 0
              ? 'No vaults. Create one with: ockam vault create'
              : table(
                  ['NAME', 'MASTER KEY', 'DEFAULT', 'PATH'],
                  vaults.map((v) => [v.name, v.masterKey, v.default ? 'yes' : '', v.path]),
                ),
          vaults,
        );
      }),
    );
  vault
    .command('show')
    .description('Show a vault')
    .argument('[name]', 'vault name (default vault if omitted)')
    .addHelpText('after', '\nExamples:\n  $ ockam vault show v1')
    .action((name: string | undefined) =>
      run(async (ctx) => {
        const v = name ? ctx.identities.requireVault(name) : ctx.identities.defaultVault();
        if (!v)
          throw new OckamError(
            'vault',
            'not-found',
            "There is no default vault; create one with 'ockam vault create'",
          );
        const d = describe(v);
        ctx.out.result(
          [
            `Vault:      ${d.name}${d.default ? ' (default)' : ''}`,
            `Master key: ${d.masterKey}`,
            `Backend:    ${d.backend}`,
            `Path:       ${d.path}`,
          ].join('\n'),
          d,
        );
      }),
    );
  vault
    .command('delete')
    .description('Delete a vault and its keys (refused while an identity uses it)')
    .argument('<name>', 'vault name')
    .option('-y, --yes', 'do not ask for confirmation')
    .addHelpText('after', '\nExamples:\n  $ ockam vault delete v1')
    .action((name: string) =>
      run(async (ctx) => {
        ctx.identities.deleteVault(name);
        ctx.out.result(`Vault ${name} deleted`, { deleted: name });
      }),
    );
}

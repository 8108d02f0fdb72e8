import { OckamError } from '@ockam/core';
import { PASSPHRASE_ENV, type SigningKeysConfig, type VaultRecord } from '@ockam/state';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { table } from '../output.js';
import { deleteNamedOrAll } from './delete-named.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

/** Ockam's `UseAwsKms` as it serializes it. */
const useAwsKms = (v: VaultRecord): 'Yes' | 'No' => (v.signingKeys?.kind === 'aws-kms' ? 'Yes' : 'No');

const PKCS11_PIN_ENV = 'OCKAM_PKCS11_PIN';

/** A vault as Ockam prints it (`{"vault": {…}}`), with what ours adds inside. */
const describe = (v: VaultRecord) => ({
  vault: {
    is_default: v.isDefault,
    name: v.name,
    vault_type: v.inDatabase
      ? { DatabaseVault: { use_aws_kms: useAwsKms(v) } }
      : { LocalFileVault: { path: v.path, use_aws_kms: useAwsKms(v) } },
    path: v.path,
    ...(v.signingKeys ? { signing_keys: v.signingKeys } : {}),
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
    // PKCS#11: signing keys generated and used in a token; X25519 keys and secrets stay in the file.
    .option(
      '--pkcs11-library <path>',
      `generate and use the signing keys (identity, credential) in a PKCS#11 token through this module; the user PIN comes from ${PKCS11_PIN_ENV} (or ${PKCS11_PIN_ENV}_<VAULT NAME>), asked for on a terminal if unset`,
    )
    .option('--slot <id>', 'with --pkcs11-library: the slot id of the token')
    .option('--token-label <label>', 'with --pkcs11-library: the label of the token')
    .option(
      '--aws-kms',
      'generate and keep identity and credential signing keys in AWS KMS (P-256); region, credentials and endpoint come from the AWS SDK (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_KMS, ~/.aws)',
    )
    .addHelpText(
      'after',
      `\nExamples:\n  $ ockam vault create v1\n  $ ockam vault create v2 --path ~/keys/v2.sqlite3\n  $ ${PASSPHRASE_ENV}='correct horse' ockam vault create locked\n  $ ${PKCS11_PIN_ENV}=1234 ockam vault create hsm --pkcs11-library /usr/lib/softhsm/libsofthsm2.so --token-label ockam\n  $ AWS_REGION=eu-west-1 ockam vault create kms --aws-kms\n\nA vault in a PKCS#11 token keeps only its signing keys there (Ed25519 and P-256, never extractable); a secure channel's X25519 keys and secrets stay in its software key store. Nodes using it read the PIN from ${PKCS11_PIN_ENV} (a node has no terminal to ask on).`,
    )
    .action((name: string | undefined, opts: { path?: string; awsKms?: boolean } & Pkcs11Options) =>
      run(async (ctx) => {
        const ids = ctx.identities;
        if (opts.awsKms && opts.pkcs11Library !== undefined)
          throw new OckamError('vault', 'invalid', '--aws-kms and --pkcs11-library cannot be used together');
        const signingKeys: SigningKeysConfig | undefined = opts.awsKms
          ? { kind: 'aws-kms' }
          : await pkcs11SigningKeys(ctx, opts);
        if (ids.listVaults().length === 0)
          ctx.out.info('This is the first vault in this environment: it becomes the default vault');
        const v = ids.createVault(
          name ?? (ids.defaultVault() ? `vault-${Math.random().toString(16).slice(2, 8)}` : 'default'),
          {
            ...(opts.path !== undefined ? { path: opts.path } : {}),
            ...(signingKeys !== undefined ? { signingKeys } : {}),
          },
        );
        ctx.out.result(
          `Vault ${v.name} created (${v.masterKey === 'passphrase' ? 'passphrase' : 'key file'} protected${v.signingKeys ? `; signing keys in ${signingKeysPlace(v)}` : ''})`,
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
                    `${v.inDatabase ? 'the main database' : v.path}${v.signingKeys ? ` (signing keys: ${signingKeysPlace(v)})` : ''}`,
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
            ...(v.signingKeys ? [`Signing keys in: ${signingKeysPlace(v)}`] : []),
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

interface Pkcs11Options {
  pkcs11Library?: string;
  slot?: string;
  tokenLabel?: string;
}

/** Where a vault's signing keys are, for people. */
function signingKeysPlace(v: VaultRecord): string {
  const k = v.signingKeys;
  if (k?.kind === 'aws-kms') return 'AWS KMS';
  if (k?.kind !== 'pkcs11') return k?.kind ?? '';
  const token = k.tokenLabel !== undefined ? `token '${String(k.tokenLabel)}'` : `slot ${String(k.slot)}`;
  return `PKCS#11 ${token} (${String(k.library)})`;
}

/** The PKCS#11 configuration of `vault create`, after asking for the PIN on a terminal if it is not set. */
async function pkcs11SigningKeys(
  ctx: CliContext,
  opts: Pkcs11Options,
): Promise<SigningKeysConfig | undefined> {
  if (opts.pkcs11Library === undefined) {
    if (opts.slot !== undefined || opts.tokenLabel !== undefined)
      throw new OckamError('vault', 'invalid', '--slot and --token-label go with --pkcs11-library');
    return undefined;
  }
  if ((opts.slot === undefined) === (opts.tokenLabel === undefined))
    throw new OckamError(
      'vault',
      'invalid',
      '--pkcs11-library needs exactly one of --slot and --token-label',
    );
  if (opts.slot !== undefined && !/^\d{1,15}$/.test(opts.slot))
    throw new OckamError('vault', 'invalid', `--slot takes a slot id (a number), not '${opts.slot}'`);
  // The PIN is only ever in this process's environment: never an argument, never stored.
  if (!Object.keys(process.env).some((k) => k.startsWith(PKCS11_PIN_ENV)) && ctx.out.canPrompt())
    process.env[PKCS11_PIN_ENV] = await promptSecret('PKCS#11 user PIN: ');
  return {
    kind: 'pkcs11',
    library: opts.pkcs11Library,
    ...(opts.slot !== undefined ? { slot: Number(opts.slot) } : { tokenLabel: opts.tokenLabel }),
  };
}

/** Reads a line from the terminal without echoing it. */
function promptSecret(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    let typed = '';
    const done = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          done();
          resolve(typed);
          return;
        }
        if (ch === '\u0003' || ch === '\u0004') {
          done();
          reject(new OckamError('vault', 'cancelled', 'No PIN given'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else if (typed.length < 256) typed += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

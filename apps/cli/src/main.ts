/**
 * The `ockam` command. Every command accepts `--output json` and `--quiet`; it exits 0 on success
 * and 1 with a one-line reason on stderr otherwise (2 for usage errors).
 */

import { OckamError } from '@ockam/core';
import { Command, CommanderError, Option } from 'commander';
import { registerCompletionCommand } from './commands/completion.js';
import { registerCredentialCommands } from './commands/credential.js';
import { registerIdentityCommands } from './commands/identity.js';
import { registerMessageCommands } from './commands/message.js';
import { registerNodeCommands } from './commands/node.js';
import { registerPolicyCommands } from './commands/policy.js';
import { registerPortalCommands } from './commands/portals.js';
import { registerProjectCommands } from './commands/project.js';
import { registerRendezvousCommands } from './commands/rendezvous.js';
import { registerResetCommand } from './commands/reset.js';
import { registerRunCommand } from './commands/run.js';
import { registerSecureChannelCommands } from './commands/secure-channel.js';
import { registerServiceCommands } from './commands/service.js';
import { registerStatusCommand } from './commands/status.js';
import { registerTcpCommands } from './commands/tcp.js';
import { registerVaultCommands } from './commands/vault.js';
import { registerWorkerCommands } from './commands/worker.js';
import { CliContext } from './context.js';
import { type GlobalOptions, Output } from './output.js';

export const VERSION = '0.1.0';

export function buildProgram(onExit: (code: number) => void): Command {
  const program = new Command('ockam')
    .description('Ockam: end-to-end encrypted, mutually authenticated connections over any route')
    .version(VERSION, '-V, --version')
    .addOption(new Option('--output <format>', 'output format').choices(['plain', 'json']).default('plain'))
    .option('-q, --quiet', 'print nothing but errors')
    .option(
      '-v, --verbose',
      'more logging from nodes this command starts (-v debug, -vv trace)',
      (_v: string, n: number) => n + 1,
      0,
    )
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  const run = async (fn: (ctx: CliContext) => Promise<void>): Promise<void> => {
    const g = program.opts<{ output: 'plain' | 'json'; quiet?: boolean; verbose: number }>();
    const opts: GlobalOptions = { output: g.output, quiet: g.quiet === true, verbose: g.verbose };
    const ctx = new CliContext(new Output(opts));
    try {
      await fn(ctx);
      onExit(0);
    } finally {
      ctx.close();
    }
  };
  registerNodeCommands(program, run);
  registerMessageCommands(program, run);
  registerVaultCommands(program, run);
  registerIdentityCommands(program, run);
  registerSecureChannelCommands(program, run);
  registerPortalCommands(program, run);
  registerTcpCommands(program, run);
  registerServiceCommands(program, run);
  registerWorkerCommands(program, run);
  registerResetCommand(program, run);
  registerProjectCommands(program, run);
  registerCredentialCommands(program, run);
  registerPolicyCommands(program, run);
  registerRunCommand(program, run);
  registerRendezvousCommands(program, run);

  registerCompletionCommand(program, run);

  registerStatusCommand(program, run);
  for (const c of program.commands) c.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv);
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      )
        return 0;
      return e.exitCode === 0 ? 0 : 2;
    }
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`Error: ${message.split('\n')[0]}\n`);
    if (process.env.OCKAM_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    return OckamError.is(e) ? 1 : 1;
  }
}

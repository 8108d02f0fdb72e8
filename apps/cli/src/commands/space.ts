/**
 * `ockam space`: in Ockam, spaces group projects in its Orchestrator cloud. We run projects
 * ourselves (DESIGN.md §6), so there is no space to create; the command says what to do instead,
 * with Ockam's words when nothing is enrolled yet (scripts look for them).
 */
import { OckamError } from '@ockam/core';
import { Projects } from '@ockam/state';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

export function registerSpaceCommands(program: Command, run: Run): void {
  const space = program
    .command('space')
    .description("Spaces group projects in Ockam's Orchestrator; here projects run on your machines");
  space
    .command('create')
    .description('Create a space (not available: projects run locally, see ockam enroll)')
    .argument('[name]', 'space name')
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam enroll\n  $ ockam project create acme --tcp-listener-address 127.0.0.1:4000',
    )
    .action(() =>
      run(async (ctx) => {
        if (new Projects(ctx.state).list().length === 0)
          throw new OckamError(
            'application',
            'unsupported',
            "Please enroll using 'ockam enroll' before using this command",
          );
        throw new OckamError(
          'application',
          'unsupported',
          "Spaces belong to Ockam's Orchestrator, which this ockam does not use: your projects run on your machines ('ockam project list', 'ockam project create')",
        );
      }),
    );
}

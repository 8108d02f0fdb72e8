import { OckamError } from '@ockam/core';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { table } from '../output.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

function target(opts: { resource?: string; resourceType?: string }) {
  if (!!opts.resource === !!opts.resourceType)
    throw new OckamError(
      'authorization',
      'invalid',
      'Give exactly one of --resource NAME or --resource-type TYPE',
    );
  return opts.resource ? { resource: opts.resource } : { resourceType: opts.resourceType! };
}

export function registerPolicyCommands(program: Command, run: Run): void {
  const policy = program
    .command('policy')
    .description(
      'ABAC policies: who may use a resource (an inlet, outlet, relay…) or every resource of a type',
    );
  policy
    .command('create')
    .description('Set the policy of a resource or resource type; it applies from the next message on')
    .option('--at <node>', 'node (default node if omitted)')
    .option('--resource <name>', 'a resource: an inlet name, an outlet address, a relay name')
    .option(
      '--resource-type <type>',
      'tcp-inlet, tcp-outlet, relay, echoer, kafka-consumer, kafka-producer or lessor',
    )
    .requiredOption('--allow <expression>', "e.g. 'component.db' or '(= subject.component \"db\")'")
    .addHelpText(
      'after',
      "\nExamples:\n  $ ockam policy create --resource-type tcp-outlet --allow 'component.web'\n  $ ockam policy create --at n1 --resource outlet --allow '(= subject.identifier \"I923…\")'",
    )
    .action((opts: { at?: string; resource?: string; resourceType?: string; allow: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const r = await ctx.client(node.name).call('setPolicy', { ...target(opts), expression: opts.allow });
        ctx.out.result(
          `Policy set on node ${node.name} for ${opts.resource ?? opts.resourceType}: ${r.expression}`,
          { node: node.name, ...r },
        );
      }),
    );
  policy
    .command('list')
    .description('List the policies of a node')
    .option('--at <node>', 'node (default node if omitted)')
    .addHelpText('after', '\nExamples:\n  $ ockam policy list --at n1')
    .action((opts: { at?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const p = await ctx.client(node.name).call('listPolicies', {});
        ctx.out.result(
          () =>
            table(
              ['RESOURCE', 'TYPE', 'EXPRESSION'],
              [
                ...p.resources.map((r) => [r.resourceName, '', r.expression]),
                ...p.resourceTypes.map((r) => ['', r.resourceType, r.expression]),
              ],
            ),
          p,
        );
      }),
    );
  policy
    .command('show')
    .description('Show the policy of a resource or resource type')
    .option('--at <node>', 'node (default node if omitted)')
    .option('--resource <name>', 'resource name')
    .option('--resource-type <type>', 'resource type')
    .addHelpText('after', '\nExamples:\n  $ ockam policy show --resource-type tcp-outlet')
    .action((opts: { at?: string; resource?: string; resourceType?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const r = await ctx.client(node.name).call('getPolicy', target(opts));
        ctx.out.result(r.expression, r);
      }),
    );
  policy
    .command('delete')
    .description('Delete the policy of a resource or resource type')
    .option('--at <node>', 'node (default node if omitted)')
    .option('--resource <name>', 'resource name')
    .option('--resource-type <type>', 'resource type')
    .option('-y, --yes', 'do not ask for confirmation')
    .addHelpText('after', '\nExamples:\n  $ ockam policy delete --resource outlet')
    .action((opts: { at?: string; resource?: string; resourceType?: string }) =>
      run(async (ctx) => {
        const node = await ctx.runningNode(opts.at);
        const t = target(opts);
        await ctx.client(node.name).call('deletePolicy', t);
        ctx.out.result(`Policy deleted for ${opts.resource ?? opts.resourceType}`, { deleted: t });
      }),
    );
}

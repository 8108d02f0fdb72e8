import { AbacError, ALL_RESOURCE_TYPES, isResourceType, parsePolicyExpression } from '@ockam/abac';
import { OckamError } from '@ockam/core';
import type { PolicyQuery } from '@ockam/node/control';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { table } from '../output.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

interface TargetOptions {
  resource?: string;
  resourceType?: string;
}

/** A policy as Ockam prints it (`policy show`, each entry of `policy list`). */
interface PolicyJson {
  resource: string;
  action: 'handle_message';
  expression: string;
}

const policyJson = (resource: string, expression: string): PolicyJson => ({
  resource,
  action: 'handle_message',
  expression,
});

/**
 * What a policy command is about: --resource NAME or --resource-type TYPE, or, as in Ockam's
 * `policy show tcp-outlet`, a positional that is a resource type when it names one and a resource
 * otherwise. A --resource that names a type means that type (Ockam's older spelling), with a warning.
 */
function target(ctx: CliContext, opts: TargetOptions, positional?: string): PolicyQuery {
  const given = [positional, opts.resource, opts.resourceType].filter((x) => x !== undefined);
  if (given.length !== 1)
    throw new OckamError(
      'authorization',
      'invalid',
      'Give exactly one of a RESOURCE argument, --resource NAME or --resource-type TYPE',
    );
  if (opts.resourceType !== undefined) return { resourceType: opts.resourceType };
  const name = (positional ?? opts.resource)!;
  if (!isResourceType(name)) return { resource: name };
  if (opts.resource !== undefined)
    ctx.out.warn(`--resource ${name} is deprecated. Please use --resource-type ${name} instead`);
  return { resourceType: name };
}

const describeTarget = (t: PolicyQuery) =>
  'resource' in t ? `resource ${t.resource}` : `resource type ${t.resourceType}`;

/** Checks the expression here, before any node is started, with the wording of Ockam's argument parser. */
function checkExpression(option: string, text: string): string {
  try {
    parsePolicyExpression(text);
  } catch (e) {
    if (!AbacError.isReason(e, 'syntax')) throw e;
    throw new OckamError(
      'authorization',
      'invalid',
      `invalid value '${text}' for '${option}': ${e.message}`,
      {
        cause: e,
      },
    );
  }
  return text;
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
    .option('--resource-type <type>', ALL_RESOURCE_TYPES.join(', '))
    .option('--allow <expression>', "e.g. 'component.db' or '(= subject.component \"db\")'")
    .option('--expression <expression>', 'the same as --allow')
    .addHelpText(
      'after',
      "\nExamples:\n  $ ockam policy create --resource-type tcp-outlet --allow 'component.web'\n  $ ockam policy create --at n1 --resource outlet --allow '(= subject.identifier \"I923…\")'",
    )
    .action((opts: TargetOptions & { at?: string; allow?: string; expression?: string }) =>
      run(async (ctx) => {
        if ((opts.allow === undefined) === (opts.expression === undefined))
          throw new OckamError('authorization', 'invalid', 'Give the policy with --allow EXPRESSION');
        const expression =
          opts.allow !== undefined
            ? checkExpression('--allow <expression>', opts.allow)
            : checkExpression('--expression <expression>', opts.expression!);
        const t = target(ctx, opts);
        const node = await ctx.runningNode(opts.at);
        const r = await ctx.client(node.name).call('setPolicy', { ...t, expression });
        ctx.out.result(`Policy created at node ${node.name} for ${describeTarget(t)}: ${r.expression}`, {
          node: node.name,
          ...r,
        });
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
        const json = [
          ...p.resources.map((r) => policyJson(r.resourceName, r.expression)),
          ...p.resourceTypes.map((r) => policyJson(r.resourceType, r.expression)),
        ];
        ctx.out.result(
          () =>
            json.length === 0
              ? `No policies on node ${node.name}`
              : table(
                  ['RESOURCE', 'TYPE', 'EXPRESSION'],
                  [
                    ...p.resources.map((r) => [r.resourceName, '', r.expression]),
                    ...p.resourceTypes.map((r) => ['', r.resourceType, r.expression]),
                  ],
                ),
          json,
        );
      }),
    );
  policy
    .command('show')
    .description(
      'Show the policy of a resource or resource type (a RESOURCE that names a type is that type); without one, the policy of tcp-outlet',
    )
    .argument('[resource]', 'resource name or resource type')
    .option('--at <node>', 'node (default node if omitted)')
    .option('--resource <name>', 'resource name')
    .option('--resource-type <type>', 'resource type')
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam policy show tcp-outlet\n  $ ockam policy show --resource outlet --at n1',
    )
    .action((resource: string | undefined, opts: TargetOptions & { at?: string }) =>
      run(async (ctx) => {
        const none = resource === undefined && opts.resource === undefined && opts.resourceType === undefined;
        const t = target(ctx, opts, none ? 'tcp-outlet' : resource);
        const node = await ctx.runningNode(opts.at);
        let expression: string;
        try {
          expression = (await ctx.client(node.name).call('getPolicy', t)).expression;
        } catch (e) {
          if (!(OckamError.is(e) && e.kind === 'not-found')) throw e;
          // Not an error, as in Ockam: a script can ask whether a policy is set.
          ctx.out.result(`There is no such policy on node ${node.name}`, null, '');
          return;
        }
        const json = policyJson('resource' in t ? t.resource : t.resourceType, expression);
        // Piped, Ockam prints the JSON (it has no shorter machine form for a policy).
        ctx.out.result(
          `Policy for ${describeTarget(t)} is ${expression}`,
          json,
          JSON.stringify(json, null, 2),
        );
      }),
    );
  policy
    .command('delete')
    .description(
      'Delete the policy of a resource or resource type (a RESOURCE that names a type is that type)',
    )
    .argument('[resource]', 'resource name or resource type')
    .option('--at <node>', 'node (default node if omitted)')
    .option('--resource <name>', 'resource name')
    .option('--resource-type <type>', 'resource type')
    .option('-y, --yes', 'do not ask for confirmation')
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam policy delete tcp-outlet --yes\n  $ ockam policy delete --resource outlet',
    )
    .action((resource: string | undefined, opts: TargetOptions & { at?: string }) =>
      run(async (ctx) => {
        const t = target(ctx, opts, resource);
        const node = await ctx.runningNode(opts.at);
        const r = await ctx.client(node.name).call('deletePolicy', t);
        ctx.out.result(`Policy for ${describeTarget(t)} has been deleted`, r);
      }),
    );
}

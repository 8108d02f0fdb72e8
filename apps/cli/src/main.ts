/**
 * The `ockam` command. Every command accepts Ockam's global flags anywhere on the line
 * (`--output json`, `--jq`, `--compact-output`, `-q`, `-v…`, `--no-color`, `--no-input`); it exits
 * 0 on success and 1 with a one-line reason on stderr otherwise (2 for usage errors).
 *
 * Startup is lazy, because scripts run the command hundreds of times: only the module of the
 * command named on the line is loaded (`COMMAND_MODULES`); `--help` lists the others from
 * `command-table.json`, which the build writes from the modules themselves.
 */

import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import type { CliContext } from './context.js';
import type { GlobalOptions, JqFilter, OutputFormat } from './output.js';
import { substituteStdinPlaceholders } from './stdin.js';

export const VERSION = '0.1.0';

export type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;
export type Register = (program: Command, run: Run) => void;

/**
 * Every module of commands, in the order `--help` lists them. A module may register several
 * top-level commands; the build's command table says which (`scripts/command-table.mjs`).
 */
export const COMMAND_MODULES: Record<string, () => Promise<Register>> = {
  node: async () => (await import('./commands/node.js')).registerNodeCommands,
  message: async () => (await import('./commands/message.js')).registerMessageCommands,
  vault: async () => (await import('./commands/vault.js')).registerVaultCommands,
  identity: async () => (await import('./commands/identity.js')).registerIdentityCommands,
  'secure-channel': async () => (await import('./commands/secure-channel.js')).registerSecureChannelCommands,
  portals: async () => (await import('./commands/portals.js')).registerPortalCommands,
  kafka: async () => (await import('./commands/kafka.js')).registerKafkaCommands,
  tcp: async () => (await import('./commands/tcp.js')).registerTcpCommands,
  'broker-hops': async () => (await import('./commands/broker-hops.js')).registerBrokerHopCommands,
  service: async () => (await import('./commands/service.js')).registerServiceCommands,
  worker: async () => (await import('./commands/worker.js')).registerWorkerCommands,
  reset: async () => (await import('./commands/reset.js')).registerResetCommand,
  project: async () => (await import('./commands/project.js')).registerProjectCommands,
  credential: async () => (await import('./commands/credential.js')).registerCredentialCommands,
  policy: async () => (await import('./commands/policy.js')).registerPolicyCommands,
  run: async () => (await import('./commands/run.js')).registerRunCommand,
  rendezvous: async () => (await import('./commands/rendezvous.js')).registerRendezvousCommands,
  completion: async () => (await import('./commands/completion.js')).registerCompletionCommand,
  markdown: async () => (await import('./commands/markdown.js')).registerMarkdownCommands,
  environment: async () => (await import('./commands/environment.js')).registerEnvironmentCommand,
  status: async () => (await import('./commands/status.js')).registerStatusCommand,
};

/** Commands that read the whole command tree (completion scripts, generated docs). */
const WHOLE_TREE = new Set(['completion', 'markdown', 'manpages']);

/** One top-level command in the build's table. */
export interface TableEntry {
  name: string;
  aliases: string[];
  description: string;
  module: string;
  /** Deprecated commands that run but are not listed (`kafka-consumer`). */
  hidden?: boolean;
}

/** The table the build wrote beside this file, or undefined (then every module is loaded). */
function commandTable(): TableEntry[] | undefined {
  try {
    return JSON.parse(readFileSync(new URL('./command-table.json', import.meta.url), 'utf8')) as TableEntry[];
  } catch {
    return undefined;
  }
}

/** Global options that take a value, so the command name is not mistaken for one. */
const VALUE_OPTIONS = new Set(['--output', '--jq']);

/** The first word of `args` that is not an option: the command's name (`help` looks one further). */
export function commandWord(args: readonly string[]): string | undefined {
  let helpSeen = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return undefined;
    if (a.startsWith('-')) {
      if (VALUE_OPTIONS.has(a)) i++;
      continue;
    }
    if (a === 'help' && !helpSeen) {
      helpSeen = true;
      continue;
    }
    return a;
  }
  return undefined;
}

/** Which modules a line needs: the one of its command, or all (unknown command, completion). */
function modulesFor(args: readonly string[] | undefined, table: TableEntry[] | undefined): string[] | 'help' {
  const all = Object.keys(COMMAND_MODULES);
  if (args === undefined || table === undefined) return all;
  const word = commandWord(args);
  if (word === undefined) return 'help';
  if (WHOLE_TREE.has(word)) return all;
  const entry = table.find((e) => e.name === word || e.aliases.includes(word));
  if (entry === undefined || !(entry.module in COMMAND_MODULES)) return all;
  return [entry.module];
}

/** An environment flag as Ockam reads QUIET and NO_INPUT: set and not false. */
function envFlag(name: string): boolean {
  const v = process.env[name]?.trim().toLowerCase();
  return v !== undefined && v !== '' && v !== '0' && v !== 'false' && v !== 'no' && v !== 'off';
}

interface ParsedGlobals {
  output?: OutputFormat;
  jq?: string;
  compactOutput?: boolean;
  quiet?: boolean;
  verbose: number;
  color: boolean;
  input: boolean;
}

/** Ockam's rule: --output wins; without it, --jq or --compact-output mean JSON. */
export function globalOptions(g: ParsedGlobals): GlobalOptions {
  const output: OutputFormat = g.output ?? (g.jq !== undefined || g.compactOutput ? 'json' : 'plain');
  return {
    output,
    quiet: g.quiet === true || envFlag('QUIET'),
    verbose: g.verbose,
    ...(g.jq !== undefined ? { jq: g.jq } : {}),
    compact: g.compactOutput === true,
    // no-color.org: NO_COLOR set to anything but the empty string.
    noColor: !g.color || (process.env.NO_COLOR ?? '') !== '',
    noInput: !g.input || envFlag('NO_INPUT'),
  };
}

/**
 * The program with the commands `args` (the user's arguments) needs registered, or all of them
 * when `args` is omitted.
 */
export async function buildProgram(
  onExit: (code: number) => void,
  args?: readonly string[],
): Promise<Command> {
  const program = new Command('ockam')
    .description('Ockam: end-to-end encrypted, mutually authenticated connections over any route')
    .version(VERSION, '-V, --version')
    .addOption(
      new Option(
        '--output <format>',
        'output format: plain, or json (the default with --jq or --compact-output)',
      ).choices(['plain', 'json']),
    )
    .option('--jq <filter>', 'a jq filter applied to the JSON output (implies --output json)')
    .option('--compact-output', 'print JSON on one line (implies --output json)')
    .option('-q, --quiet', 'print no logs, progress or prompts, only results and errors (or QUIET=true)')
    .option(
      '-v, --verbose',
      'more logging from nodes this command starts, repeatable: -v or -vv info, -vvv debug, -vvvv trace',
      (_v: string, n: number) => n + 1,
      0,
    )
    .option('--no-color', 'no colours in the output (or NO_COLOR)')
    .option('--no-input', 'never ask a question; fail instead (or NO_INPUT=true)')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  const run: Run = async (fn) => {
    const opts = globalOptions(program.opts<ParsedGlobals>());
    let jq: JqFilter | undefined;
    if (opts.jq !== undefined && opts.output === 'json') jq = await (await import('./jq.js')).loadJq();
    const [{ CliContext }, { Output }] = await Promise.all([import('./context.js'), import('./output.js')]);
    const ctx = new CliContext(new Output(opts, jq));
    try {
      await fn(ctx);
      onExit(0);
    } finally {
      ctx.close();
    }
  };

  const table = commandTable();
  const needed = modulesFor(args, table);
  if (needed === 'help' && table !== undefined) {
    // Names and descriptions are all `--help` shows of the commands that were not loaded.
    for (const e of table)
      program
        .command(e.name, e.hidden ? { hidden: true } : {})
        .aliases(e.aliases)
        .description(e.description);
  } else {
    const all = Object.keys(COMMAND_MODULES);
    const names = needed === 'help' ? all : needed;
    const registers = await Promise.all(names.map((m) => COMMAND_MODULES[m]!()));
    for (const register of registers) register(program, run);
    // A table older than the modules (tsc run without the rest of the build) may name the wrong
    // module for a command that moved: then load them all rather than call the command unknown.
    const word = args === undefined ? undefined : commandWord(args);
    if (
      word !== undefined &&
      names.length < all.length &&
      !program.commands.some((c) => c.name() === word || c.aliases().includes(word))
    ) {
      const rest = await Promise.all(all.filter((m) => !names.includes(m)).map((m) => COMMAND_MODULES[m]!()));
      for (const register of rest) register(program, run);
    }
  }
  for (const c of program.commands) c.exitOverride();
  return program;
}

/** Runs the command line `argv` (`node`, the script, then the user's arguments); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  try {
    const args = await substituteStdinPlaceholders(argv.slice(2));
    const program = await buildProgram((c) => (code = c), args);
    await program.parseAsync(args, { from: 'user' });
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
    return 1;
  }
}

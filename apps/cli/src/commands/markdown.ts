/**
 * `ockam markdown` and `ockam manpages`: the command reference, generated from the command
 * definitions themselves (descriptions, arguments, options, examples), so that it cannot say
 * anything the command does not do. The README's command table is `ockam markdown --table`; a test
 * fails when they differ.
 */
import type { EventEmitter } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Argument, Command, Option } from 'commander';
import type { CliContext } from '../context.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

/** One command of the tree, with what its reference page shows. */
export interface CommandPage {
  /** `['node', 'create']`; empty for `ockam` itself. */
  path: string[];
  description: string;
  usage: string;
  arguments: ReadonlyArray<{ name: string; required: boolean; description: string }>;
  options: ReadonlyArray<{ flags: string; description: string; defaultValue?: string }>;
  subcommands: string[];
  /** The examples its `--help` prints after the options, as written there. */
  examples: string;
}

/** The text a command's `--help` prints after its options (commander keeps it in listeners only). */
function afterHelp(cmd: Command): string {
  let text = '';
  for (const listener of (cmd as unknown as EventEmitter).listeners('afterHelp'))
    (listener as (context: { error: boolean; command: Command; write: (s: string) => void }) => void)({
      error: false,
      command: cmd,
      write: (s) => {
        text += s;
      },
    });
  return text.replace(/^\s*Examples:\s*\n/, '').replace(/\s+$/, '');
}

const argumentName = (a: Argument) => {
  const name = `${a.name()}${a.variadic ? '...' : ''}`;
  return a.required ? `<${name}>` : `[${name}]`;
};

function page(cmd: Command, path: string[]): CommandPage {
  const defaultOf = (o: Option) =>
    o.defaultValue === undefined || o.defaultValue === false ? undefined : String(o.defaultValue);
  return {
    path,
    description: cmd.description(),
    usage: `ockam ${[...path, cmd.usage()].join(' ')}`.trim(),
    arguments: cmd.registeredArguments.map((a) => ({
      name: argumentName(a),
      required: a.required,
      description: a.description,
    })),
    options: cmd.options
      .filter((o) => !o.hidden)
      .map((o) => {
        const d = defaultOf(o);
        return {
          flags: o.flags,
          description: o.description,
          ...(d === undefined ? {} : { defaultValue: d }),
        };
      }),
    subcommands: cmd.commands.map((c) => c.name()),
    examples: afterHelp(cmd),
  };
}

/** Every command under `root`, depth first, `ockam` itself first. */
export function commandPages(root: Command): CommandPage[] {
  const out: CommandPage[] = [];
  const walk = (cmd: Command, path: string[]) => {
    out.push(page(cmd, path));
    for (const c of cmd.commands) walk(c, [...path, c.name()]);
  };
  walk(root, []);
  return out;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

/** The table of every command that does something (no groups), as the README shows it. */
export function commandTable(pages: readonly CommandPage[]): string {
  const rows = pages
    .filter((p) => p.path.length > 0 && p.subcommands.length === 0)
    .map((p) => {
      const args = p.arguments.map((a) => a.name).join(' ');
      return `| \`${cell(['ockam', ...p.path, args].filter(Boolean).join(' '))}\` | ${cell(p.description)} |`;
    });
  return ['| command | what it does |', '| --- | --- |', ...rows].join('\n');
}

/** `ockam` itself, with the options every command takes (not --version, which only `ockam` has). */
const globalOptions = (root: CommandPage): CommandPage => ({
  ...root,
  options: root.options.filter((o) => !/--version\b/.test(o.flags)),
});

const fileName = (p: CommandPage) => (p.path.length === 0 ? 'ockam' : p.path.join('-'));

function markdownPage(p: CommandPage, global: CommandPage): string {
  const title = ['ockam', ...p.path].join(' ');
  const parts = [`# ${title}`, '', p.description, '', '## Usage', '', '```', p.usage, '```'];
  if (p.subcommands.length > 0)
    parts.push(
      '',
      '## Commands',
      '',
      ...p.subcommands.map((s) => `- [\`${title} ${s}\`](${[...p.path, s].join('-')}.md)`),
    );
  if (p.arguments.length > 0)
    parts.push(
      '',
      '## Arguments',
      '',
      '| argument | description |',
      '| --- | --- |',
      ...p.arguments.map((a) => `| \`${a.name}\` | ${cell(a.description)} |`),
    );
  const options = p.path.length === 0 ? p.options : [...p.options, ...global.options];
  if (options.length > 0)
    parts.push(
      '',
      '## Options',
      '',
      '| option | description | default |',
      '| --- | --- | --- |',
      ...options.map(
        (o) =>
          `| \`${cell(o.flags)}\` | ${cell(o.description)} | ${o.defaultValue === undefined ? '' : `\`${cell(o.defaultValue)}\``} |`,
      ),
    );
  if (p.examples !== '') parts.push('', '## Examples', '', '```sh', p.examples.replace(/^ {2}/gm, ''), '```');
  return `${parts.join('\n')}\n`;
}

/** roff text: backslashes and hyphens escaped, no line starting with a control character. */
const roff = (text: string) =>
  text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/^([.'])/gm, '\\&$1');

function manPage(p: CommandPage, global: CommandPage): string {
  const title = ['ockam', ...p.path].join('-');
  const lines = [
    `.TH "${title.toUpperCase()}" "1" "" "ockam" "Ockam Manual"`,
    '.SH NAME',
    `${roff(['ockam', ...p.path].join(' '))} \\- ${roff(p.description.split('\n')[0] ?? '')}`,
    '.SH SYNOPSIS',
    `.B ${roff(p.usage)}`,
    '.SH DESCRIPTION',
    roff(p.description),
  ];
  if (p.subcommands.length > 0) {
    lines.push('.SH COMMANDS');
    for (const s of p.subcommands) lines.push('.TP', `.B ${roff(s)}`, `See ${roff(`${title}-${s}`)}(1).`);
  }
  if (p.arguments.length > 0) {
    lines.push('.SH ARGUMENTS');
    for (const a of p.arguments) lines.push('.TP', `.B ${roff(a.name)}`, roff(a.description));
  }
  const options = p.path.length === 0 ? p.options : [...p.options, ...global.options];
  if (options.length > 0) {
    lines.push('.SH OPTIONS');
    for (const o of options)
      lines.push(
        '.TP',
        `.B ${roff(o.flags)}`,
        roff(o.defaultValue === undefined ? o.description : `${o.description} (default: ${o.defaultValue})`),
      );
  }
  if (p.examples !== '') lines.push('.SH EXAMPLES', '.nf', roff(p.examples), '.fi');
  return `${lines.join('\n')}\n`;
}

export function registerMarkdownCommands(program: Command, run: Run): void {
  program
    .command('markdown')
    .description(
      'Write the command reference as Markdown, a page per command and index.md with the table of all commands',
    )
    .option('-d, --dir <dir>', 'where to write the pages', './ockam_markdown_pages')
    .option('--table', 'print the table of all commands (the one in the README) and write nothing')
    .addHelpText('after', '\nExamples:\n  $ ockam markdown --dir docs/commands\n  $ ockam markdown --table')
    .action((opts: { dir: string; table?: boolean }) =>
      run(async (ctx) => {
        const pages = commandPages(program);
        const table = commandTable(pages);
        if (opts.table) {
          process.stdout.write(`${table}\n`);
          return;
        }
        const dir = resolve(opts.dir);
        mkdirSync(dir, { recursive: true });
        const global = globalOptions(pages[0]!);
        for (const p of pages) writeFileSync(join(dir, `${fileName(p)}.md`), markdownPage(p, global));
        writeFileSync(join(dir, 'index.md'), `# Ockam commands\n\n${table}\n`);
        ctx.out.result(
          `Wrote ${pages.length + 1} Markdown pages to ${dir}`,
          { dir, pages: pages.length + 1 },
          dir,
        );
      }),
    );

  program
    .command('manpages')
    .description('Write a man page per command (gzip-compressed unless --no-compression)')
    .option('-d, --dir <dir>', 'where to write the pages (e.g. ~/.local/share/man/man1)', './ockam_man_pages')
    .option('-n, --no-compression', 'write plain roff files instead of .gz')
    .addHelpText(
      'after',
      '\nExamples:\n  $ ockam manpages --dir ~/.local/share/man/man1 && man ockam-node-create',
    )
    .action((opts: { dir: string; compression: boolean }) =>
      run(async (ctx) => {
        const pages = commandPages(program);
        const dir = resolve(opts.dir);
        mkdirSync(dir, { recursive: true });
        const global = globalOptions(pages[0]!);
        for (const p of pages) {
          const name = `${fileName(p)}.1`.replace(/^(?!ockam)/, 'ockam-');
          const text = manPage(p, global);
          if (opts.compression) writeFileSync(join(dir, `${name}.gz`), gzipSync(text));
          else writeFileSync(join(dir, name), text);
        }
        ctx.out.result(`Wrote ${pages.length} man pages to ${dir}`, { dir, pages: pages.length }, dir);
      }),
    );
}

import { OckamError } from '@ockam/core';
import { type Command, Option } from 'commander';
import type { CliContext } from '../context.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

interface Node {
  path: string[];
  subcommands: string[];
  options: string[];
}

function walk(cmd: Command, path: string[], out: Node[]): void {
  const options = cmd.options.flatMap((o) => [o.long, o.short].filter((x): x is string => !!x));
  out.push({ path, subcommands: cmd.commands.map((c) => c.name()), options: [...options, '--help'] });
  for (const c of cmd.commands) walk(c, [...path, c.name()], out);
}

function bash(nodes: Node[], globals: string[]): string {
  const cases = nodes
    .map(
      (
        n,
      ) => `    "${n.path.join(' ')}") words="${[...new Set([...n.subcommands, ...n.options, ...globals])].join(' ')}"
 ;;`,
    )
    .join('\n');
  return `# bash completion for ockam: eval "$(ockam completion bash)"
_ockam() {
  local cur path="" w words
  cur="\${COMP_WORDS[COMP_CWORD]}"
  for w in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case "$w" in -*) ;; *) if [ -z "$path" ]; then candidate="$w"; else candidate="$path $w"; fi
      case " $(_ockam_paths) " in *"|$candidate|"*) path="$candidate" ;; esac ;;
    esac
  done
  case "$path" in
${cases}
  esac
  COMPREPLY=( $(compgen -W "$words" -- "$cur") )
}
_ockam_paths() { echo "${nodes.map((n) => `|${n.path.join(' ')}|`).join(' ')}"; }
complete -F _ockam ockam
`;
}

function zsh(nodes: Node[], globals: string[]): string {
  return `#compdef ockam
# zsh completion for ockam: ockam completion zsh > "\${fpath[1]}/_ockam"
${bash(nodes, globals).replace('# bash completion for ockam: eval "$(ockam completion bash)"\n', '')}`.replace(
    'complete -F _ockam ockam',
    'autoload -U +X bashcompinit && bashcompinit\ncomplete -F _ockam ockam',
  );
}

function fish(nodes: Node[], globals: string[]): string {
  const lines = [
    '# fish completion for ockam: ockam completion fish > ~/.config/fish/completions/ockam.fish',
    'complete -c ockam -f',
  ];
  for (const n of nodes) {
    const cond =
      n.path.length === 0
        ? '__fish_use_subcommand'
        : `__fish_seen_subcommand_from ${n.path[n.path.length - 1]}`;
    for (const s of n.subcommands) lines.push(`complete -c ockam -n '${cond}' -a '${s}'`);
    for (const o of n.options)
      if (o.startsWith('--')) lines.push(`complete -c ockam -n '${cond}' -l '${o.slice(2)}'`);
  }
  for (const g of globals) if (g.startsWith('--')) lines.push(`complete -c ockam -l '${g.slice(2)}'`);
  return `${lines.join('\n')}\n`;
}

export function registerCompletionCommand(program: Command, run: Run): void {
  program
    .command('completion')
    .description('Print a shell completion script (bash, zsh or fish)')
    .argument('[shell]', 'bash, zsh or fish (or give --shell)')
    .addOption(new Option('-s, --shell <shell>', 'the shell, as in Ockam').choices(['bash', 'zsh', 'fish']))
    .addHelpText(
      'after',
      '\nExamples:\n  $ eval "$(ockam completion --shell bash)"\n  $ ockam completion --shell zsh > ~/.zfunc/_ockam\n  $ ockam completion --shell fish > ~/.config/fish/completions/ockam.fish',
    )
    .action((positional: string | undefined, opts: { shell?: string }) =>
      run(async () => {
        if (positional !== undefined && opts.shell !== undefined && positional !== opts.shell)
          throw new OckamError(
            'application',
            'invalid',
            `Give the shell once: '${positional}' or --shell ${opts.shell}`,
          );
        const shell = opts.shell ?? positional;
        if (shell === undefined)
          throw new OckamError('application', 'invalid', 'Give the shell: --shell bash, zsh or fish');
        const nodes: Node[] = [];
        walk(program, [], nodes);
        const globals = nodes[0]!.options;
        nodes[0]!.options = [];
        const script =
          shell === 'bash'
            ? bash(nodes, globals)
            : shell === 'zsh'
              ? zsh(nodes, globals)
              : shell === 'fish'
                ? fish(nodes, globals)
                : undefined;
        if (script === undefined)
          throw new OckamError(
            'application',
            'unsupported',
            `Unsupported shell '${shell}': use bash, zsh or fish`,
          );
        process.stdout.write(script);
      }),
    );
}

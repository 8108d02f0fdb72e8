/**
 * How a command prints, with Ockam's global flags (`ockam_command/src/global_args.rs` and
 * `ockam_api/src/ui/terminal/mod.rs` at 0.139): plain text for people, `--output json` for
 * scripts (pretty unless `--compact-output`, filtered by `--jq`), and a "machine" form when stdout
 * is not a terminal. `--quiet` (or `QUIET`) silences logs, progress and prompts, never results.
 */
export type OutputFormat = 'plain' | 'json';

export interface GlobalOptions {
  output: OutputFormat;
  quiet: boolean;
  /** How many times -v was given (Ockam's count: -v and -vv info, -vvv debug, -vvvv trace). */
  verbose: number;
  /** A jq filter applied to the JSON result (`--jq`). */
  jq?: string;
  /** JSON on one line (`--compact-output`). */
  compact?: boolean;
  /** `--no-color` or `NO_COLOR`: we print no colours today; commands that add some must ask. */
  noColor?: boolean;
  /** `--no-input` or `NO_INPUT`: never prompt. */
  noInput?: boolean;
}

/** Applies a jq filter to a JSON value and returns jq's output (one JSON text per line). */
export type JqFilter = (json: unknown, filter: string, compact: boolean) => string;

export class Output {
  readonly format: OutputFormat;
  readonly quiet: boolean;
  readonly verbose: number;
  readonly jq: string | undefined;
  readonly compact: boolean;
  readonly noColor: boolean;
  readonly noInput: boolean;
  readonly #jqFilter: JqFilter | undefined;
  #muted = 0;

  constructor(opts: GlobalOptions, jqFilter?: JqFilter) {
    this.format = opts.output;
    this.quiet = opts.quiet;
    this.verbose = opts.verbose;
    this.jq = opts.jq;
    this.compact = opts.compact === true;
    this.noColor = opts.noColor === true;
    this.noInput = opts.noInput === true;
    this.#jqFilter = jqFilter;
    if (this.jq !== undefined && this.format === 'json' && jqFilter === undefined)
      throw new TypeError('--jq needs a jq filter function');
  }

  /**
   * Prints a result: `plain` text for a terminal, `json` as JSON with --output json (or --jq,
   * --compact-output), and `machine` (when given) when stdout is not a terminal, so that scripts
   * can pipe one command's result into the next (`ockam secure-channel create … | ockam message
   * send --to -/service/echo`), as Ockam does.
   */
  result(plain: string | (() => string), json: unknown, machine?: string): void {
    if (this.#muted > 0) return;
    if (this.format === 'json') {
      process.stdout.write(`${this.json(json)}\n`);
      return;
    }
    if (machine !== undefined && !process.stdout.isTTY) {
      process.stdout.write(`${machine}\n`);
      return;
    }
    const text = typeof plain === 'function' ? plain() : plain;
    if (text !== '') process.stdout.write(`${text}\n`);
  }

  /** A value as this command prints JSON: through --jq, pretty unless --compact-output. */
  json(value: unknown): string {
    if (this.jq !== undefined && this.#jqFilter)
      return this.#jqFilter(value, this.jq, this.compact).trimEnd();
    return this.compact ? JSON.stringify(value) : JSON.stringify(value, null, 2);
  }

  /**
   * Runs `fn` with results not printed: for a command made of other commands (`ockam run`), which
   * prints its own summary. Warnings and errors still show.
   */
  async muted<T>(fn: () => Promise<T>): Promise<T> {
    this.#muted++;
    try {
      return await fn();
    } finally {
      this.#muted--;
    }
  }

  /** A warning, on stderr (it never mixes with JSON on stdout); silent with --quiet. */
  warn(text: string): void {
    if (!this.quiet) process.stderr.write(`Warning: ${text}\n`);
  }

  /** Progress for people, on stderr; silent with --quiet or --output json. */
  info(text: string): void {
    if (!this.quiet && this.format !== 'json' && this.#muted === 0) process.stderr.write(`${text}\n`);
  }

  /** Whether the command may ask a question (Ockam: not with --no-input, --quiet or no terminal). */
  canPrompt(): boolean {
    return !this.noInput && !this.quiet && process.stderr.isTTY === true && process.stdin.isTTY === true;
  }
}

/** Renders rows as an aligned table. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** Parses durations such as `500ms`, `10s`, `5m`, `1h`, `2d`; a bare number is seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new Error(`Invalid duration '${text}': use a number with ms, s, m, h or d (e.g. 10s)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit]!;
  return Math.round(n * factor);
}

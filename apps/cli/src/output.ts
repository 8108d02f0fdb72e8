/** How a command prints: plain text for people, `--output json` for scripts, `--quiet` for neither. */
export type OutputFormat = 'plain' | 'json';

export interface GlobalOptions {
  output: OutputFormat;
  quiet: boolean;
  /** How many times -v was given. */
  verbose: number;
}

export class Output {
  readonly format: OutputFormat;
  readonly quiet: boolean;
  readonly verbose: number;

  constructor(opts: GlobalOptions) {
    this.format = opts.output;
    this.quiet = opts.quiet;
    this.verbose = opts.verbose;
  }

  /**
   * Prints a result: `plain` text for a terminal, `json` as JSON with --output json, and `machine`
   * (when given) when stdout is not a terminal, so that scripts can pipe one command's result into
   * the next (`ockam secure-channel create … | ockam message send --to -/service/echo`), as Ockam does.
   */
  result(plain: string | (() => string), json: unknown, machine?: string): void {
    if (this.format === 'json') {
      process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
      return;
    }
    if (this.quiet) return;
    if (machine !== undefined && !process.stdout.isTTY) {
      process.stdout.write(`${machine}\n`);
      return;
    }
    const text = typeof plain === 'function' ? plain() : plain;
    if (text !== '') process.stdout.write(`${text}\n`);
  }

  /** A warning, on stderr (it never mixes with JSON on stdout); silent with --quiet. */
  warn(text: string): void {
    if (!this.quiet) process.stderr.write(`Warning: ${text}\n`);
  }

  /** Progress for people, on stderr; silent with --quiet or --output json. */
  info(text: string): void {
    if (!this.quiet && this.format !== 'json') process.stderr.write(`${text}\n`);
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

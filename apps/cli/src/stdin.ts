/**
 * Ockam's `-` placeholder (`replace_hyphen_with_stdin` in `ockam_command/src/arguments.rs`, applied
 * to every argument before parsing): an argument that contains `/-` has every `/-` replaced by a
 * route read from stdin (`/a/b`); otherwise one that contains `-/` has every `-/` replaced by it
 * followed by a slash (`/a/b/`). Each such argument reads the next line of stdin. So
 * `ockam secure-channel create … | ockam message send hi --to -/service/uppercase` and
 * `ockam relay create … | ockam message send hi --to /node/n2/-/service/uppercase` compose.
 */
import { StringDecoder } from 'node:string_decoder';

/** A route read from stdin is one line; anything longer is not a route. */
const MAX_LINE = 64 * 1024;

/** Where placeholder routes come from: the next line, or undefined at the end of input. */
export interface LineSource {
  next(): Promise<string | undefined>;
}

/** Lines of `stream` (stdin by default), read only as far as they are asked for. */
export function streamLines(stream: NodeJS.ReadableStream = process.stdin): LineSource {
  const decoder = new StringDecoder('utf8');
  let buffer = '';
  let ended = false;
  let chunks: AsyncIterator<Buffer | string> | undefined;
  return {
    async next() {
      for (;;) {
        const nl = buffer.indexOf('\n');
        if (nl >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          return line;
        }
        if (buffer.length > MAX_LINE)
          throw new Error(`A route read from stdin is longer than ${MAX_LINE} characters`);
        if (ended) {
          if (buffer === '') return undefined;
          const line = buffer;
          buffer = '';
          return line;
        }
        chunks ??= (stream as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
        const r = await chunks.next();
        if (r.done) {
          ended = true;
          buffer += decoder.end();
        } else buffer += typeof r.value === 'string' ? r.value : decoder.write(r.value);
      }
    },
  };
}

/** `/a/b` from a line such as ` /a//b/ ` (Ockam drops empty segments). */
function routeOf(line: string): string {
  return line
    .trim()
    .split('/')
    .filter((s) => s !== '')
    .map((s) => `/${s}`)
    .join('');
}

export function hasStdinPlaceholder(arg: string): boolean {
  return arg.includes('/-') || arg.includes('-/');
}

/**
 * Replaces the placeholders in `args` (user arguments, without `node` and the script) with routes
 * read from `lines`; `args` without a placeholder never touch stdin.
 */
export async function substituteStdinPlaceholders(
  args: string[],
  lines: () => LineSource = stdinLines,
): Promise<string[]> {
  if (!args.some(hasStdinPlaceholder)) return args;
  let source: LineSource | undefined;
  const out: string[] = [];
  for (const arg of args) {
    if (!hasStdinPlaceholder(arg)) {
      out.push(arg);
      continue;
    }
    source ??= lines();
    const line = await source.next();
    const route = line === undefined ? '' : routeOf(line);
    if (route === '')
      throw new Error(
        `'${arg}' takes a route from stdin in place of '-', but stdin ${line === undefined ? 'ended' : 'had an empty line'} (did the command before the pipe fail?)`,
      );
    out.push(arg.includes('/-') ? arg.replaceAll('/-', route) : arg.replaceAll('-/', `${route}/`));
  }
  return out;
}

/** The placeholder source for the `ockam` process: stdin, unless it is a terminal. */
export function stdinLines(): LineSource {
  if (process.stdin.isTTY)
    throw new Error(
      "An argument with '-' in a route (e.g. '-/service/x') reads the route from stdin, but stdin is a terminal; pipe a route into it",
    );
  return streamLines(process.stdin);
}

/** `--to -`, a whole route from stdin (ours; Ockam's placeholder needs a `/` beside the `-`). */
export async function readStdinRoute(): Promise<string> {
  const route = routeOf((await stdinLines().next()) ?? '');
  if (route === '')
    throw new Error(
      "'--to -' expected a route on stdin, but stdin was empty (did the command before the pipe fail?)",
    );
  return route;
}

/** Reads a route prefix from stdin for `--to -/…` (whitespace trimmed). */
export async function readStdinRoutePrefix(): Promise<string> {
  if (process.stdin.isTTY)
    throw new Error("'--to -…' reads a route from stdin, but stdin is a terminal; pipe a route into it");
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '')
    throw new Error(
      "'--to -…' expected a route on stdin, but stdin was empty (did the command before the pipe fail?)",
    );
  return text;
}

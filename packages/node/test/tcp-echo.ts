import { connect, createServer, type Server } from 'node:net';

/** A TCP server that answers every chunk with `echo:` and the chunk. */
export async function echoServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.on('data', (d) => s.write(`echo:${d}`)).on('error', () => {}));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

/** Connects to `port`, writes `message`, and returns what came back before the server closed or `until` matched. */
export function exchange(port: number, message: string, until = /echo:/): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.on('connect', () => s.write(message));
    s.on('data', (d) => {
      got += d;
      if (until.test(got)) s.end();
    });
    s.on('close', () => resolve(got));
    // A refused portal connection may end in a reset: what came before it is the answer.
    s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolve(got) : reject(e)));
  });
}

// Bench target servers, run as a child process so they do not share the bench's event loop.
//   node echo-server.mjs echo   every byte received is written back (half-close is passed on)
//   node echo-server.mjs sink   bulk sink (used when iperf3 is absent): counts the bytes of a
//                               connection and, when the sender half-closes, answers with the
//                               count as 8 bytes big-endian
//   node echo-server.mjs forward PORT
//                               a plain forwarding hop: each connection is piped both ways to
//                               127.0.0.1:PORT, with no framing and no crypto (the reference
//                               for what one more process on the path costs)
// Prints {"port":N} on stdout once listening on 127.0.0.1.
import { connect, createServer } from 'node:net';

const mode = process.argv[2] ?? 'echo';
const sockets = new Set();

const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => socket.destroy());
  if (mode === 'forward') {
    const target = connect({ host: '127.0.0.1', port: Number(process.argv[3]), noDelay: true });
    sockets.add(target);
    target.on('close', () => sockets.delete(target));
    target.on('error', () => socket.destroy());
    socket.on('error', () => target.destroy());
    socket.on('close', () => target.destroy());
    target.on('close', () => socket.destroy());
    socket.pipe(target);
    target.pipe(socket);
  } else if (mode === 'sink') {
    let count = 0n;
    socket.on('data', (d) => (count += BigInt(d.length)));
    socket.on('end', () => {
      const reply = Buffer.alloc(8);
      reply.writeBigUInt64BE(count);
      socket.end(reply);
    });
  } else {
    socket.pipe(socket);
  }
});
server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
const stop = () => {
  server.close();
  for (const s of sockets) s.destroy();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

// Reference peer: plain node:net with a 4-byte big-endian length prefix. A frame whose first byte
// is 0 is echoed back; 2 is counted (one-way); 1 is counted and answered with the count.
import { createServer } from 'node:net';

const server = createServer({ noDelay: true }, (socket) => {
  let chunks = [];
  let buffered = 0;
  let count = 0;
  const take = (n) => {
    const first = chunks[0];
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) chunks.shift();
      else chunks[0] = first.subarray(n);
      buffered -= n;
      return out;
    }
    const all = Buffer.concat(chunks);
    chunks = all.length > n ? [all.subarray(n)] : [];
    buffered -= n;
    return all.subarray(0, n);
  };
  let need = -1;
  socket.on('data', (chunk) => {
    chunks.push(chunk);
    buffered += chunk.length;
    socket.cork();
    for (;;) {
      if (need < 0) {
        if (buffered < 4) break;
        need = take(4).readUInt32BE(0);
      }
      if (buffered < need) break;
      const frame = take(need);
      need = -1;
      if (frame[0] === 0) {
        const header = Buffer.allocUnsafe(4);
        header.writeUInt32BE(frame.length);
        socket.write(header);
        socket.write(frame);
      } else {
        count++;
        if (frame[0] === 1) {
          const reply = Buffer.alloc(8);
          reply.writeUInt32BE(4);
          reply.writeUInt32BE(count, 4);
          count = 0;
          socket.write(reply);
        }
      }
    }
    process.nextTick(() => socket.uncork());
  });
  socket.on('error', () => {});
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));

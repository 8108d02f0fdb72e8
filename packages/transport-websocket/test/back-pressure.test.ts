import { describe, expect, it } from 'vitest';
import { testNode, waitFor } from './helpers.js';

describe('back-pressure', () => {
  it('pauses reading while a slow service cannot keep up, and bounds what is buffered', async () => {
    // A server whose only service takes 2 ms per message, with a tiny mailbox.
    const server = testNode('server', { receiveBufferBytes: 64 * 1024 });
    const listener = await server.ws.listen('127.0.0.1:0');
    let handled = 0;
    server.node.startWorker(
      'slow',
      {
        async handleMessage() {
          await new Promise((r) => setTimeout(r, 2));
          handled++;
        },
      },
      { capacity: 4 },
    );
    server.node.flowControls.addConsumer('slow', listener.flowControlId);
    const client = testNode('client', { sendBufferBytes: 256 * 1024 });
    try {
      const conn = await client.ws.connect(`127.0.0.1:${listener.address.port}`);
      const c = client.node.client();
      const payload = new Uint8Array(16 * 1024);
      let maxServerBuffered = 0;
      let paused = false;
      const sample = setInterval(() => {
        const s = server.ws.connections()[0]?.stats();
        if (s) {
          maxServerBuffered = Math.max(maxServerBuffered, s.inboundBufferedBytes);
          paused ||= s.readPaused;
        }
      }, 1);
      const total = 300;
      try {
        for (let i = 0; i < total; i++) await c.send([conn.senderAddress, 'slow'], payload);
        await waitFor(() => handled === total, 'all handled', 20_000);
      } finally {
        clearInterval(sample);
      }
      expect(paused).toBe(true);
      // The receive queue stays near its threshold (plus what was in flight when reading paused),
      // far below the 4.8 MB sent.
      expect(maxServerBuffered).toBeLessThan(2 * 1024 * 1024);
    } finally {
      await client.stop();
      await server.stop();
    }
  });

  it('holds the sender worker back while the socket buffer is over its mark', async () => {
    const server = testNode('server');
    const listener = await server.ws.listen('127.0.0.1:0');
    let received = 0;
    server.node.startWorker('sink', {
      handleMessage() {
        received++;
      },
    });
    server.node.flowControls.addConsumer('sink', listener.flowControlId);
    const client = testNode('client', { sendBufferBytes: 64 * 1024 });
    try {
      const conn = await client.ws.connect(`127.0.0.1:${listener.address.port}`);
      const sender = client.node.client();
      const payload = new Uint8Array(256 * 1024);
      let maxOut = 0;
      for (let i = 0; i < 40; i++) {
        await sender.send([conn.senderAddress, 'sink'], payload);
        maxOut = Math.max(maxOut, conn.stats().outboundBufferedBytes);
      }
      await waitFor(() => received === 40, 'all received', 20_000);
      // bufferedAmount never grows with the number of messages queued: the worker waits.
      expect(maxOut).toBeLessThan(8 * 1024 * 1024);
      expect(conn.stats().messagesOut).toBe(40);
    } finally {
      await client.stop();
      await server.stop();
    }
  });
});

// @ockam/brokers by path, not as a workspace dependency: it depends (through @ockam/interop
// and @ockam/hardening) on the command, which depends on this package, and turbo refuses cycles.

import { brokerSkipReason, startRabbitMQ } from '@ockam/brokers';
import amqplib from 'amqplib';
import { AmqpBroker } from '../src/amqp.js';
import { brokerHopSuite } from './suite.js';

// Plain amqplib, not our adapter: what any client with access to the broker can do.
async function withChannel<T>(url: string, f: (ch: amqplib.Channel) => Promise<T>): Promise<T> {
  const conn = await amqplib.connect(url);
  try {
    const ch = await conn.createConfirmChannel();
    const out = await f(ch);
    await ch.waitForConfirms();
    return out;
  } finally {
    await conn.close();
  }
}

brokerHopSuite('RabbitMQ queues as route hops', brokerSkipReason('rabbitmq'), async () => {
  const rabbit = await startRabbitMQ();
  return {
    kind: 'amqp' as const,
    client: () => new AmqpBroker({ url: rabbit.url }),
    write: (name, messages) =>
      withChannel(rabbit.url, async (ch) => {
        await ch.assertQueue(name, { durable: true });
        for (const m of messages) ch.sendToQueue(name, Buffer.from(m));
      }),
    readAll: (name) =>
      withChannel(rabbit.url, async (ch) => {
        const parts: Buffer[] = [];
        for (;;) {
          const m = await ch.get(name, { noAck: true });
          if (m === false) break;
          parts.push(m.content);
        }
        return { count: parts.length, bytes: Buffer.concat(parts) };
      }),
    restart: () => rabbit.restart(),
    stop: () => rabbit.stop({ remove: true }),
  };
});

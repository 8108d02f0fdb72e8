/**
 * The brokers start, serve real clients (Kafka's own console tools, kcat, a raw AMQP handshake),
 * keep their data across a restart, and stop.
 */
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import {
  brokerSkipReason,
  type KafkaBroker,
  kafkaClusterId,
  kafkaTool,
  kcat,
  type RabbitMQBroker,
  startKafka,
  startRabbitMQ,
} from '../src/index.js';

const kafkaSkip = brokerSkipReason('kafka') ?? brokerSkipReason('kcat');
if (kafkaSkip) console.warn(`skipping the Kafka tests: ${kafkaSkip}`);
const rabbitSkip = brokerSkipReason('rabbitmq');
if (rabbitSkip) console.warn(`skipping the RabbitMQ tests: ${rabbitSkip}`);

describe('kafkaClusterId', () => {
  it("never starts with '-', which StorageTool would read as an option", () => {
    // 0xf8 as the first byte encodes to '-' in base64url: the first two draws are refused.
    const draws = [new Uint8Array(16).fill(0xf8), new Uint8Array(16).fill(0xfb), new Uint8Array(16).fill(7)];
    let n = 0;
    const id = kafkaClusterId(() => draws[n++] as Uint8Array);
    expect(n).toBe(3);
    expect(id).toBe(Buffer.from(draws[2] as Uint8Array).toString('base64url'));
    expect(id).toHaveLength(22);
    for (let i = 0; i < 2000; i++) expect(kafkaClusterId().startsWith('-')).toBe(false);
  });
});

describe.skipIf(kafkaSkip)('Kafka 3.7 (KRaft)', () => {
  let kafka: KafkaBroker | undefined;
  afterAll(async () => kafka?.stop({ remove: true }));

  it('round-trips records with its console tools and kcat, and keeps them across a restart', async () => {
    kafka = await startKafka({ partitions: 2 });
    const produced = await kafkaTool(
      'kafka.tools.ConsoleProducer',
      ['--bootstrap-server', kafka.bootstrap, '--topic', 'greetings'],
      { input: 'hello\nworld\n' },
    );
    expect(produced.code, produced.stderr).toBe(0);
    const read = async () => {
      const r = await kcat([
        '-b',
        kafka?.bootstrap ?? '',
        '-C',
        '-t',
        'greetings',
        '-e',
        '-q',
        '-f',
        '%s\\n',
      ]);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.split('\n').filter(Boolean).sort();
    };
    expect(await read()).toEqual(['hello', 'world']);
    // Two partitions, as asked, with segments under logDir.
    expect(
      readdirSync(kafka.logDir)
        .filter((d) => d.startsWith('greetings-'))
        .sort(),
    ).toEqual(['greetings-0', 'greetings-1']);
    await kafka.restart();
    expect(await read()).toEqual(['hello', 'world']);
  });
});

describe.skipIf(rabbitSkip)('RabbitMQ', () => {
  let rabbit: RabbitMQBroker | undefined;
  afterAll(async () => rabbit?.stop({ remove: true }));

  const connectionStart = (port: number) =>
    new Promise<number>((done, fail) => {
      const s = connect({ host: '127.0.0.1', port }, () =>
        s.write(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1')),
      );
      s.once('error', fail);
      s.once('data', (d: Buffer) => {
        s.destroy();
        // A method frame (type 1) on channel 0 carrying Connection.Start (class 10, method 10).
        done(d[0] === 1 && d.readUInt16BE(7) === 10 && d.readUInt16BE(9) === 10 ? 1 : 0);
      });
    });

  it('answers AMQP 0-9-1, lists its queues, and comes back after a restart', async () => {
    rabbit = await startRabbitMQ();
    expect(rabbit.url).toMatch(/^amqp:\/\/guest:guest@127\.0\.0\.1:\d+$/);
    expect(await connectionStart(rabbit.port)).toBe(1);
    expect(rabbit.ctl(['status'])).toContain(rabbit.nodeName);
    await rabbit.restart();
    expect(await connectionStart(rabbit.port)).toBe(1);
  });
});

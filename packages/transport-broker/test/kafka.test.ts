// @ockam/brokers by path, not as a workspace dependency: it depends (through @ockam/interop
// and @ockam/hardening) on the command, which depends on this package, and turbo refuses cycles.

import { brokerSkipReason, kcat, startKafka } from '@ockam/brokers';
import { Producer } from '@platformatic/kafka';
import { KafkaBroker } from '../src/kafka.js';
import { brokerHopSuite } from './suite.js';

brokerHopSuite(
  'Kafka topics as route hops',
  brokerSkipReason('kafka') ?? brokerSkipReason('kcat'),
  async () => {
    const kafka = await startKafka();
    // A producer of its own, not our adapter: what any client that may write to the topic can do.
    const raw = new Producer({
      clientId: 'raw-writer',
      bootstrapBrokers: [kafka.bootstrap],
      autocreateTopics: true,
    });
    return {
      kind: 'kafka' as const,
      client: () => new KafkaBroker({ bootstrapServers: [kafka.bootstrap] }),
      write: async (topic, messages) => {
        await raw.send({ messages: messages.map((m) => ({ topic, value: Buffer.from(m) })) });
      },
      readAll: async (topic) => {
        // kcat (librdkafka) reads the topic from the start, outside any consumer group.
        const read = (format: string) =>
          kcat(['-b', kafka.bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', format]);
        const values = await read('%s');
        const offsets = await read('%o\\n');
        if (values.code !== 0 || offsets.code !== 0)
          throw new Error(`kcat failed: ${values.stderr}${offsets.stderr}`);
        return {
          count: offsets.stdout.split('\n').filter((l) => l !== '').length,
          bytes: Buffer.from(values.stdout, 'latin1'),
        };
      },
      restart: () => kafka.restart(),
      stop: async () => {
        await raw.close(true);
        await kafka.stop({ remove: true });
      },
    };
  },
);

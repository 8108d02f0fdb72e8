// @ockam/brokers by path, not as a workspace dependency: it depends (through @ockam/interop
// and @ockam/hardening) on the command, which depends on this package, and turbo refuses cycles.
import { brokerSkipReason, startKafka } from '@ockam/brokers';
import { brokerHopCommands } from './broker-hops.js';

brokerHopCommands(
  'kafka-listener and kafka-connection against a real Kafka',
  brokerSkipReason('kafka'),
  async () => {
    const kafka = await startKafka();
    return {
      kind: 'kafka',
      brokerArgs: ['--bootstrap-server', kafka.bootstrap],
      nameFlag: '--topic',
      stop: () => kafka.stop({ remove: true }),
    };
  },
);

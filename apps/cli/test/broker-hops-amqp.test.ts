// @ockam/brokers by path, not as a workspace dependency: it depends (through @ockam/interop
// and @ockam/hardening) on the command, which depends on this package, and turbo refuses cycles.
import { brokerSkipReason, startRabbitMQ } from '@ockam/brokers';
import { brokerHopCommands } from './broker-hops.js';

brokerHopCommands(
  'amqp-listener and amqp-connection against a real RabbitMQ',
  brokerSkipReason('rabbitmq'),
  async () => {
    const rabbit = await startRabbitMQ();
    return {
      kind: 'amqp',
      brokerArgs: ['--url', rabbit.url],
      nameFlag: '--queue',
      secret: 'guest:guest',
      stop: () => rabbit.stop({ remove: true }),
    };
  },
);

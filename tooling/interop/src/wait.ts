/** Waiting for conditions, now kept with the broker harness (which needs it too). */
export { until } from '@ockam/brokers';

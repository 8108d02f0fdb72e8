/** A free port on 127.0.0.1, now kept with the broker harness (which needs it too). */
export { freePort } from '@ockam/brokers';

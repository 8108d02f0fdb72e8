import { KafkaInterceptError } from './errors.js';
import type { KafkaConnectionInterceptor, KafkaInletHooks, KafkaInletOptions } from './types.js';

/** The kafka-inlet's interception: one instance per inlet service, `connection()` per client connection. */
export class KafkaInletInterceptor {
  readonly #hooks: KafkaInletHooks;
  readonly #options: KafkaInletOptions;

  constructor(hooks: KafkaInletHooks, options: KafkaInletOptions) {
    this.#hooks = hooks;
    this.#options = options;
  }

  connection(): KafkaConnectionInterceptor {
    void this.#hooks;
    void this.#options;
    throw new KafkaInterceptError('unsupported', 'KafkaInletInterceptor is not implemented yet');
  }
}

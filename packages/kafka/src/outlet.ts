import { KafkaInterceptError } from './errors.js';
import type { KafkaConnectionInterceptor, KafkaOutletHooks, KafkaOutletOptions } from './types.js';

/** The kafka-outlet's interception: watches Metadata responses only, forwards every byte unchanged. */
export class KafkaOutletInterceptor {
  readonly #hooks: KafkaOutletHooks;
  readonly #options: KafkaOutletOptions;

  constructor(hooks: KafkaOutletHooks, options: KafkaOutletOptions = {}) {
    this.#hooks = hooks;
    this.#options = options;
  }

  connection(): KafkaConnectionInterceptor {
    void this.#hooks;
    void this.#options;
    throw new KafkaInterceptError('unsupported', 'KafkaOutletInterceptor is not implemented yet');
  }
}

/**
 * `@ockam/transport-broker/amqp`: RabbitMQ (AMQP 0-9-1) queues as route hops, over `amqplib`.
 *
 * - An inbox is a durable queue the node declares and consumes with manual acknowledgements and
 *   a prefetch of the transport's queue bound: RabbitMQ never hands over more unacknowledged
 *   messages than that, which is the back-pressure. A message is acknowledged once the node has
 *   routed it (or dropped it), so one lost with a connection is delivered again (at least once);
 *   the secure channel's replay window drops the duplicate.
 * - Publishing goes to the default exchange on a confirm channel, persistent, and waits for the
 *   broker's confirm: the sender takes its next message once RabbitMQ took this one. A message to
 *   a queue that does not exist is discarded by RabbitMQ.
 * - A lost connection is reopened (backoff 0.25 s to 5 s) and every inbox consumed again;
 *   publishing meanwhile fails at once (counted as `publish-failed`).
 *
 * @example
 * ```ts
 * import { BrokerTransport } from '@ockam/transport-broker';
 * import { AmqpBroker } from '@ockam/transport-broker/amqp';
 * const amqp = new BrokerTransport(node, new AmqpBroker({ url: 'amqp://127.0.0.1:5672' }));
 * node.registerTransport(amqp);
 * await amqp.listen('ockam.bob');
 * ```
 */
import { AMQP } from '@ockam/core';
import amqplib from 'amqplib';
import type { BrokerClient, BrokerDelivery, InboxSubscription, SubscribeOptions } from './broker-client.js';
import { BrokerTransportError } from './errors.js';

type ChannelModel = Awaited<ReturnType<typeof amqplib.connect>>;
type ConfirmChannel = Awaited<ReturnType<ChannelModel['createConfirmChannel']>>;
type Channel = Awaited<ReturnType<ChannelModel['createChannel']>>;

export interface AmqpBrokerOptions {
  /** `amqp://user:password@host:port/vhost`; the password never reaches logs or listings. */
  url: string;
}

const noop = (): void => {};
const MIN_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 5_000;

interface Subscription {
  readonly inbox: string;
  readonly options: SubscribeOptions;
  readonly deliver: (d: BrokerDelivery) => void;
  channel: Channel | undefined;
}

export class AmqpBroker implements BrokerClient {
  readonly kind = 'amqp' as const;
  readonly type = AMQP;
  readonly endpoint: string;
  readonly #url: string;
  readonly #subs = new Set<Subscription>();
  #model: ChannelModel | undefined;
  #publisher: ConfirmChannel | undefined;
  #connecting: Promise<void> | undefined;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #backoff = MIN_BACKOFF_MS;
  #closed = false;

  constructor(options: AmqpBrokerOptions) {
    this.#url = options.url;
    this.endpoint = redact(options.url);
  }

  async subscribe(
    inbox: string,
    options: SubscribeOptions,
    deliver: (d: BrokerDelivery) => void,
  ): Promise<InboxSubscription> {
    const sub: Subscription = { inbox, options, deliver, channel: undefined };
    await this.#ensure();
    await this.#open(sub, this.#model!);
    this.#subs.add(sub);
    return {
      // Prefetch bounds what RabbitMQ hands over; acknowledgements wait until the node is done.
      pause: noop,
      resume: noop,
      close: async () => {
        this.#subs.delete(sub);
        await sub.channel?.close().catch(noop);
        sub.channel = undefined;
      },
    };
  }

  async publish(name: string, bytes: Uint8Array): Promise<void> {
    const ch = this.#publisher;
    if (ch === undefined) {
      this.#reconnectSoon();
      throw new BrokerTransportError('io', `AMQP connection to ${this.endpoint} is down`);
    }
    const content = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    await new Promise<void>((resolve, reject) => {
      try {
        ch.sendToQueue(name, content, { persistent: true }, (err: unknown) =>
          err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(),
        );
      } catch (e) {
        reject(e);
      }
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    const model = this.#model;
    this.#model = undefined;
    this.#publisher = undefined;
    await model?.close().catch(noop);
  }

  async #ensure(): Promise<void> {
    if (this.#closed) throw new BrokerTransportError('shutdown', 'AMQP broker client is closed');
    if (this.#model !== undefined) return;
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined;
    });
    await this.#connecting;
  }

  async #connect(): Promise<void> {
    // No Nagle: a message is one small frame set; waiting for more data to coalesce costs the
    // delayed-ACK timeout (40 ms) on every hop.
    const model = await amqplib.connect(this.#url, { noDelay: true });
    // A connection error is followed by 'close', where reconnection starts.
    model.on('error', noop);
    model.on('close', () => this.#lost(model));
    try {
      const publisher = await model.createConfirmChannel();
      publisher.on('error', noop);
      if (this.#closed) throw new BrokerTransportError('shutdown', 'AMQP broker client is closed');
      for (const s of this.#subs) await this.#open(s, model);
      this.#model = model;
      this.#publisher = publisher;
      this.#backoff = MIN_BACKOFF_MS;
    } catch (e) {
      await model.close().catch(noop);
      throw e;
    }
  }

  async #open(sub: Subscription, model: ChannelModel): Promise<void> {
    const ch = await model.createChannel();
    ch.on('error', noop);
    await ch.assertQueue(sub.inbox, { durable: true });
    await ch.prefetch(sub.options.prefetch);
    await ch.consume(
      sub.inbox,
      (msg) => {
        // null: RabbitMQ cancelled the consumer (the queue was deleted); the connection's next
        // reopening consumes it again.
        if (msg === null) return;
        sub.deliver({
          bytes: msg.content,
          settle: () => {
            // On a channel that has since closed the ack is moot: RabbitMQ redelivers the message.
            try {
              ch.ack(msg);
            } catch {}
          },
        });
      },
      { noAck: false },
    );
    sub.channel = ch;
  }

  #lost(model: ChannelModel): void {
    if (this.#model !== model) return;
    this.#model = undefined;
    this.#publisher = undefined;
    for (const s of this.#subs) s.channel = undefined;
    this.#reconnectSoon();
  }

  #reconnectSoon(): void {
    if (this.#closed || this.#retry !== undefined || this.#connecting !== undefined) return;
    const delay = this.#backoff;
    this.#backoff = Math.min(this.#backoff * 2, MAX_BACKOFF_MS);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#ensure().catch(() => this.#reconnectSoon());
    }, delay);
    this.#retry.unref?.();
  }
}

/** The URL without its password. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return 'amqp://(invalid URL)';
  }
}

import {
  type Address,
  type LocalMessage,
  type Logger,
  type LogLine,
  Node,
  recordingLogger,
  type WorkerContext,
} from '@ockam/core';
import { type TcpConnection, type TcpListener, TcpTransport } from '@ockam/transport-tcp';

export type Direction = 'toB' | 'toA';

/** One message crossing the hop, after the hop has stepped it forward. */
export interface Crossing {
  readonly direction: Direction;
  /** How many messages crossed in this direction before this one (0: msg1 or msg2). */
  readonly index: number;
  readonly message: LocalMessage;
}

/** Decides what the hop forwards in place of a message: nothing, it, an altered copy, several. */
export type Tap = (crossing: Crossing) => LocalMessage[];

export type { LogLine };

/** Every log line of a test node, kept for assertions. */
export const capturingLogger = (): { logger: Logger; lines: LogLine[] } => recordingLogger('debug');

/** A node with its own TCP transport, listening on 127.0.0.1. */
export async function tcpNode(name: string): Promise<{
  node: Node;
  tcp: TcpTransport;
  listener: TcpListener;
  route: string;
  lines: LogLine[];
}> {
  const { logger, lines } = capturingLogger();
  const node = new Node({ name, logger });
  const tcp = new TcpTransport(node);
  node.registerTransport(tcp);
  const listener = await tcp.listen('127.0.0.1:0');
  return { node, tcp, listener, route: `1#127.0.0.1:${listener.address.port}`, lines };
}

/**
 * The intermediary M's forwarding worker at `hop` (Ockam's `hop` service, PROTOCOL.md §1.6, but
 * under test control). It is exposed to M's TCP listener, so A reaches it with
 * `['1#M', 'hop', 'api']`. Towards B, a message whose next hop is not on M (msg1, to `api`) is
 * put on M's connection to B (opened with `exposeTo` M's listener, and reopened if B closed it);
 * every other message follows the route the transports built. In both directions it pushes itself on
 * the return route, so every reply crosses it too.
 *
 * Every payload it forwards is recorded in `seen`; `tap` may drop, alter, duplicate or hold back
 * messages, and `inject` sends a message onward later as if it had just crossed.
 */
export class TamperingHop {
  readonly address = 'hop';
  tap: Tap | undefined;
  /** Every payload forwarded, in both directions, after tampering. */
  readonly seen: { direction: Direction; payload: Uint8Array }[] = [];
  readonly #ctx: WorkerContext;
  readonly #tcp: TcpTransport;
  readonly #listener: TcpListener;
  readonly #toB: string;
  #connection: TcpConnection | undefined;
  readonly #counts = { toB: 0, toA: 0 };

  constructor(node: Node, tcp: TcpTransport, listener: TcpListener, toB: string) {
    this.#tcp = tcp;
    this.#listener = listener;
    this.#toB = toB;
    this.#ctx = node.startWorker(this.address, {
      handleMessage: async (ctx, { source, message }) => {
        const direction: Direction = this.#tcp.connection(source)?.mode === 'incoming' ? 'toB' : 'toA';
        const stepped = message.stepForward(ctx.address);
        const crossing = { direction, index: this.#counts[direction]++, message: stepped };
        for (const m of this.tap ? this.tap(crossing) : [stepped]) await this.inject(direction, m);
      },
    });
    node.flowControls.addConsumer(this.address, listener.flowControlId);
  }

  /** Sends a (stepped-forward) message on in `direction`, recording its payload. */
  async inject(direction: Direction, message: LocalMessage): Promise<void> {
    // Towards B, a route that does not already name a hop on M (msg1: `['api']`) goes through
    // M's connection to B; later messages carry the return routes the transports built.
    const nextHop = message.onwardRoute.addresses[0];
    const viaB = direction === 'toB' && (nextHop === undefined || !this.#ctx.node.has(nextHop));
    const onward = viaB ? message.onwardRoute.prepend(await this.#senderToB()) : message.onwardRoute;
    this.seen.push({ direction, payload: message.payload.slice() });
    // Flow control follows a message's origin through forwarders (PROTOCOL.md §1.5): M, an open
    // intermediary by design, lets whatever crosses it go on, as a relay does for its two sides.
    const origin = message.origin;
    const next = onward.addresses[0];
    if (origin !== undefined && next !== undefined)
      this.#ctx.node.flowControls.addConsumer(next, origin.flowControlId);
    await this.#ctx.forward(message.withOnward(onward));
  }

  async #senderToB(): Promise<Address> {
    if (this.#connection?.isOpen !== true)
      this.#connection = await this.#tcp.connect(this.#toB, { exposeTo: [this.#listener.flowControlId] });
    return this.#connection.senderAddress;
  }
}

/** A copy of `bytes` with bit `bit` of byte `index` flipped (negative index: from the end). */
export function flipBit(bytes: Uint8Array, index: number, bit = 0): Uint8Array {
  const copy = bytes.slice();
  const i = index < 0 ? copy.length + index : index;
  copy[i]! ^= 1 << bit;
  return copy;
}

/** Whether `needle` occurs anywhere in `haystack`. */
export function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).indexOf(needle) >= 0;
}

export async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

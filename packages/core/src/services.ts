/**
 * The standard services (PROTOCOL.md §1.6):
 * - `echo` sends the payload back to the return route unchanged;
 * - `uppercase` takes a BARE string and replies with it upper-cased;
 * - `hop` forwards to the next hop (Ockam's `step_forward`). Nodes start it only on request, as
 *   Ockam does; flow control follows what it forwards (`LocalMessage.origin`), so it reaches only
 *   what the original sender could reach itself, and the router refuses `hop` forwarding to itself.
 *
 * @example
 * ```ts
 * import { Node, startEcho } from '@ockam/core';
 * const node = new Node();
 * startEcho(node); // at address 'echo'
 * ```
 */
import type { AddressLike } from './address.js';
import { decodeBareString, encodeBareString } from './bare.js';
import type { Node, WorkerContext, WorkerOptions } from './node.js';

export const ECHO_SERVICE = 'echo';
export const UPPERCASE_SERVICE = 'uppercase';
export const HOP_SERVICE = 'hop';

export function startEcho(
  node: Node,
  address: AddressLike = ECHO_SERVICE,
  options?: WorkerOptions,
): WorkerContext {
  return node.startWorker(
    address,
    {
      handleMessage: (ctx, { message }) => {
        if (message.returnRoute.isEmpty) return;
        return ctx.send(message.returnRoute, message.payload);
      },
    },
    options,
  );
}

export function startUppercase(
  node: Node,
  address: AddressLike = UPPERCASE_SERVICE,
  options?: WorkerOptions,
): WorkerContext {
  return node.startWorker(
    address,
    {
      handleMessage: (ctx, { message }) => {
        if (message.returnRoute.isEmpty) return;
        let text: string;
        try {
          text = decodeBareString(message.payload, 'uppercase request');
        } catch (e) {
          // Debug, not warn: any peer that may reach `uppercase` could otherwise write a log line per frame.
          ctx.logger.debug('uppercase ignored a payload that is not a BARE string', { error: String(e) });
          return;
        }
        return ctx.send(message.returnRoute, encodeBareString(text.toUpperCase()));
      },
    },
    options,
  );
}

export function startHop(
  node: Node,
  address: AddressLike = HOP_SERVICE,
  options?: WorkerOptions,
): WorkerContext {
  const ctx = node.startWorker(
    address,
    {
      handleMessage: (ctx, { message }) => {
        if (message.onwardRoute.length < 2) return;
        return ctx.forward(message.stepForward(ctx.address));
      },
    },
    options,
  );
  // It puts itself on the return route: replies that come back through a connection it sent to
  // may pass through it to where the request came from (`Node.allowReplies`).
  node.flowControls.addForwarder(ctx.address);
  return ctx;
}

/**
 * The rendezvous service and its client (PROTOCOL.md §2.2 step 1, `puncture/rendezvous_service/*`):
 * a node on the public internet tells each peer the `ip:port` its UDP datagrams come from, that is
 * the address and port its NAT maps it to.
 *
 * The service answers `GetMyAddress` with the first UDP address of the request's return route,
 * which the bind's receiver put there. Over anything other than UDP there is none, and the service
 * stays silent, as Ockam's does.
 *
 * @example
 * ```ts
 * // On the public node:
 * const service = startRendezvousService(node);
 * const bind = await udp.bind('0.0.0.0:4000');
 * node.flowControls.addConsumer(service.address, bind.flowControlId);
 *
 * // On a node behind NAT, with the bind it will punch from:
 * const bind = await udp.bind('0.0.0.0:0');
 * const mine = await getMyAddress(bind, rendezvousRoute('rendezvous.example.com:4000')); // '203.0.113.7:40123'
 * ```
 */
import {
  Address,
  type AddressLike,
  DecodeError,
  type FlowControlId,
  LogLimiter,
  type Node,
  OckamError,
  Route,
  type RouteLike,
  TimeoutError,
  toAddress,
  toRoute,
  UDP,
} from '@ockam/core';
import { UdpTransportError } from './errors.js';
import { errorMessage } from './internal/bind.js';
import {
  decodeRendezvousRequest,
  decodeRendezvousResponse,
  encodeRendezvousRequest,
  encodeRendezvousResponse,
  type RendezvousResponse,
} from './rendezvous-message.js';
import type { UdpBind } from './udp-bind.js';

/** The service's well-known address (`RENDEZVOUS_SERVICE`). */
export const RENDEZVOUS_SERVICE = 'rendezvous';
/** Ockam's default public rendezvous server (UDP), overridden with `OCKAM_RENDEZVOUS_SERVER`. */
export const DEFAULT_RENDEZVOUS_SERVER = 'rendezvous.orchestrator.ockam.io:443';
/** Ockam's `QUICK_TIMEOUT` for rendezvous requests. */
export const RENDEZVOUS_TIMEOUT_MS = 3_000;

export interface RendezvousService {
  readonly address: Address;
  /** Requests answered. */
  readonly answered: number;
  stop(): Promise<void>;
}

/**
 * Starts the rendezvous service at `address` (default `rendezvous`). Expose it to a bind with
 * `node.flowControls.addConsumer(service.address, bind.flowControlId)` or the `exposeTo` option.
 */
export function startRendezvousService(
  node: Node,
  options: { address?: AddressLike; exposeTo?: readonly FlowControlId[] } = {},
): RendezvousService {
  const address = toAddress(options.address ?? RENDEZVOUS_SERVICE);
  // Anyone on the internet can send requests: what is wrong with them is logged once a minute.
  const log = new LogLimiter(node.logger);
  let answered = 0;
  node.startWorker(address, {
    async handleMessage(ctx, routed) {
      const { message } = routed;
      let request: ReturnType<typeof decodeRendezvousRequest>;
      try {
        request = decodeRendezvousRequest(message.payload);
      } catch (e) {
        log.warn(errorMessage(e), 'rendezvous request dropped', { reason: errorMessage(e) });
        return;
      }
      switch (request.type) {
        case 'ping':
          await ctx.send(message.returnRoute, encodeRendezvousResponse({ type: 'pong' }));
          answered++;
          return;
        case 'get-my-address': {
          const udp = message.returnRoute.addresses.find((a) => a.type === UDP);
          if (udp === undefined) {
            log.warn('no-udp-hop', 'rendezvous request has no UDP hop in its return route; not answered', {
              returnRoute: message.returnRoute.toString(),
            });
            return;
          }
          await ctx.send(
            message.returnRoute,
            encodeRendezvousResponse({ type: 'address', address: udp.value }),
          );
          answered++;
          return;
        }
      }
    },
  });
  for (const id of options.exposeTo ?? []) node.flowControls.addConsumer(address, id);
  return {
    address,
    get answered() {
      return answered;
    },
    stop: async () => {
      await node.stopWorker(address);
    },
  };
}

/** The route to a rendezvous service at `host:port` over UDP: `['2#host:port', 'rendezvous']`. */
export function rendezvousRoute(server: string, service: AddressLike = RENDEZVOUS_SERVICE): Route {
  return new Route([new Address(UDP, server), toAddress(service)]);
}

export interface RendezvousRequestOptions {
  /** Default 3 000 ms (Ockam's quick timeout: UDP may lose the request or the answer). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Asks the rendezvous service, through `bind`, which public `ip:port` it sees for this bind.
 * `route` is the route after the bind's sender: `rendezvousRoute('host:port')`.
 */
export async function getMyAddress(
  bind: UdpBind,
  route: RouteLike,
  options: RendezvousRequestOptions = {},
): Promise<string> {
  const response = await request(bind, route, { type: 'get-my-address' }, options);
  if (response.type !== 'address')
    throw new UdpTransportError('protocol', `Rendezvous answered ${response.type} to GetMyAddress`);
  return response.address;
}

/** Checks that the rendezvous service answers (`Ping` → `Pong`). */
export async function pingRendezvous(
  bind: UdpBind,
  route: RouteLike,
  options: RendezvousRequestOptions = {},
): Promise<void> {
  const response = await request(bind, route, { type: 'ping' }, options);
  if (response.type !== 'pong')
    throw new UdpTransportError('protocol', `Rendezvous answered ${response.type} to Ping`);
}

async function request(
  bind: UdpBind,
  route: RouteLike,
  req: Parameters<typeof encodeRendezvousRequest>[0],
  options: RendezvousRequestOptions,
): Promise<RendezvousResponse> {
  const client = bind.node.client();
  const timeoutMs = options.timeoutMs ?? RENDEZVOUS_TIMEOUT_MS;
  try {
    // The bind admits the client as a consumer of its flow-control id when the request goes out.
    await client.send(toRoute(route).prepend(bind.senderAddress), encodeRendezvousRequest(req));
    const reply = await client.receive({ timeoutMs, ...(options.signal ? { signal: options.signal } : {}) });
    return decodeRendezvousResponse(reply.payload);
  } catch (e) {
    if (OckamError.isKind(e, 'timeout'))
      throw new TimeoutError(`Rendezvous service did not answer within ${timeoutMs} ms`, 'transport', {
        cause: e,
      });
    if (e instanceof DecodeError)
      throw new UdpTransportError('protocol', `Rendezvous answer is invalid: ${e.message}`, { cause: e });
    throw e;
  } finally {
    await client.stop();
  }
}

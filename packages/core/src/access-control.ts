/**
 * Access-control hooks (PROTOCOL.md §1.4). Every worker address has an incoming check (run before
 * a message is put in its mailbox) and an outgoing check (run when it sends). A denied incoming
 * message is dropped with a warning; a denied outgoing one is dropped and `send` still resolves,
 * as in Ockam.
 *
 * @example
 * ```ts
 * import { allowSourceAddresses, node } from '@ockam/core';
 * node.startWorker('secret', worker, { incoming: allowSourceAddresses(['trusted']) });
 * ```
 */
import type { Address } from './address.js';
import type { LocalMessage } from './message.js';

/** What an access control sees: who sends, to which address, and the message. */
export interface RelayMessage {
  readonly source: Address;
  readonly destination: Address;
  readonly message: LocalMessage;
}

export interface IncomingAccessControl {
  isAuthorized(relay: RelayMessage): boolean | Promise<boolean>;
}

export interface OutgoingAccessControl {
  isAuthorized(relay: RelayMessage): boolean | Promise<boolean>;
}

export type AccessControl = IncomingAccessControl & OutgoingAccessControl;

export const allowAll: AccessControl = { isAuthorized: () => true };
export const denyAll: AccessControl = { isAuthorized: () => false };

export function allowSourceAddresses(addresses: Iterable<Address | string>): AccessControl {
  const keys = new Set([...addresses].map((a) => (typeof a === 'string' ? a : a.key)));
  return { isAuthorized: (r) => keys.has(r.source.key) };
}

export function allowOnwardAddresses(addresses: Iterable<Address | string>): AccessControl {
  const keys = new Set([...addresses].map((a) => (typeof a === 'string' ? a : a.key)));
  return { isAuthorized: (r) => keys.has(r.destination.key) };
}

/** Allowed only if every check allows (evaluated in order, stops at the first denial). */
export function allOf(...checks: AccessControl[]): AccessControl {
  return {
    async isAuthorized(r) {
      for (const c of checks) if (!(await c.isAuthorized(r))) return false;
      return true;
    },
  };
}

/** Allowed if any check allows. */
export function anyOf(...checks: AccessControl[]): AccessControl {
  return {
    async isAuthorized(r) {
      for (const c of checks) if (await c.isAuthorized(r)) return true;
      return false;
    },
  };
}

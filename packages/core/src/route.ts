/**
 * Routes (PROTOCOL.md §1.1): an ordered list of addresses. `next()` is the front, `recipient()` the
 * back; text form joins addresses with `" => "`. Routes are immutable: every change returns a new one.
 *
 * @example
 * ```ts
 * import { Route } from '@ockam/core';
 * const r = Route.parse('1#127.0.0.1:4000 => echo');
 * r.next().toString(); // '1#127.0.0.1:4000'
 * r.popFront().toString(); // '0#echo'
 * ```
 */
import { Address, type AddressLike, toAddress } from './address.js';
import { RouteError } from './errors.js';

export class Route {
  readonly addresses: readonly Address[];

  constructor(addresses: readonly Address[] = []) {
    this.addresses = addresses;
  }

  static of(...addresses: AddressLike[]): Route {
    return new Route(addresses.map(toAddress));
  }

  static empty(): Route {
    return EMPTY;
  }

  /** Parses `"a => 1#host:port => b"`. */
  static parse(text: string): Route {
    const trimmed = text.trim();
    if (trimmed === '') return EMPTY;
    return new Route(
      trimmed.split('=>').map((part) => {
        const p = part.trim();
        if (p === '') throw new RouteError('invalid', `Invalid route '${text}': empty address`);
        return Address.parse(p);
      }),
    );
  }

  get length(): number {
    return this.addresses.length;
  }

  get isEmpty(): boolean {
    return this.addresses.length === 0;
  }

  /** The first address; throws if the route is empty. */
  next(): Address {
    const a = this.addresses[0];
    if (!a) throw new RouteError('invalid', 'Route is empty: no next address');
    return a;
  }

  /** The last address; throws if the route is empty. */
  recipient(): Address {
    const a = this.addresses[this.addresses.length - 1];
    if (!a) throw new RouteError('invalid', 'Route is empty: no recipient');
    return a;
  }

  /** The route without its first address. */
  popFront(): Route {
    if (this.addresses.length === 0) throw new RouteError('invalid', 'Cannot pop from an empty route');
    return new Route(this.addresses.slice(1));
  }

  /** The route without its last address. */
  popBack(): Route {
    if (this.addresses.length === 0) throw new RouteError('invalid', 'Cannot pop from an empty route');
    return new Route(this.addresses.slice(0, -1));
  }

  prepend(a: AddressLike): Route {
    return new Route([toAddress(a), ...this.addresses]);
  }

  append(a: AddressLike): Route {
    return new Route([...this.addresses, toAddress(a)]);
  }

  /** This route followed by `other`. */
  concat(other: Route | readonly Address[]): Route {
    const rest = other instanceof Route ? other.addresses : other;
    return new Route([...this.addresses, ...rest]);
  }

  /** Replaces the first address. */
  modifyNext(a: AddressLike): Route {
    return new Route([toAddress(a), ...this.addresses.slice(1)]);
  }

  equals(other: Route): boolean {
    return (
      this.addresses.length === other.addresses.length &&
      this.addresses.every((a, i) => a.equals(other.addresses[i]!))
    );
  }

  toString(): string {
    return this.addresses.map((a) => a.toString()).join(' => ');
  }

  toJSON(): string[] {
    return this.addresses.map((a) => a.toString());
  }
}

const EMPTY = new Route([]);

/** Accepts a Route, an array of addresses, or a single address. */
export type RouteLike = Route | readonly AddressLike[] | AddressLike;

export function toRoute(r: RouteLike): Route {
  if (r instanceof Route) return r;
  if (Array.isArray(r)) return Route.of(...r);
  return Route.of(r as AddressLike);
}

/**
 * Addresses (PROTOCOL.md §1.1): a transport type (u8) and an opaque value, text form
 * `"<type>#<value>"` (`1#127.0.0.1:4000`); a string without `#` is LOCAL.
 *
 * @example
 * ```ts
 * import { Address, TCP } from '@ockam/core';
 * const a = Address.parse('1#127.0.0.1:4000');
 * a.type === TCP; a.value === '127.0.0.1:4000';
 * Address.local('echo').toString(); // '0#echo'
 * ```
 */
import { RouteError } from './errors.js';
import { randomHex } from './hex.js';

export const LOCAL = 0;
export const TCP = 1;
export const UDP = 2;
export const WS = 3;
export const BLE = 4;
export const UDS = 5;
/**
 * Broker hops (`@ockam/transport-broker`): a Kafka topic and a RabbitMQ queue. Ockam Rust defines
 * types 0-5 only; 16 and 17 leave room for Ockam's future transports below them.
 */
export const KAFKA = 16;
export const AMQP = 17;

/** Longest address value we accept from the network (Ockam sets no limit; 1 KiB is generous). */
export const MAX_ADDRESS_LENGTH = 1024;

export class Address {
  readonly type: number;
  readonly value: string;
  readonly #key: string;

  constructor(type: number, value: string) {
    if (!Number.isInteger(type) || type < 0 || type > 255)
      throw new RangeError(`Transport type must be a u8, got ${type}`);
    this.type = type;
    this.value = value;
    this.#key = type === LOCAL ? value : `${type}#${value}`;
  }

  static local(value: string): Address {
    return new Address(LOCAL, value);
  }

  /** A fresh LOCAL address: 16 random bytes as 32 lowercase hex characters, as Ockam makes them. */
  static random(prefix = ''): Address {
    return new Address(LOCAL, prefix + randomHex(16));
  }

  /** Parses `"type#value"` or a bare LOCAL value. */
  static parse(text: string): Address {
    const parts = text.split('#');
    if (parts.length === 1) return new Address(LOCAL, text);
    if (parts.length > 2) throw new RouteError('invalid', `Invalid address '${text}': more than one '#'`);
    const [t, v] = parts as [string, string];
    if (!/^\d{1,3}$/.test(t) || Number(t) > 255)
      throw new RouteError('invalid', `Invalid address '${text}': transport type must be 0-255`);
    return new Address(Number(t), v);
  }

  get isLocal(): boolean {
    return this.type === LOCAL;
  }

  /** A string unique per (type, value): the LOCAL value itself, or `type#value`. Used as a map key. */
  get key(): string {
    return this.#key;
  }

  equals(other: Address): boolean {
    return this.type === other.type && this.value === other.value;
  }

  toString(): string {
    return `${this.type}#${this.value}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

/** Accepts an Address or its text form. */
export type AddressLike = Address | string;

export function toAddress(a: AddressLike): Address {
  return typeof a === 'string' ? Address.parse(a) : a;
}

/**
 * Routing numbers (PROTOCOL.md §2.2, `ockam_transport_udp/src/messages/routing_number.rs`): every
 * routing message a sender cuts into datagrams carries a u16 number. A sender starts from a random
 * number and adds one per message, wrapping from 65535 to 0; receivers compare numbers on the
 * circle, so that 0 comes after 65535.
 *
 * @example
 * ```ts
 * compareRoutingNumbers(5, 6); // -1
 * compareRoutingNumbers(0, 65535); // 1: 0 follows 65535
 * nextRoutingNumber(65535); // 0
 * ```
 */
import { randomBytes } from '@ockam/core';

/** The number after `n`, wrapping at 2^16. */
export function nextRoutingNumber(n: number): number {
  return (n + 1) & 0xffff;
}

/** A uniformly random starting number. */
export function randomRoutingNumber(): number {
  const b = randomBytes(2);
  return (b[0]! << 8) | b[1]!;
}

/**
 * Orders two routing numbers the way Ockam does: `b` is after `a` when it lies in the half circle
 * (32768 numbers) that follows `a`. Returns -1 when `a` comes before `b`, 1 when after, 0 if equal.
 */
export function compareRoutingNumbers(a: number, b: number): -1 | 0 | 1 {
  if (a === b) return 0;
  const sum = a + 0x8000;
  if (sum > 0xffff) {
    // `a` is in the upper half: its opposite wrapped around.
    const opposite = sum & 0xffff;
    return a > b && b > opposite ? 1 : -1;
  }
  return a < b && b <= sum ? -1 : 1;
}

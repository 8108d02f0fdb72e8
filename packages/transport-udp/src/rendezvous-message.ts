/**
 * Rendezvous messages (PROTOCOL.md §2.2 step 1, `puncture/rendezvous_service/messages.rs`), plain
 * CBOR payloads (no BARE prefix). minicbor encodes each enum variant as `[index, [fields…]]`:
 *
 * | message | CBOR |
 * | --- | --- |
 * | `RendezvousRequest::Ping` | `[0, []]` = `82 00 80` |
 * | `RendezvousRequest::GetMyAddress` | `[1, []]` = `82 01 80` |
 * | `RendezvousResponse::Pong` | `[0, []]` |
 * | `RendezvousResponse::GetMyAddress(String)` | `[1, ["1.2.3.4:5000"]]` |
 *
 * @example
 * ```ts
 * encodeRendezvousRequest({ type: 'get-my-address' }); // 82 01 80
 * decodeRendezvousResponse(bytes); // { type: 'address', address: '203.0.113.7:40123' }
 * ```
 */
import { CborReader, CborWriter } from '@ockam/core';

export type RendezvousRequest = { readonly type: 'ping' } | { readonly type: 'get-my-address' };
export type RendezvousResponse =
  | { readonly type: 'pong' }
  | { readonly type: 'address'; readonly address: string };

/** Longest address text we accept in a response (`[IPv6]:port` is at most 47 characters). */
const MAX_ADDRESS_TEXT = 256;

export function encodeRendezvousRequest(request: RendezvousRequest): Uint8Array {
  const w = new CborWriter(8);
  switch (request.type) {
    case 'ping':
      w.array(2).uint(0).array(0);
      break;
    case 'get-my-address':
      w.array(2).uint(1).array(0);
      break;
    default:
      throw new TypeError(`Unknown rendezvous request ${(request as { type: string }).type}`);
  }
  return w.finish();
}

export function decodeRendezvousRequest(bytes: Uint8Array): RendezvousRequest {
  const r = new CborReader(bytes, 'rendezvous request');
  r.arrayOf(2, 2, 'enum');
  const index = r.uint();
  const n = r.array();
  r.skipRest(n);
  r.end();
  switch (index) {
    case 0:
      return { type: 'ping' };
    case 1:
      return { type: 'get-my-address' };
    default:
      return r.fail(`unknown variant ${index}`);
  }
}

export function encodeRendezvousResponse(response: RendezvousResponse): Uint8Array {
  const w = new CborWriter(64);
  switch (response.type) {
    case 'pong':
      w.array(2).uint(0).array(0);
      break;
    case 'address':
      w.array(2).uint(1).array(1).text(response.address);
      break;
    default:
      throw new TypeError(`Unknown rendezvous response ${(response as { type: string }).type}`);
  }
  return w.finish();
}

export function decodeRendezvousResponse(bytes: Uint8Array): RendezvousResponse {
  const r = new CborReader(bytes, 'rendezvous response');
  r.arrayOf(2, 2, 'enum');
  const index = r.uint();
  const n = r.array();
  let result: RendezvousResponse;
  switch (index) {
    case 0:
      r.skipRest(n);
      result = { type: 'pong' };
      break;
    case 1: {
      if (n < 1) r.fail('GetMyAddress without its address');
      const address = r.text();
      if (address.length > MAX_ADDRESS_TEXT) r.fail(`address of ${address.length} characters`);
      r.skipRest(n - 1);
      result = { type: 'address', address };
      break;
    }
    default:
      return r.fail(`unknown variant ${index}`);
  }
  r.end();
  return result;
}

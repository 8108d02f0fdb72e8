/**
 * WebSocket addresses in routes (PROTOCOL.md §1.1): transport type 3 (`WS`) with the value
 * `host:port`, as Ockam's `WebSocketAddress` writes it, which means `ws://host:port/`. We also
 * accept a full `ws://` or `wss://` URL as the value, for servers behind a path or TLS.
 *
 * @example
 * ```ts
 * import { Address } from '@ockam/core';
 * import { toWebSocketUrl } from '@ockam/transport-websocket';
 * toWebSocketUrl(Address.parse('3#127.0.0.1:4000')); // 'ws://127.0.0.1:4000/'
 * toWebSocketUrl('wss://example.com/ockam');         // 'wss://example.com/ockam'
 * ```
 */
import { Address, parseHostPort, WS } from '@ockam/core';
import { WebSocketTransportError } from './errors.js';

/** A WebSocket endpoint: a `3#…` address, a `ws://`/`wss://` URL, `host:port`, or `{ host, port }`. */
export type WebSocketAddressLike = string | Address | { host?: string; port: number; path?: string };

/** The normalised `ws://` or `wss://` URL of an endpoint. Throws `invalid` for anything else. */
export function toWebSocketUrl(address: WebSocketAddressLike): string {
  let text: string;
  if (address instanceof Address) {
    if (address.type !== WS)
      throw new WebSocketTransportError('invalid', `Not a WebSocket address: ${address}`);
    text = address.value;
  } else if (typeof address === 'string') {
    text = address.startsWith(`${WS}#`) ? address.slice(2) : address;
  } else {
    const { host = '127.0.0.1', port, path = '/' } = address;
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new WebSocketTransportError('invalid', `Invalid port ${port}: expected 0-65535`);
    text = `ws://${formatHost(host)}:${port}${path.startsWith('/') ? path : `/${path}`}`;
  }
  if (/^wss?:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch (e) {
      throw new WebSocketTransportError('invalid', `Invalid WebSocket URL '${text}'`, { cause: e });
    }
    if (url.hash !== '')
      throw new WebSocketTransportError('invalid', `WebSocket URL '${text}' has a fragment`);
    return url.href;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text))
    throw new WebSocketTransportError(
      'invalid',
      `Invalid WebSocket URL '${text}': the scheme must be ws or wss`,
    );
  let hp: { host: string; port: number };
  try {
    hp = parseHostPort(text);
  } catch (e) {
    throw new WebSocketTransportError(
      'invalid',
      `Invalid WebSocket address '${text}': expected HOST:PORT or a ws:// URL`,
      {
        cause: e,
      },
    );
  }
  return new URL(`ws://${formatHost(hp.host)}:${hp.port}/`).href;
}

/** The `3#…` route address of an endpoint: `3#host:port` for a plain `ws://host:port/`, else `3#<url>`. */
export function toWebSocketAddress(address: WebSocketAddressLike): Address {
  const url = new URL(toWebSocketUrl(address));
  if (url.protocol === 'ws:' && url.pathname === '/' && url.search === '' && url.port !== '')
    return new Address(WS, url.host);
  return new Address(WS, url.href);
}

function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

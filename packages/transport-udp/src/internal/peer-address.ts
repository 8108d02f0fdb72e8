/**
 * `ip:port` handling. Like Ockam's UDP transport we speak IPv4 only; host names are resolved to an
 * IPv4 address (and cached briefly: a route may name the same host on every message).
 */
import { lookup } from 'node:dns/promises';
import { isIPv4 } from 'node:net';
import { parseHostPort } from '@ockam/core';
import { UdpTransportError } from '../errors.js';

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
  /** `ip:port`, as it appears in return routes. */
  readonly key: string;
}

const DNS_TTL_MS = 30_000;
const DNS_CACHE_SIZE = 256;
const dnsCache = new Map<string, { address: string; expires: number }>();

/** Parses `host:port` (no default host), refusing anything that is not IPv4 or a host name. */
export function parseUdpAddress(text: string): { host: string; port: number } {
  let hp: { host: string; port: number };
  try {
    hp = parseHostPort(text, '');
  } catch (cause) {
    throw new UdpTransportError('invalid', `Invalid UDP address '${text}': expected HOST:PORT`, { cause });
  }
  if (hp.host === '') throw new UdpTransportError('invalid', `Invalid UDP address '${text}': no host`);
  if (hp.host.includes(':'))
    throw new UdpTransportError('invalid', `Invalid UDP address '${text}': only IPv4 is supported`);
  return hp;
}

/** Resolves `host:port` to an IPv4 peer. */
export async function resolveUdpPeer(text: string): Promise<PeerAddress> {
  const { host, port } = parseUdpAddress(text);
  if (isIPv4(host)) return { host, port, key: `${host}:${port}` };
  const cached = dnsCache.get(host);
  let ip: string;
  if (cached !== undefined && cached.expires > Date.now()) ip = cached.address;
  else {
    try {
      ip = (await lookup(host, { family: 4 })).address;
    } catch (cause) {
      throw new UdpTransportError('not-found', `Cannot resolve UDP host '${host}'`, { cause });
    }
    if (dnsCache.size >= DNS_CACHE_SIZE) dnsCache.clear();
    dnsCache.set(host, { address: ip, expires: Date.now() + DNS_TTL_MS });
  }
  return { host: ip, port, key: `${ip}:${port}` };
}

/** The peer if `text` is already `ipv4:port` (no lookup needed), else undefined. */
export function literalUdpPeer(text: string): PeerAddress | undefined {
  const i = text.lastIndexOf(':');
  if (i <= 0) return undefined;
  const host = text.slice(0, i);
  const p = text.slice(i + 1);
  if (!isIPv4(host) || !/^\d{1,5}$/.test(p)) return undefined;
  const port = Number(p);
  return port <= 65535 ? { host, port, key: text } : undefined;
}

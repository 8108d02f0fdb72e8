/**
 * Ockam multiaddrs (PROTOCOL.md §12): the text routes users type, such as
 * `/node/n1/service/echo`, `/ip4/127.0.0.1/tcp/4000/service/uppercase` or
 * `/dnsaddr/localhost/tcp/4000/secure/api/service/echo`, and their binary form (uvarint protocol
 * code, then the value).
 *
 * `/service/x`, `/worker/x` and `/secure/x` are LOCAL addresses; `/ip4|ip6|dnsaddr/…/tcp/p` is one
 * TCP address; `/kafka/TOPIC` and `/amqp/QUEUE` are broker hops (types `KAFKA`, `AMQP`, codes
 * 112526 and 122526: ours, see `@ockam/transport-broker`); `/node/n`, `/project/p` and `/space/s` need a node manager to resolve them.
 *
 * @example
 * ```ts
 * import { MultiAddr } from '@ockam/core';
 * const ma = MultiAddr.parse('/ip4/127.0.0.1/tcp/4000/service/echo');
 * ma.toRoute().toString(); // '1#127.0.0.1:4000 => 0#echo'
 * ```
 */
import { Address, AMQP, KAFKA, LOCAL, TCP } from './address.js';
import { readUvarint, uvarintLength, writeUvarint } from './bare.js';
import { DecodeError, RouteError } from './errors.js';
import { Route } from './route.js';

export type Protocol =
  | 'ip4'
  | 'ip6'
  | 'tcp'
  | 'dnsaddr'
  | 'service'
  | 'node'
  | 'project'
  | 'space'
  | 'secure'
  | 'worker'
  | 'kafka'
  | 'amqp';

export const PROTOCOL_CODES: Readonly<Record<Protocol, number>> = {
  ip4: 4,
  tcp: 6,
  ip6: 41,
  dnsaddr: 56,
  service: 62526,
  node: 72526,
  project: 82526,
  space: 92526,
  secure: 99526,
  worker: 102526,
  // Ours, not Ockam's: broker hops (`@ockam/transport-broker`), in Ockam's private-code pattern
  // (…2526) above its highest (worker, 102526), so that they can never collide with Ockam's.
  kafka: 112526,
  amqp: 122526,
};

const BY_CODE = new Map(Object.entries(PROTOCOL_CODES).map(([k, v]) => [v, k as Protocol]));
const NAMED: ReadonlySet<Protocol> = new Set(['service', 'node', 'project', 'space', 'secure', 'worker']);
/** Kafka's own rule for topic names (`Topic.validate`): 1-249 of `[a-zA-Z0-9._-]`, not `.` or `..`. */
const KAFKA_TOPIC = /^(?!\.{1,2}$)[a-zA-Z0-9._-]{1,249}$/;
/** AMQP 0-9-1 queue names: a short string (≤ 255 bytes); not `amq.`, which RabbitMQ reserves. */
const AMQP_QUEUE = /^(?!amq\.)[A-Za-z0-9._:-]{1,255}$/;
const HOSTS: ReadonlySet<Protocol> = new Set(['ip4', 'ip6', 'dnsaddr']);

export interface MultiAddrComponent {
  readonly protocol: Protocol;
  readonly value: string;
}

function invalid(text: string, reason: string): RouteError {
  return new RouteError('invalid', `Invalid multiaddr '${text}': ${reason}`);
}

function parseIp4(v: string): Uint8Array | undefined {
  const parts = v.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
    out[i] = Number(p);
  }
  return out;
}

function parseIp6(v: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(v)) return undefined;
  const halves = v.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIp4(p);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
        out.push(Number.parseInt(p, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const fill = 8 - head.length - tail.length;
  if ((halves.length === 1 && fill !== 0) || (halves.length === 2 && fill < 1)) return undefined;
  const all = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

function formatIp6(b: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return groups.join(':');
}

const HOSTNAME =
  /^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;
const NAME = /^[^/\s]{1,255}$/;

export class MultiAddr {
  readonly components: readonly MultiAddrComponent[];

  constructor(components: readonly MultiAddrComponent[]) {
    this.components = components;
  }

  /** Parses the text form, validating every value and the structure (`/ip4/x` must be followed by `/tcp/p`). */
  static parse(text: string): MultiAddr {
    if (!text.startsWith('/')) throw invalid(text, "it must start with '/'");
    const parts = text.slice(1).split('/');
    if (parts.length === 1 && parts[0] === '') throw invalid(text, 'it is empty');
    const out: MultiAddrComponent[] = [];
    for (let i = 0; i < parts.length; i += 2) {
      const name = parts[i]!;
      const value = parts[i + 1];
      if (name === '') throw invalid(text, `empty protocol name at component ${i / 2 + 1}`);
      if (!(name in PROTOCOL_CODES)) {
        throw invalid(
          text,
          `unknown protocol '${name}' (expected one of ${Object.keys(PROTOCOL_CODES).join(', ')})`,
        );
      }
      const protocol = name as Protocol;
      if (value === undefined || value === '') throw invalid(text, `'/${name}' needs a value`);
      out.push({ protocol, value: validateValue(text, protocol, value) });
    }
    const ma = new MultiAddr(out);
    ma.#checkStructure(text);
    return ma;
  }

  #checkStructure(text: string): void {
    const c = this.components;
    for (let i = 0; i < c.length; i++) {
      const p = c[i]!.protocol;
      if (HOSTS.has(p) && c[i + 1]?.protocol !== 'tcp')
        throw invalid(text, `'/${p}/${c[i]!.value}' must be followed by '/tcp/PORT'`);
      if (p === 'tcp' && !HOSTS.has(c[i - 1]?.protocol as Protocol))
        throw invalid(text, "'/tcp' must follow '/ip4', '/ip6' or '/dnsaddr'");
    }
  }

  toString(): string {
    return this.components.map((c) => `/${c.protocol}/${c.value}`).join('');
  }

  /** Binary form: for each component a uvarint code, then the value (PROTOCOL.md §12). */
  encode(): Uint8Array {
    const chunks: Uint8Array[] = [];
    for (const c of this.components) {
      const code = PROTOCOL_CODES[c.protocol];
      const head = new Uint8Array(uvarintLength(code));
      writeUvarint(head, 0, code);
      chunks.push(head);
      switch (c.protocol) {
        case 'ip4':
          chunks.push(parseIp4(c.value)!);
          break;
        case 'ip6':
          chunks.push(parseIp6(c.value)!);
          break;
        case 'tcp':
          chunks.push(new Uint8Array([Number(c.value) >> 8, Number(c.value) & 0xff]));
          break;
        default: {
          const v = new TextEncoder().encode(c.value);
          const len = new Uint8Array(uvarintLength(v.length));
          writeUvarint(len, 0, v.length);
          chunks.push(len, v);
        }
      }
    }
    let n = 0;
    for (const ch of chunks) n += ch.length;
    const out = new Uint8Array(n);
    let o = 0;
    for (const ch of chunks) {
      out.set(ch, o);
      o += ch.length;
    }
    return out;
  }

  /** Decodes the binary form strictly. */
  static decode(bytes: Uint8Array): MultiAddr {
    const out: MultiAddrComponent[] = [];
    let o = 0;
    const need = (n: number) => {
      if (bytes.length - o < n) throw new DecodeError('multiaddr', `truncated at byte ${o}`);
    };
    while (o < bytes.length) {
      const [code, next] = readUvarint(bytes, o, 'multiaddr');
      o = next;
      const protocol = BY_CODE.get(code);
      if (!protocol) throw new DecodeError('multiaddr', `unknown protocol code ${code}`);
      let value: string;
      if (protocol === 'ip4') {
        need(4);
        value = [...bytes.subarray(o, o + 4)].join('.');
        o += 4;
      } else if (protocol === 'ip6') {
        need(16);
        value = formatIp6(bytes.subarray(o, o + 16));
        o += 16;
      } else if (protocol === 'tcp') {
        need(2);
        value = String((bytes[o]! << 8) | bytes[o + 1]!);
        o += 2;
      } else {
        const [len, start] = readUvarint(bytes, o, 'multiaddr');
        o = start;
        need(len);
        try {
          value = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(o, o + len));
        } catch (cause) {
          throw new DecodeError('multiaddr', 'invalid UTF-8', { cause });
        }
        o += len;
      }
      out.push({ protocol, value });
    }
    try {
      return MultiAddr.parse(new MultiAddr(out).toString());
    } catch (cause) {
      throw new DecodeError('multiaddr', cause instanceof Error ? cause.message : String(cause), { cause });
    }
  }

  /** A new multiaddr with `other`'s components after this one's. */
  concat(other: MultiAddr): MultiAddr {
    return new MultiAddr([...this.components, ...other.components]);
  }

  /** True if it mentions `/node`, `/project` or `/space`, which need a node manager to resolve. */
  get needsResolution(): boolean {
    return this.components.some(
      (c) => c.protocol === 'node' || c.protocol === 'project' || c.protocol === 'space',
    );
  }

  /**
   * Converts to a route of Ockam addresses. `/node`, `/project` and `/space` cannot be converted
   * here: the node manager replaces them first.
   */
  toRoute(): Route {
    const out: Address[] = [];
    const c = this.components;
    for (let i = 0; i < c.length; i++) {
      const { protocol, value } = c[i]!;
      switch (protocol) {
        case 'service':
        case 'worker':
        case 'secure':
          out.push(new Address(LOCAL, value));
          break;
        case 'ip4':
        case 'dnsaddr':
          out.push(new Address(TCP, `${value}:${c[++i]!.value}`));
          break;
        case 'ip6':
          out.push(new Address(TCP, `[${value}]:${c[++i]!.value}`));
          break;
        case 'kafka':
          out.push(new Address(KAFKA, value));
          break;
        case 'amqp':
          out.push(new Address(AMQP, value));
          break;
        case 'tcp':
          throw new RouteError('invalid', `'/tcp' must follow a host in ${this}`);
        case 'node':
        case 'project':
        case 'space':
          throw new RouteError(
            'unsupported',
            `'/${protocol}/${value}' in ${this} must be resolved by a node manager first`,
          );
      }
    }
    return new Route(out);
  }
}

function validateValue(text: string, protocol: Protocol, value: string): string {
  switch (protocol) {
    case 'ip4':
      if (!parseIp4(value)) throw invalid(text, `'${value}' is not an IPv4 address`);
      return value;
    case 'ip6':
      if (!parseIp6(value)) throw invalid(text, `'${value}' is not an IPv6 address`);
      return value;
    case 'tcp':
      if (!/^\d{1,5}$/.test(value) || Number(value) > 65535)
        throw invalid(text, `'${value}' is not a TCP port (0-65535)`);
      return String(Number(value));
    case 'dnsaddr':
      if (!HOSTNAME.test(value)) throw invalid(text, `'${value}' is not a host name`);
      return value;
    case 'kafka':
      if (!KAFKA_TOPIC.test(value)) throw invalid(text, `'${value}' is not a Kafka topic name`);
      return value;
    case 'amqp':
      if (!AMQP_QUEUE.test(value)) throw invalid(text, `'${value}' is not an AMQP queue name`);
      return value;
    default:
      if (!NAMED.has(protocol) || !NAME.test(value))
        throw invalid(text, `'${value}' is not a valid ${protocol} name`);
      return value;
  }
}

/** Parses `HOST:PORT`, `[IPv6]:PORT` or `PORT` (host 127.0.0.1) into its parts. */
export function parseHostPort(text: string, defaultHost = '127.0.0.1'): { host: string; port: number } {
  const t = text.trim();
  let host = defaultHost;
  let port: string;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(t);
  if (v6) {
    host = v6[1]!;
    port = v6[2]!;
  } else if (/^\d+$/.test(t)) port = t;
  else {
    const i = t.lastIndexOf(':');
    if (i <= 0) throw new RouteError('invalid', `Invalid address '${text}': expected HOST:PORT or PORT`);
    host = t.slice(0, i);
    port = t.slice(i + 1);
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535)
    throw new RouteError('invalid', `Invalid address '${text}': '${port}' is not a port (0-65535)`);
  return { host, port: Number(port) };
}

/**
 * Whether `name` may name a broker hop: a Kafka topic (`/kafka/NAME`) or an AMQP queue
 * (`/amqp/NAME`). The one rule multiaddrs and `@ockam/transport-broker` share.
 */
export function isBrokerName(protocol: 'kafka' | 'amqp', name: string): boolean {
  return (protocol === 'kafka' ? KAFKA_TOPIC : AMQP_QUEUE).test(name);
}

import { encodeCbor, fromHex, OckamError, toHex } from '@ockam/core';
import { describe, expect, it } from 'vitest';
import { decodeKafkaEncryptedContent, encodeKafkaEncryptedContent } from '../src/kafka-encrypted-content.js';
import { singleNodeDestination, viaRelayDestination } from '../src/kafka-keys.js';

const ADDRESS = '0123456789abcdef0123456789abcdef';

describe('KafkaEncryptedContent (KAFKA.md §2.4)', () => {
  it("encodes KAFKA.md's example byte for byte: [Address [0, bytes]], [uint per byte]", () => {
    const content = fromHex('0000000000000005dead011718ff');
    const expected =
      '8282005820' +
      '3031323334353637383961626364656630313233343536373839616263646566' +
      '8e' +
      '0000000000000005' +
      '18de18ad0117181818ff';
    expect(toHex(encodeKafkaEncryptedContent(ADDRESS, content))).toBe(expected);
    const decoded = decodeKafkaEncryptedContent(fromHex(expected));
    expect(decoded.transportType).toBe(0);
    expect(decoded.address).toBe(ADDRESS);
    expect(toHex(decoded.content)).toBe(toHex(content));
  });

  it('writes the minimal array heads minicbor writes, for every content length class', () => {
    // 600,000 bytes is over the 1 MiB reused buffer: written at its exact size instead.
    for (const length of [0, 23, 24, 255, 256, 65_535, 65_536, 600_000]) {
      const content = new Uint8Array(length).map((_, i) => i % 256);
      const ours = encodeKafkaEncryptedContent(ADDRESS, content);
      // An independent encoder: core's generic CBOR writer with the content as an array of numbers.
      const reference = encodeCbor([[0, new TextEncoder().encode(ADDRESS)], [...content]]);
      expect(toHex(ours)).toBe(toHex(reference));
      expect(decodeKafkaEncryptedContent(ours).content).toEqual(content);
    }
  });

  it('returns an encoding of its own each time, for each address, though it writes through a reused buffer', () => {
    const a = encodeKafkaEncryptedContent(ADDRESS, fromHex('01ff'));
    const b = encodeKafkaEncryptedContent('another', fromHex('02'));
    expect(toHex(a)).toBe(`8282005820${toHex(new TextEncoder().encode(ADDRESS))}820118ff`);
    expect(toHex(b)).toBe(
      `828200 47 ${toHex(new TextEncoder().encode('another'))} 81 02`.replaceAll(' ', ''),
    );
    expect(a.buffer).not.toBe(b.buffer);
  });

  it('reads a byte written with a longer uint head, as minicbor does', () => {
    // content [5] written as uint16 0x0005.
    const value = fromHex('8282005820' + toHex(new TextEncoder().encode(ADDRESS)) + '81190005');
    expect([...decodeKafkaEncryptedContent(value).content]).toEqual([5]);
  });

  it('decodes any mix of minimal and longer heads, and refuses a non-byte or a cut anywhere in the content', () => {
    const prefix = `8282005820${toHex(new TextEncoder().encode(ADDRESS))}`;
    const heads = (b: number, form: number) =>
      form === 0
        ? b < 24
          ? toHex([b])
          : `18${toHex([b])}`
        : form === 1
          ? `19${toHex([0, b])}`
          : `1a${toHex([0, 0, 0, b])}`;
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed;
    };
    for (let n = 0; n < 200; n++) {
      const length = 1 + (random() % 300);
      const content = Array.from({ length }, () => random() % 256);
      // Mostly minimal items, a longer head now and then (at the start, the middle or the end).
      const items = content.map((b) => heads(b, random() % 40 === 0 ? 1 + (random() % 2) : 0)).join('');
      const array =
        length < 24
          ? toHex([0x80 + length])
          : length < 256
            ? `98${toHex([length])}`
            : `99${toHex([length >> 8, length & 255])}`;
      const value = fromHex(prefix + array + items);
      expect([...decodeKafkaEncryptedContent(value).content]).toEqual(content);
      // A cut anywhere in the items, and a value over 255 in place of any item, are refused.
      const cut = fromHex(prefix + array + items).subarray(
        0,
        value.length - 1 - (random() % Math.min(items.length / 2, 8)),
      );
      expect(() => decodeKafkaEncryptedContent(cut)).toThrow(/truncated|trailing/);
      const at = random() % length;
      const bad = content.map((b, i) => (i === at ? '190100' : heads(b, 0))).join('');
      expect(() => decodeKafkaEncryptedContent(fromHex(prefix + array + bad))).toThrow(/is not a byte/);
    }
  });

  const refused = (hex: string) => {
    try {
      decodeKafkaEncryptedContent(fromHex(hex));
    } catch (e) {
      return OckamError.is(e) ? e.kind : 'not an OckamError';
    }
    return 'accepted';
  };
  const addr = `5820${toHex(new TextEncoder().encode(ADDRESS))}`;

  it('refuses hostile values before allocating: a content array longer than the input, huge heads, indefinite lengths', () => {
    // 2^32 - 1 items claimed, 3 bytes present.
    expect(refused(`828200${addr}9affffffff010203`)).toBe('serialization');
    // 2^53 items claimed.
    expect(refused(`828200${addr}9b0020000000000000`)).toBe('serialization');
    // Indefinite arrays and byte strings.
    expect(refused(`828200${addr}9f0102ff`)).toBe('serialization');
    expect(refused('9f8200' + addr.slice(0) + '80ff')).toBe('serialization');
    expect(refused('82820059ffff')).toBe('serialization');
  });

  it('refuses what is not exactly one KafkaEncryptedContent', () => {
    expect(refused('')).toBe('serialization');
    expect(refused('a0')).toBe('serialization'); // a map
    expect(refused(`83820${0}${addr}80`)).toBe('serialization'); // 3 items
    expect(refused(`828200${addr}8119ffff`)).toBe('serialization'); // an item > 255
    expect(refused(`828200${addr}8120`)).toBe('serialization'); // a negative item
    expect(refused(`828200${addr}8100`.replace(/00$/, '') + '18')).toBe('serialization'); // truncated item
    expect(refused(`828200${addr}810000`)).toBe('serialization'); // trailing byte
    expect(refused(`8282185820${toHex(new TextEncoder().encode(ADDRESS))}80`)).toBe('serialization'); // tt not a uint
    expect(refused(`82820042fffe80`)).toBe('serialization'); // address not UTF-8
    expect(refused(`8282190100${addr}80`)).toBe('serialization'); // tt > 255
  });
});

describe('consumer destinations (KAFKA.md §2.3 step 2)', () => {
  it('strips a last /secure/api for a single consumer; self is this node', () => {
    expect(singleNodeDestination('/ip4/127.0.0.1/tcp/4000/secure/api')).toBe('/ip4/127.0.0.1/tcp/4000');
    expect(singleNodeDestination('/project/default/service/forward_to_c/secure/api')).toBe(
      '/project/default/service/forward_to_c',
    );
    expect(singleNodeDestination('self')).toBe('');
    expect(singleNodeDestination('/secure/api')).toBe('');
    expect(singleNodeDestination('/node/n1')).toBe('/node/n1');
  });

  it('appends forward_to_consumer_<topic>_<partition> for a relayed consumer', () => {
    expect(viaRelayDestination('/project/default', 'orders', 3)).toBe(
      '/project/default/service/forward_to_consumer_orders_3',
    );
    expect(
      viaRelayDestination('/project/default/service/forward_to_kafka_outlet/secure/api', 't.x-1', 0),
    ).toBe('/project/default/service/forward_to_kafka_outlet/secure/api/service/forward_to_consumer_t.x-1_0');
  });
});

import { describe, expect, it } from 'vitest';
import { isBrokerName, MultiAddr, parseHostPort, toHex } from '../src/index.js';

describe('multiaddr (PROTOCOL.md §12)', () => {
  it('converts typical routes to Ockam routes', () => {
    expect(MultiAddr.parse('/ip4/127.0.0.1/tcp/4000/service/uppercase').toRoute().toString()).toBe(
      '1#127.0.0.1:4000 => 0#uppercase',
    );
    expect(MultiAddr.parse('/dnsaddr/localhost/tcp/4000/secure/api/service/echo').toRoute().toString()).toBe(
      '1#localhost:4000 => 0#api => 0#echo',
    );
    expect(MultiAddr.parse('/ip6/::1/tcp/80/worker/x').toRoute().toString()).toBe('1#[::1]:80 => 0#x');
    expect(MultiAddr.parse('/service/x').toRoute().toString()).toBe('0#x');
  });

  it('reads broker hops: /kafka/TOPIC and /amqp/QUEUE, with their names checked and codes of our own', () => {
    expect(MultiAddr.parse('/kafka/ockam.b/secure/api/service/echo').toRoute().toString()).toBe(
      '16#ockam.b => 0#api => 0#echo',
    );
    expect(MultiAddr.parse('/amqp/ockam.b/service/api').toRoute().toString()).toBe('17#ockam.b => 0#api');
    const ma = MultiAddr.parse('/kafka/t-1/amqp/q:1');
    expect(MultiAddr.decode(ma.encode()).toString()).toBe('/kafka/t-1/amqp/q:1');
    expect(() => MultiAddr.parse('/kafka/bad topic')).toThrow(/not a Kafka topic name/);
    expect(() => MultiAddr.parse('/kafka/..')).toThrow(/not a Kafka topic name/);
    expect(() => MultiAddr.parse(`/kafka/${'t'.repeat(250)}`)).toThrow(/not a Kafka topic name/);
    expect(() => MultiAddr.parse('/amqp/amq.rabbitmq.reply-to')).toThrow(/not an AMQP queue name/);
    expect(isBrokerName('kafka', 'ockam.a')).toBe(true);
    expect(isBrokerName('amqp', 'amq.x')).toBe(false);
  });

  it('knows which parts need a node manager', () => {
    const ma = MultiAddr.parse('/node/n1/service/echo');
    expect(ma.needsResolution).toBe(true);
    expect(() => ma.toRoute()).toThrow(
      "'/node/n1' in /node/n1/service/echo must be resolved by a node manager first",
    );
  });

  it('gives precise errors for bad multiaddrs', () => {
    const cases: Array<[string, RegExp]> = [
      ['service/echo', /must start with '\/'/],
      ['/', /is empty/],
      ['/ip4/300.0.0.1/tcp/1', /'300.0.0.1' is not an IPv4 address/],
      ['/ip4/127.0.0.1', /must be followed by '\/tcp\/PORT'/],
      ['/ip4/127.0.0.1/tcp/70000', /'70000' is not a TCP port/],
      ['/tcp/80', /'\/tcp' must follow/],
      ['/foo/bar', /unknown protocol 'foo'/],
      ['/service', /'\/service' needs a value/],
      ['/ip6/1:::2/tcp/1', /not an IPv6 address/],
      ['/dnsaddr/bad host/tcp/1', /not a host name/],
    ];
    for (const [text, re] of cases) expect(() => MultiAddr.parse(text), text).toThrow(re);
  });

  it('round-trips the binary form with Ockam protocol codes', () => {
    const ma = MultiAddr.parse('/ip4/127.0.0.1/tcp/4000/service/echo');
    // ip4 = 4, tcp = 6, service = 62526 (uvarint be e8 03)
    expect(toHex(ma.encode())).toBe('047f000001060fa0' + 'bee803' + '04' + '6563686f');
    expect(MultiAddr.decode(ma.encode()).toString()).toBe(ma.toString());
    expect(
      MultiAddr.decode(MultiAddr.parse('/node/n1/secure/api/ip6/fe80::1/tcp/1').encode()).toString(),
    ).toBe('/node/n1/secure/api/ip6/fe80:0:0:0:0:0:0:1/tcp/1');
  });

  it('parses HOST:PORT forms', () => {
    expect(parseHostPort('6000')).toEqual({ host: '127.0.0.1', port: 6000 });
    expect(parseHostPort('0.0.0.0:4000')).toEqual({ host: '0.0.0.0', port: 4000 });
    expect(parseHostPort('[::1]:5')).toEqual({ host: '::1', port: 5 });
    expect(() => parseHostPort('host:99999')).toThrow(/not a port/);
  });
});

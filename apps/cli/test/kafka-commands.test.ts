import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaInletConfig } from '../src/commands/kafka.js';
import { loadConfig } from '../src/config.js';
import { freePort, ockam, tempHome } from './helpers.js';

let home: string;
let cleanup: () => Promise<void>;
beforeAll(() => {
  ({ home, cleanup } = tempHome());
});
afterAll(() => cleanup());

const ok = async (args: string[]) => {
  const r = await ockam(home, args, { timeoutMs: 90_000 });
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
};
const json = async (args: string[]) => JSON.parse(await ok([...args, '--output', 'json']));

describe('kafka-outlet and kafka-inlet commands', () => {
  it('create, show, list and delete a kafka-outlet, one per node, as Ockam', async () => {
    const port = await freePort();
    const created = await json(['kafka-outlet', 'create', '--bootstrap-server', `127.0.0.1:${port}`]);
    expect(created).toEqual({ node_name: 'default', bootstrap_server: `127.0.0.1:${port}` });
    expect(await json(['kafka-outlet', 'show'])).toEqual({ addr: 'kafka_outlet', type: 'kafka_outlet' });
    expect(await json(['kafka-outlet', 'show', 'kafka_outlet'])).toEqual({
      addr: 'kafka_outlet',
      type: 'kafka_outlet',
    });
    expect(await json(['kafka-outlet', 'list'])).toEqual([{ addr: 'kafka_outlet', type: 'kafka_outlet' }]);
    const again = await ockam(home, [
      'kafka-outlet',
      'create',
      '--addr',
      'other',
      '--bootstrap-server',
      `${port}`,
    ]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already has a kafka-outlet/);
    expect(await ok(['kafka-outlet', 'delete', 'kafka_outlet', '--yes'])).toBeDefined();
    expect(await json(['kafka-outlet', 'list'])).toEqual([]);
    const missing = await ockam(home, ['kafka-outlet', 'show']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/Kafka Outlet not found/);
  });

  it('create kafka-inlets on distinct addresses and ports, refuse a taken one, and delete one', async () => {
    const first = await freePort();
    expect(await json(['kafka-inlet', 'create', '--to', '/secure/api', '--from', `${first}`])).toEqual({
      node_name: 'default',
      from: `127.0.0.1:${first}`,
      brokers_port_range: `${first + 1}-${first + 100}`,
      to: '/secure/api',
    });
    // Same default --addr, whatever the port.
    const taken = await ockam(home, [
      'kafka-inlet',
      'create',
      '--to',
      '/secure/api',
      '--from',
      `${await freePort()}`,
    ]);
    expect(taken.code).not.toBe(0);
    expect(taken.stderr).toMatch(/kafka_inlet is already in use/);
    const port = await freePort();
    const second = await json([
      'kafka-inlet',
      'create',
      '--to',
      'self',
      '--from',
      `${port}`,
      '--addr',
      'inlet2',
    ]);
    expect(second).toMatchObject({ from: `127.0.0.1:${port}`, to: '/secure/api' });
    expect(await json(['kafka-inlet', 'show'])).toEqual({ addr: 'kafka_inlet', type: 'kafka_inlet' });
    expect((await json(['kafka-inlet', 'list'])).map((i: { addr: string }) => i.addr).sort()).toEqual([
      'inlet2',
      'kafka_inlet',
    ]);
    await ok(['kafka-inlet', 'delete', 'kafka_inlet', '--yes']);
    expect(await json(['kafka-inlet', 'list'])).toEqual([{ addr: 'inlet2', type: 'kafka_inlet' }]);
    // Its port is free again (Ockam leaves the bootstrap inlet bound after a delete).
    await json(['kafka-inlet', 'create', '--to', '/secure/api', '--from', `${first}`]);
    // The deprecated alias lists the same inlets.
    const listed = await ockam(home, ['kafka-consumer', 'list', '--output', 'json']);
    expect(JSON.parse(listed.stdout)).toHaveLength(2);
    await ok(['kafka-inlet', 'delete', '--all', '--yes']);
    expect(await json(['kafka-inlet', 'list'])).toEqual([]);
    // The deprecated kafka-producer create: --bootstrap-server is the inlet's --from, with a warning.
    const aliasPort = await freePort();
    const alias = await ockam(home, [
      'kafka-producer',
      'create',
      '--bootstrap-server',
      `${aliasPort}`,
      '--project-route',
      '/secure/api',
      '--output',
      'json',
    ]);
    expect(alias.code, alias.stderr).toBe(0);
    expect(alias.stderr).toMatch(/deprecated/);
    expect(JSON.parse(alias.stdout)).toMatchObject({ from: `127.0.0.1:${aliasPort}`, to: '/secure/api' });
    await ok(['kafka-producer', 'delete', 'kafka_inlet', '--yes']);
    expect(await json(['kafka-inlet', 'list'])).toEqual([]);
  });

  it("refuse Ockam's conflicts and an overlapping broker port range before asking the node", async () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ['--from', '4000', '--brokers-port-range', '3990-4010'],
        /The bootstrap port 4000 can't overlap with the brokers port range 3990-4010/,
      ],
      [
        ['--consumer', 'self', '--consumer-relay', '/project/default'],
        /cannot be used with '--consumer-relay/,
      ],
      [
        ['--avoid-publishing', '--publishing-relay', '/project/default'],
        /cannot be used with '--publishing-relay/,
      ],
      [['--brokers-port-range', '20-10'], /invalid port range/],
    ];
    for (const [args, re] of cases) {
      const r = await ockam(home, ['kafka-inlet', 'create', ...args]);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr).toMatch(re);
    }
  });

  it("fill consumer resolution and publishing from the flags with Ockam's defaults", () => {
    expect(kafkaInletConfig({})).toMatchObject({
      addr: 'kafka_inlet',
      from: '127.0.0.1:4000',
      brokersPortRange: [4001, 4100],
      to: '/project/default',
      consumerResolution: { kind: 'via-relay', route: '/project/default' },
      consumerPublishing: { kind: 'relay', route: '/project/default' },
    });
    expect(
      kafkaInletConfig({ from: ':65500', to: 'self', consumer: 'self', avoidPublishing: true }),
    ).toMatchObject({
      from: '127.0.0.1:65500',
      brokersPortRange: [65501, 65535],
      to: '/secure/api',
      consumerResolution: { kind: 'single-node', route: '/secure/api' },
      consumerPublishing: { kind: 'none' },
    });
    expect(kafkaInletConfig({ consumerRelay: '/node/relay', to: '/node/out/secure/api' })).toMatchObject({
      consumerResolution: { kind: 'via-relay', route: '/node/relay' },
      consumerPublishing: { kind: 'relay', route: '/node/relay' },
    });
    expect(
      kafkaInletConfig({
        publishingRelay: '/node/pub',
        disableContentEncryption: true,
        encryptedField: ['a', 'b'],
      }),
    ).toMatchObject({
      consumerPublishing: { kind: 'relay', route: '/node/pub' },
      encryptContent: false,
      encryptedFields: ['a', 'b'],
    });
  });

  it('read kafka-outlet and kafka-inlets from a configuration, as flags or as named services', async () => {
    const { nodes } = loadConfig(
      {
        text: 'name: k1\nkafka-outlet:\n  bootstrap-server: 127.0.0.1:19092\nkafka-inlets:\n  consumer:\n    from: 29092\n    to: self\n    avoid-publishing: true\n    encrypted-fields: [f1, f2]\n',
      },
      {},
    );
    expect(nodes[0]).toMatchObject({
      kafkaOutlets: [{ addr: 'kafka_outlet', flags: { 'bootstrap-server': '127.0.0.1:19092' } }],
      kafkaInlets: [
        {
          addr: 'consumer',
          flags: { from: '29092', to: 'self', 'avoid-publishing': true, 'encrypted-field': ['f1', 'f2'] },
        },
      ],
    });
    expect(() => loadConfig({ text: 'kafka-inlet:\n  from: 1\n  colour: red\n' }, {})).toThrow(
      /kafka-inlets.colour: unknown key/,
    );

    const port = await freePort();
    const file = join(home, 'kafka.yaml');
    writeFileSync(
      file,
      `name: kafka-yaml\nkafka-outlet:\n  bootstrap-server: 127.0.0.1:${await freePort()}\nkafka-inlet:\n  from: ${port}\n  to: self\n  consumer: self\n  avoid-publishing: true\n`,
    );
    await ok(['node', 'create', file]);
    expect(await json(['kafka-outlet', 'list', '--at', 'kafka-yaml'])).toEqual([
      { addr: 'kafka_outlet', type: 'kafka_outlet' },
    ]);
    expect(await json(['kafka-inlet', 'list', '--at', 'kafka-yaml'])).toEqual([
      { addr: 'kafka_inlet', type: 'kafka_inlet' },
    ]);
  });
});

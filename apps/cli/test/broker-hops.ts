/**
 * The broker-hop commands against one real broker (each test file starts its own): listeners and
 * connections created, listed and deleted; a secure channel to `/kafka/…` or `/amqp/…`; a route
 * through the `/worker/<hex>` a connection prints.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ockam, tempHome } from './helpers.js';

export interface HopBroker {
  readonly kind: 'kafka' | 'amqp';
  /** The flags that name the broker (`--bootstrap-server H:P`, `--url amqp://…`). */
  readonly brokerArgs: string[];
  /** The flag that names a topic or queue. */
  readonly nameFlag: '--topic' | '--queue';
  /** What must never be printed (a password). */
  readonly secret?: string;
  stop(): Promise<void>;
}

export function brokerHopCommands(title: string, skip: string | undefined, start: () => Promise<HopBroker>) {
  describe.skipIf(skip !== undefined)(title, () => {
    let home: string;
    let cleanup: () => Promise<void>;
    let b: HopBroker;
    beforeAll(async () => {
      ({ home, cleanup } = tempHome());
      b = await start();
      for (const n of ['n1', 'n2', 'n3']) expect((await ockam(home, ['node', 'create', n])).code).toBe(0);
    }, 120_000);
    afterAll(async () => {
      await cleanup?.();
      await b?.stop();
    }, 120_000);

    it('creates listeners, opens a secure channel to /KIND/NAME/service/api and sends through it', async () => {
      for (const n of ['n1', 'n2']) {
        const r = await ockam(home, [
          `${b.kind}-listener`,
          'create',
          ...b.brokerArgs,
          b.nameFlag,
          `ockam.${n}`,
          '--at',
          n,
        ]);
        expect(r).toMatchObject({ code: 0, stdout: `/${b.kind}/ockam.${n}\n` });
      }
      const list = await ockam(home, [`${b.kind}-listener`, 'list', '--at', 'n2']);
      expect(list.stdout).toContain('ockam.n2');
      if (b.secret) expect(list.stdout + list.stderr).not.toContain(b.secret);
      const channel = await ockam(home, [
        'secure-channel',
        'create',
        '--from',
        'n1',
        '--to',
        `/${b.kind}/ockam.n2/service/api`,
      ]);
      expect(channel.code, channel.stderr).toBe(0);
      const address = channel.stdout.trim();
      expect(address).toMatch(/^\/service\/[0-9a-f]+$/);
      const sent = await ockam(home, [
        'message',
        'send',
        'hello',
        '--from',
        'n1',
        '--to',
        `${address}/service/uppercase`,
      ]);
      expect(sent).toMatchObject({ code: 0, stdout: 'HELLO\n' });
    });

    it('prints /worker/<hex> for a connection; a route through it reaches the node behind the broker', async () => {
      const r = await ockam(home, [
        `${b.kind}-listener`,
        'create',
        ...b.brokerArgs,
        b.nameFlag,
        'ockam.n3',
        '--at',
        'n3',
      ]);
      expect(r.code, r.stderr).toBe(0);
      const conn = await ockam(home, [
        `${b.kind}-connection`,
        'create',
        b.nameFlag,
        'ockam.n3',
        '--from',
        'n2',
      ]);
      expect(conn.stdout).toMatch(/^\/worker\/[0-9a-f]{32}\n$/);
      const worker = conn.stdout.trim();
      // n1 -tcp-> n2 -broker-> n3, a secure channel from n1 to n3.
      const sent = await ockam(home, [
        'message',
        'send',
        'through the broker',
        '--from',
        'n1',
        '--to',
        `/node/n2${worker}/secure/api/service/uppercase`,
      ]);
      expect(sent, sent.stderr).toMatchObject({ code: 0, stdout: 'THROUGH THE BROKER\n' });
      const list = await ockam(home, [`${b.kind}-connection`, 'list', '--at', 'n2']);
      expect(list.stdout).toContain(worker);
      const del = await ockam(home, [`${b.kind}-connection`, 'delete', worker, '--at', 'n2', '--yes']);
      expect(del.code, del.stderr).toBe(0);
      expect((await ockam(home, [`${b.kind}-connection`, 'list', '--at', 'n2'])).stdout).not.toContain(
        worker,
      );
      const gone = await ockam(home, [`${b.kind}-listener`, 'delete', 'ockam.n3', '--at', 'n3', '--yes']);
      expect(gone.code, gone.stderr).toBe(0);
      expect((await ockam(home, [`${b.kind}-listener`, 'list', '--at', 'n3'])).stdout).not.toContain(
        'ockam.n3',
      );
    });

    it('refuses a connection on a node without a listener, with a clear error', async () => {
      expect((await ockam(home, ['node', 'create', 'n4'])).code).toBe(0);
      const r = await ockam(home, [`${b.kind}-connection`, 'create', b.nameFlag, 'ockam.n1', '--from', 'n4']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`needs a ${b.kind}-listener`);
    });
  });
}

import { describe, expect, it } from 'vitest';
import { OckamHome } from '../src/home.js';
import { SqliteKafkaDecryptors } from '../src/kafka-decryptors.js';
import { State } from '../src/state.js';
import { tempHomes } from './temp-home.js';

const home = tempHomes('ockam-kafka-decryptors-test-');

const record = (address: string, createdAt: number) => ({
  address,
  producerIdentifier: `I${address}`,
  identityName: 'default',
  keyId: `key-${address}`,
  createdAt,
});

describe('Kafka decryptors in the SQLite state', () => {
  it('keeps decryptors per node, across a reopen, and lists the oldest first', () => {
    const { state, dir } = home();
    const n1 = new SqliteKafkaDecryptors(state, 'n1');
    const n2 = new SqliteKafkaDecryptors(state, 'n2');
    n1.put(record('b', 2));
    n1.put(record('a', 1));
    n1.put(record('c', 3));
    n2.put(record('a', 9));
    expect(n1.count()).toBe(3);
    expect(n1.oldest(2).map((r) => r.address)).toEqual(['a', 'b']);
    expect(n2.get('a')?.createdAt).toBe(9);
    expect(n1.get('zz')).toBeUndefined();

    // Another process (a restarted node) opens the same database.
    const again = new State(new OckamHome(dir));
    try {
      const reopened = new SqliteKafkaDecryptors(again, 'n1');
      expect(reopened.get('c')).toEqual(record('c', 3));
      expect(reopened.delete('c')).toBe(true);
      expect(reopened.delete('c')).toBe(false);
    } finally {
      again.close();
    }
    expect(n1.count()).toBe(2);
  });

  it('refuses names the stores cannot keep', () => {
    const { state } = home();
    const d = new SqliteKafkaDecryptors(state, 'n1');
    expect(() => d.put(record('', 1))).toThrow(/non-empty/);
    expect(() => d.put({ ...record('a', 1), keyId: 'x'.repeat(2000) })).toThrow(/limit/);
  });
});

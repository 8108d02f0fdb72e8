/**
 * The consumer side of Ockam's Kafka key exchange, kept between runs (KAFKA.md §2.6): for each
 * decryptor address a Kafka record may name, who the producer was and which vault key holds the
 * decryption key, so a restarted consumer still reads records written before it stopped.
 *
 * Only references are stored here: the key itself stays in the identity's vault (its SQLite key
 * store encrypts every secret at rest under the vault's master key, bound to the key's id), as
 * identity and purpose keys do. This table is in the node's state database; it is created here
 * when first used (`CREATE TABLE IF NOT EXISTS`), not by the numbered migrations.
 *
 * @example
 * ```ts
 * import { SqliteKafkaDecryptors, State, OckamHome } from '@ockam/state';
 * const decryptors = new SqliteKafkaDecryptors(new State(new OckamHome('/tmp/ockam')), 'n1');
 * decryptors.put({ address: '0123…', producerIdentifier: 'I…', identityName: 'default', keyId: 'ab…', createdAt: Date.now() });
 * decryptors.get('0123…')?.keyId;
 * ```
 */
import type { State } from './state.js';
import { checkName } from './store.js';

/** One key a producer exchanged with this node's `key_exchanger`. */
export interface KafkaDecryptorRecord {
  /** The decryptor address records carry (the value of a local address, tt 0). */
  readonly address: string;
  /** The producer's identifier, checked against the `kafka-producer` policy at every record. */
  readonly producerIdentifier: string;
  /** The identity whose vault holds the key. */
  readonly identityName: string;
  /** The id of the vault key holding the 32-byte key. */
  readonly keyId: string;
  /** Unix milliseconds: the oldest entries go first when the node holds too many. */
  readonly createdAt: number;
}

interface Row {
  address: string;
  producer_identifier: string;
  identity_name: string;
  key_id: string;
  created_at: number;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS kafka_decryptor (
  node_name TEXT NOT NULL,
  address TEXT NOT NULL,
  producer_identifier TEXT NOT NULL,
  identity_name TEXT NOT NULL,
  key_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (node_name, address)
);
CREATE INDEX IF NOT EXISTS kafka_decryptor_age ON kafka_decryptor (node_name, created_at);`;

function toRecord(r: Row): KafkaDecryptorRecord {
  return {
    address: r.address,
    producerIdentifier: r.producer_identifier,
    identityName: r.identity_name,
    keyId: r.key_id,
    createdAt: r.created_at,
  };
}

/** The Kafka decryptors of one node, in its SQLite state. */
export class SqliteKafkaDecryptors {
  constructor(
    readonly state: State,
    readonly nodeName: string,
  ) {
    checkName('node name', nodeName);
    state.exec(SCHEMA);
  }

  /** Stores a decryptor (an address stored again is replaced). */
  put(r: KafkaDecryptorRecord): void {
    checkName('decryptor address', r.address);
    checkName('producer identifier', r.producerIdentifier);
    checkName('identity name', r.identityName);
    checkName('key id', r.keyId);
    this.state.db
      .prepare(
        `INSERT INTO kafka_decryptor (node_name, address, producer_identifier, identity_name, key_id, created_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (node_name, address) DO UPDATE SET producer_identifier = excluded.producer_identifier,
           identity_name = excluded.identity_name, key_id = excluded.key_id, created_at = excluded.created_at`,
      )
      .run(this.nodeName, r.address, r.producerIdentifier, r.identityName, r.keyId, r.createdAt);
  }

  get(address: string): KafkaDecryptorRecord | undefined {
    const r = this.state.db
      .prepare('SELECT * FROM kafka_decryptor WHERE node_name = ? AND address = ?')
      .get(this.nodeName, address) as Row | undefined;
    return r && toRecord(r);
  }

  delete(address: string): boolean {
    return (
      this.state.db
        .prepare('DELETE FROM kafka_decryptor WHERE node_name = ? AND address = ?')
        .run(this.nodeName, address).changes > 0
    );
  }

  count(): number {
    return (
      this.state.db
        .prepare('SELECT COUNT(*) AS n FROM kafka_decryptor WHERE node_name = ?')
        .get(this.nodeName) as { n: number }
    ).n;
  }

  /** The `limit` oldest entries (by `createdAt`, then address). */
  oldest(limit: number): KafkaDecryptorRecord[] {
    return (
      this.state.db
        .prepare('SELECT * FROM kafka_decryptor WHERE node_name = ? ORDER BY created_at, address LIMIT ?')
        .all(this.nodeName, Math.max(0, Math.floor(limit))) as Row[]
    ).map(toRecord);
  }
}

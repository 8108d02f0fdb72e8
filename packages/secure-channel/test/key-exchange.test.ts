import { createDecipheriv } from 'node:crypto';
import { Node, noopLogger, OckamError } from '@ockam/core';
import { createIdentity } from '@ockam/identity';
import { afterEach, describe, expect, it } from 'vitest';
import { type KeyExchangeAccepted, KeyExchangeDecryptor } from '../src/key-exchange.js';
import { createKeyExchangeChannel } from '../src/secure-channel.js';
import { createSecureChannelListener } from '../src/secure-channel-listener.js';
import { trustIdentifier } from '../src/trust-policy.js';
import { BACKENDS, vaultFor } from './helpers.js';

const nodes: Node[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop();
});

async function until(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setImmediate(r));
  }
}

for (const backend of BACKENDS) {
  describe(`key-exchange-only channels (${backend} vault)`, () => {
    async function setup(listenerTrust?: (producer: string) => ReturnType<typeof trustIdentifier>) {
      const node = new Node({ name: 'n', logger: noopLogger });
      nodes.push(node);
      const producerVault = vaultFor(backend);
      const consumerVault = vaultFor(backend);
      const producer = await createIdentity(producerVault);
      const consumer = await createIdentity(consumerVault);
      const accepted: KeyExchangeAccepted[] = [];
      const listener = await createSecureChannelListener(node, {
        identity: consumer,
        vault: consumerVault,
        address: 'key_exchanger',
        keyExchangeOnly: true,
        onKeyExchange: (k) => accepted.push(k),
        // A refused initiator leaves the responder waiting for msg3 until this.
        timeoutMs: 1_000,
        ...(listenerTrust ? { trustPolicy: listenerTrust(producer.identifier) } : {}),
      });
      const base = node.addresses().length;
      return { node, producer, consumer, producerVault, consumerVault, accepted, listener, base };
    }

    it('leaves the initiator an encryptor and the responder a decryptor for the same key, and no worker', async () => {
      const s = await setup();
      const k = await createKeyExchangeChannel(s.node, ['key_exchanger'], {
        identity: s.producer,
        vault: s.producerVault,
      });
      await until(() => s.accepted.length === 1);
      const got = s.accepted[0]!;
      expect(k.peerIdentifier).toBe(s.consumer.identifier);
      expect(got.peerIdentifier).toBe(s.producer.identifier);
      // The record names the responder's decryptor_remote: local (tt 0), 32 hex characters.
      expect(got.decryptorAddress.value).toBe(k.consumerDecryptorAddress.value);
      expect(k.consumerDecryptorAddress.type).toBe(0);
      expect(k.consumerDecryptorAddress.value).toMatch(/^[0-9a-f]{32}$/);
      // Nothing stays up once the handshake is done (no channel workers on either side).
      await until(() => s.node.addresses().length === s.base);
      expect(s.listener.channels.size).toBe(0);

      const plaintext = new TextEncoder().encode('hello kafka');
      const first = k.encryptor.encrypt(plaintext);
      const second = k.encryptor.encrypt(plaintext);
      // nonce_be8 ‖ ciphertext ‖ tag, nonces 0 then 1.
      expect([...first.subarray(0, 8)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
      expect([...second.subarray(0, 8)]).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
      expect(first.length).toBe(8 + plaintext.length + 16);
      // The naive decryptor takes any order, and the same value twice (no replay window).
      expect(new TextDecoder().decode(got.decryptor.decrypt(second))).toBe('hello kafka');
      expect(new TextDecoder().decode(got.decryptor.decrypt(first))).toBe('hello kafka');
      expect(new TextDecoder().decode(got.decryptor.decrypt(first))).toBe('hello kafka');
    });

    it('uses the initiator send key (k2 of the reversed split) with IV 0^4 ‖ nonce_be8 and empty AAD, without rekeying', async () => {
      const s = await setup();
      const k = await createKeyExchangeChannel(s.node, ['key_exchanger'], {
        identity: s.producer,
        vault: s.producerVault,
      });
      await until(() => s.accepted.length === 1);
      // The responder's receive key is k2 (ockam-handshake.test.ts checks the split against the vector).
      const key = s.accepted[0]!.decryptor.exportKey();
      let last = new Uint8Array();
      // Past 32 values: a normal channel would have rekeyed; a key-exchange one never does.
      for (let i = 0; i < 40; i++) last = k.encryptor.encrypt(new Uint8Array([i, i, i]));
      const iv = new Uint8Array(12);
      iv.set(last.subarray(0, 8), 4);
      const d = createDecipheriv('aes-256-gcm', key, iv);
      d.setAAD(new Uint8Array());
      d.setAuthTag(last.subarray(last.length - 16));
      const plain = Buffer.concat([d.update(last.subarray(8, last.length - 16)), d.final()]);
      expect([...plain]).toEqual([39, 39, 39]);
      // A persisted copy decrypts the same values.
      const restored = KeyExchangeDecryptor.fromKey(s.consumerVault, key);
      expect([...restored.decrypt(last)]).toEqual([39, 39, 39]);
    });

    it('refuses a tampered value, a short value and a value under another key', async () => {
      const s = await setup();
      const k1 = await createKeyExchangeChannel(s.node, ['key_exchanger'], {
        identity: s.producer,
        vault: s.producerVault,
      });
      const k2 = await createKeyExchangeChannel(s.node, ['key_exchanger'], {
        identity: s.producer,
        vault: s.producerVault,
      });
      await until(() => s.accepted.length === 2);
      const byAddress = new Map(s.accepted.map((a) => [a.decryptorAddress.value, a.decryptor]));
      const d1 = byAddress.get(k1.consumerDecryptorAddress.value)!;
      const value = k1.encryptor.encrypt(new Uint8Array([1, 2, 3]));
      const tampered = value.slice();
      tampered[9]! ^= 1;
      const refusal = (f: () => unknown) => {
        try {
          f();
        } catch (e) {
          return OckamError.is(e) ? `${e.origin}/${e.kind}` : 'other';
        }
        return 'accepted';
      };
      expect(refusal(() => d1.decrypt(tampered))).toBe('channel/protocol');
      expect(refusal(() => d1.decrypt(value.subarray(0, 23)))).toBe('channel/protocol');
      expect(refusal(() => d1.decrypt(k2.encryptor.encrypt(new Uint8Array([1]))))).toBe('channel/protocol');
      expect([...d1.decrypt(value)]).toEqual([1, 2, 3]);
    });

    it("fails with 'permission' when the initiator's trust policy refuses the responder, leaving no worker", async () => {
      const s = await setup();
      const other = await createIdentity(s.producerVault);
      const error = await createKeyExchangeChannel(s.node, ['key_exchanger'], {
        identity: s.producer,
        vault: s.producerVault,
        trustPolicy: trustIdentifier(other.identifier),
      }).catch((e: unknown) => e);
      expect(OckamError.isKind(error, 'permission', 'channel')).toBe(true);
      await until(() => s.node.addresses().length === s.base);
    });
  });
}

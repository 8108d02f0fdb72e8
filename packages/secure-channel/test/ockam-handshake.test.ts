import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fromHex, toHex } from '@ockam/core';
import { describe, expect, it } from 'vitest';
import { HandshakeState, NOISE_MAX_MESSAGE_SIZE } from '../src/noise-handshake-state.js';
import { noiseProtocol, OCKAM_PROTOCOL_NAME } from '../src/noise-protocol.js';
import { SymmetricState } from '../src/noise-symmetric-state.js';
import { BACKENDS, vaultFor } from './helpers.js';

const vectors = path.resolve(import.meta.dirname, '../../../../shared/vectors');
const fixture = JSON.parse(readFileSync(path.join(vectors, 'ockam/handshake.json'), 'utf8'));
const EMPTY = new Uint8Array(0);

for (const backend of BACKENDS) {
  describe(`Ockam's XX variant on the ${backend} vault`, () => {
    const vault = vaultFor(backend);

    it('initialises h from the 32-byte names with an empty prologue, as the fixtures say', () => {
      const ockam = new SymmetricState(vault, 'aes-256-gcm', OCKAM_PROTOCOL_NAME);
      ockam.mixHash(EMPTY);
      expect(toHex(ockam.handshakeHash)).toBe(fixture.initial_h_for_ockam_name);
      const padded = new SymmetricState(vault, 'aes-256-gcm', 'Noise_XX_25519_AESGCM_SHA256');
      padded.mixHash(EMPTY);
      expect(toHex(padded.handshakeHash)).toBe(fixture.initial_h_for_padded_noise_name);
    });

    async function handshake(protocol: Parameters<typeof HandshakeState.initialize>[0]['protocol']) {
      const v = fixture.vectors[0];
      const init = await HandshakeState.initialize({
        vault,
        protocol,
        initiator: true,
        s: await vault.importX25519(fromHex(v.init_static), { ephemeral: true }),
        e: await vault.importX25519(fromHex(v.init_ephemeral), { ephemeral: true }),
      });
      const resp = await HandshakeState.initialize({
        vault,
        protocol,
        initiator: false,
        s: await vault.importX25519(fromHex(v.resp_static), { ephemeral: true }),
        e: await vault.importX25519(fromHex(v.resp_ephemeral), { ephemeral: true }),
      });
      const messages = [init.writeMessage(EMPTY)];
      resp.readMessage(messages[0]!);
      messages.push(resp.writeMessage(EMPTY));
      init.readMessage(messages[1]!);
      messages.push(init.writeMessage(EMPTY));
      resp.readMessage(messages[2]!);
      return { init: init.split(), resp: resp.split(), messages };
    }

    it('gives the initiator k2 to send and k1 to receive (the reversed split)', async () => {
      // Final keys of Ockam's test_full_handshake1 (PROTOCOL.md §14 item 1), which uses the padded Noise name.
      const k1 = 'b1c674b6535fb1d208772a972cac2cbf04d6aa087cbbd3eb8558a1a3abcaa7fb';
      const k2 = '109c4b99ea3a4784ff55af5eed86c99e853f5a76d83ce437a9e3e27ede242a6a';
      const standard = await handshake('Noise_XX_25519_AESGCM_SHA256');
      expect(toHex(standard.messages[0]!)).toBe(fixture.vectors[0].messages[0].ciphertext);
      expect(toHex(vault.exportSecret(standard.init.send.takeKey()))).toBe(k1);
      const reversed = await handshake({
        ...noiseProtocol('Noise_XX_25519_AESGCM_SHA256'),
        reversedSplit: true,
      });
      expect(toHex(vault.exportSecret(reversed.init.send.takeKey()))).toBe(k2);
      expect(toHex(vault.exportSecret(reversed.init.receive.takeKey()))).toBe(k1);
      expect(toHex(vault.exportSecret(reversed.resp.send.takeKey()))).toBe(k1);
      expect(toHex(vault.exportSecret(reversed.resp.receive.takeKey()))).toBe(k2);
    });

    it('runs the Ockam-named handshake end to end, message sizes 32, 96 and 64', async () => {
      const { init, resp, messages } = await handshake(OCKAM_PROTOCOL_NAME);
      expect(messages.map((m) => m.length)).toEqual([32, 96, 64]);
      const ct = init.send.encryptWithAd(EMPTY, new Uint8Array([1, 2, 3]));
      expect(resp.receive.decryptWithAd(EMPTY, ct)).toEqual(new Uint8Array([1, 2, 3]));
    });

    it('refuses handshake messages over 65535 bytes and dies on a bad message', async () => {
      const init = await HandshakeState.initialize({
        vault,
        protocol: OCKAM_PROTOCOL_NAME,
        initiator: true,
        s: await vault.generateX25519(),
      });
      expect(() => init.writeMessage(new Uint8Array(NOISE_MAX_MESSAGE_SIZE))).toThrow(/exceeds 65535/);
      const resp = await HandshakeState.initialize({
        vault,
        protocol: OCKAM_PROTOCOL_NAME,
        initiator: false,
        s: await vault.generateX25519(),
      });
      expect(() => resp.readMessage(new Uint8Array(NOISE_MAX_MESSAGE_SIZE + 1))).toThrow(/exceeds 65535/);
      expect(() => resp.writeMessage(EMPTY)).toThrow(/already failed/);
      const r2 = await HandshakeState.initialize({
        vault,
        protocol: OCKAM_PROTOCOL_NAME,
        initiator: false,
        s: await vault.generateX25519(),
      });
      expect(() => r2.readMessage(new Uint8Array(31))).toThrow(/truncated/);
      const i2 = await HandshakeState.initialize({
        vault,
        protocol: OCKAM_PROTOCOL_NAME,
        initiator: true,
        s: await vault.generateX25519(),
      });
      const r3 = await HandshakeState.initialize({
        vault,
        protocol: OCKAM_PROTOCOL_NAME,
        initiator: false,
        s: await vault.generateX25519(),
      });
      r3.readMessage(i2.writeMessage(EMPTY));
      const msg2 = r3.writeMessage(new TextEncoder().encode('identity'));
      msg2[40]! ^= 0x80; // inside the encrypted static key
      expect(() => i2.readMessage(msg2)).toThrow(/failed authentication/);
      expect(() => i2.readMessage(msg2)).toThrow(/already failed/);
    });

    it('refuses low-order public keys', async () => {
      const resp = await HandshakeState.initialize({
        vault,
        protocol: OCKAM_PROTOCOL_NAME,
        initiator: false,
        s: await vault.generateX25519(),
      });
      resp.readMessage(new Uint8Array(32)); // e = 0 is read fine, DH happens on the next message
      expect(() => resp.writeMessage(EMPTY)).toThrow(/not usable/);
    });
  });
}

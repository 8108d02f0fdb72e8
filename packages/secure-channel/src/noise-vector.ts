/**
 * Runs Noise test vectors in the cacophony format (also the format of Ockam's handshake
 * fixtures): fixed keys and prologue, then handshake and transport messages that must match
 * byte for byte. Each vector is played by two independent HandshakeStates: the sender's output
 * must equal the expected ciphertext, and the receiver must decrypt the *expected* ciphertext to
 * the expected payload, so both roles are checked against the file.
 *
 * A vector whose pattern, DH, cipher or hash is not implemented is `skipped`, never `passed`.
 *
 * @example
 * ```ts
 * import { runNoiseVector, parseNoiseVectors } from '@ockam/secure-channel';
 * import { createVault } from '@ockam/vault';
 * const vault = createVault('node');
 * for (const v of parseNoiseVectors(JSON.parse(text))) console.log((await runNoiseVector(v, vault)).status);
 * ```
 */
import { bytesEqual, fromHex, type KeyHandle, OckamError, toHex, type Vault } from '@ockam/core';
import { SecureChannelError } from './errors.js';
import { HandshakeState, type TransportCipherStates } from './noise-handshake-state.js';
import { type NoiseProtocol, noiseProtocol } from './noise-protocol.js';

/** One vector, all values hex (cacophony field names). */
export interface NoiseVector {
  protocol_name: string;
  init_prologue?: string;
  init_static?: string;
  init_ephemeral?: string;
  init_remote_static?: string;
  init_remote_ephemeral?: string;
  init_psks?: string[];
  resp_prologue?: string;
  resp_static?: string;
  resp_ephemeral?: string;
  resp_remote_static?: string;
  resp_remote_ephemeral?: string;
  resp_psks?: string[];
  handshake_hash?: string;
  messages: { payload: string; ciphertext: string }[];
}

export interface NoiseVectorResult {
  status: 'passed' | 'failed' | 'skipped';
  /** Why it failed or was skipped. */
  reason?: string;
}

/** Extracts the vectors of a parsed JSON file: `{ vectors: [...] }` or a bare array. */
export function parseNoiseVectors(json: unknown): NoiseVector[] {
  const list = Array.isArray(json) ? json : (json as { vectors?: unknown } | null)?.vectors;
  if (!Array.isArray(list))
    throw new TypeError('expected a JSON array of vectors or an object with a "vectors" array');
  for (const [i, v] of list.entries()) {
    if (
      typeof v !== 'object' ||
      v === null ||
      typeof v.protocol_name !== 'string' ||
      !Array.isArray(v.messages)
    ) {
      throw new TypeError(`vector ${i} lacks protocol_name or messages`);
    }
  }
  return list as NoiseVector[];
}

const hex = (s: string | undefined): Uint8Array | undefined => (s === undefined ? undefined : fromHex(s));

class Mismatch extends Error {}

function expectEqual(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (!bytesEqual(actual, expected))
    throw new Mismatch(`${what}: expected ${toHex(expected)}, got ${toHex(actual)}`);
}

/** Plays one vector as initiator and responder. */
export async function runNoiseVector(vector: NoiseVector, vault: Vault): Promise<NoiseVectorResult> {
  let protocol: NoiseProtocol;
  try {
    protocol = noiseProtocol(vector.protocol_name);
  } catch (e) {
    if (OckamError.isKind(e, 'unsupported')) return { status: 'skipped', reason: (e as Error).message };
    throw e;
  }
  const keys: KeyHandle[] = [];
  const importKey = async (secret: string | undefined) => {
    if (secret === undefined) return undefined;
    const key = await vault.importX25519(fromHex(secret), { ephemeral: true });
    keys.push(key);
    return key;
  };
  const states: HandshakeState[] = [];
  let ciphers: { init: TransportCipherStates; resp: TransportCipherStates } | undefined;
  const step = { where: 'setup' };
  try {
    const init = await HandshakeState.initialize({
      vault,
      protocol,
      initiator: true,
      prologue: hex(vector.init_prologue),
      s: await importKey(vector.init_static),
      e: await importKey(vector.init_ephemeral),
      rs: hex(vector.init_remote_static),
      re: hex(vector.init_remote_ephemeral),
      psks: vector.init_psks?.map((p) => fromHex(p)),
    });
    states.push(init);
    const resp = await HandshakeState.initialize({
      vault,
      protocol,
      initiator: false,
      prologue: hex(vector.resp_prologue),
      s: await importKey(vector.resp_static),
      e: await importKey(vector.resp_ephemeral),
      rs: hex(vector.resp_remote_static),
      re: hex(vector.resp_remote_ephemeral),
      psks: vector.resp_psks?.map((p) => fromHex(p)),
    });
    states.push(resp);
    const handshakeLength = protocol.pattern.messages.length;
    if (vector.messages.length < handshakeLength)
      throw new Mismatch(
        `only ${vector.messages.length} messages for a ${handshakeLength}-message handshake`,
      );
    for (const [i, message] of vector.messages.entries()) {
      const payload = fromHex(message.payload);
      const ciphertext = fromHex(message.ciphertext);
      const fromInitiator = protocol.pattern.oneWay || i % 2 === 0;
      step.where = `message ${i} (${i < handshakeLength ? 'handshake' : 'transport'}, ${fromInitiator ? 'initiator' : 'responder'} → ${fromInitiator ? 'responder' : 'initiator'})`;
      if (i < handshakeLength) {
        const [sender, receiver] = fromInitiator ? [init, resp] : [resp, init];
        expectEqual(sender.writeMessage(payload), ciphertext, 'ciphertext');
        expectEqual(receiver.readMessage(ciphertext), payload, 'payload');
        if (i === handshakeLength - 1) {
          if (vector.handshake_hash !== undefined) {
            const h = fromHex(vector.handshake_hash);
            expectEqual(init.handshakeHash, h, 'initiator handshake hash');
            expectEqual(resp.handshakeHash, h, 'responder handshake hash');
          }
          ciphers = { init: init.split(), resp: resp.split() };
        }
      } else {
        const { init: ic, resp: rc } = ciphers!;
        const [send, receive] = fromInitiator ? [ic.send, rc.receive] : [rc.send, ic.receive];
        const empty = new Uint8Array(0);
        expectEqual(send.encryptWithAd(empty, payload), ciphertext, 'ciphertext');
        expectEqual(receive.decryptWithAd(empty, ciphertext), payload, 'payload');
      }
    }
    return { status: 'passed' };
  } catch (e) {
    if (e instanceof Mismatch || e instanceof SecureChannelError || OckamError.is(e)) {
      return { status: 'failed', reason: `${step.where}: ${(e as Error).message}` };
    }
    return {
      status: 'failed',
      reason: `${step.where}: unexpected ${e instanceof Error ? e.stack : String(e)}`,
    };
  } finally {
    for (const s of states) s.destroy();
    if (ciphers !== undefined) {
      for (const c of [ciphers.init.send, ciphers.init.receive, ciphers.resp.send, ciphers.resp.receive])
        c.destroy();
    }
    for (const k of keys) await vault.deleteKey(k);
  }
}

/**
 * Secure channel handshakes driven by hand over a raw peer (PROTOCOL.md §3.1–§3.3), built from
 * `@ockam/secure-channel`'s own Noise code: msg1 for floods, and a whole initiator side for
 * attacks on an established channel (the peer then knows the responder's decryptor address and
 * holds the channel's keys, so it can send both genuine and forged data frames).
 */
import { randomBytes } from 'node:crypto';
import { type LocalMessage, toRoute, type Vault } from '@ockam/core';
import { createIdentity, rotateIdentity } from '@ockam/identity';
import {
  Decryptor,
  Encryptor,
  HandshakeState,
  OCKAM_PROTOCOL_NAME,
  type SecureChannelIdentity,
  secureChannelIdentity,
} from '@ockam/secure-channel';
import {
  decodeSecureChannelMessage,
  encodeIdentityAndCredentials,
  encodeSecureChannelMessage,
} from '@ockam/secure-channel/codec';
import { createVault } from '@ockam/vault';
import type { RawPeer } from './peer.js';

/**
 * A msg1 as an initiator would send it: an ephemeral public key (32 bytes; random bytes are one
 * as far as the responder can tell) and Ockam's empty payload.
 */
export function msg1(): Uint8Array {
  return randomBytes(32);
}

/** Who a raw initiator says it is: an identity and the vault holding its keys. */
export interface RawIdentity {
  readonly vault: Vault;
  readonly me: SecureChannelIdentity;
}

/**
 * A fresh identity, rotated `rotations` times: each rotation adds a change, which a verifier
 * checks with two signatures (PROTOCOL.md §4.2).
 */
export async function rawIdentity(rotations = 0): Promise<RawIdentity> {
  const vault: Vault = createVault('node');
  let identity = await createIdentity(vault);
  for (let i = 0; i < rotations; i++) identity = await rotateIdentity(vault, identity);
  return { vault, me: await secureChannelIdentity(vault, identity) };
}

/** An initiator's end of a secure channel, run by hand over a raw peer. */
export interface RawChannel {
  /** The responder's decryptor_remote on the node: where data frames go. */
  readonly decryptor: string;
  readonly identifier: string;
  /** Encrypts a Payload message for `onward` with return route `[replyTo]` and sends it. */
  send(onward: readonly string[], payload: Uint8Array): void;
  /** The payloads of the data frames the node sent to `replyTo` so far, decrypted, in order. */
  replies(): Uint8Array[];
  /** Whether the node sent `Close` on this channel (PROTOCOL.md §3.3). */
  closedByNode(): boolean;
}

/**
 * Runs an XX handshake as initiator against the listener at `listener` over `peer`, as `as` (a
 * fresh identity by default); the node's frames for this channel come back to the peer with
 * onward `[replyTo]`. Resolves once msg3 is sent: XX has no fourth message, so whether the
 * responder accepted it shows only in what it does next.
 */
export async function openRawChannel(
  peer: RawPeer,
  options: { listener?: string; replyTo?: string; timeoutMs?: number; as?: RawIdentity } = {},
): Promise<RawChannel> {
  const listener = options.listener ?? 'api';
  const replyTo = options.replyTo ?? `raw_${randomBytes(4).toString('hex')}`;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const { vault, me } = options.as ?? (await rawIdentity());
  const hs = await HandshakeState.initialize({
    vault,
    protocol: OCKAM_PROTOCOL_NAME,
    initiator: true,
    s: me.secureChannelKey,
  });
  const mine = (m: LocalMessage) => m.onwardRoute.toString() === `0#${replyTo}`;
  const seen = peer.received.filter(mine).length;
  peer.send([listener], hs.writeMessage(new Uint8Array(0)), [replyTo]);
  if (!(await peer.waitFor(() => peer.received.filter(mine).length > seen, timeoutMs)))
    throw new Error(`no msg2 from ${listener} within ${timeoutMs} ms`);
  const msg2 = peer.received.filter(mine)[seen]!;
  hs.readMessage(msg2.payload);
  const decryptor = msg2.returnRoute.recipient().value;
  const msg3 = hs.writeMessage(
    encodeIdentityAndCredentials({
      changeHistory: me.changeHistory,
      purposeKeyAttestation: me.purposeKeyAttestation,
      credentials: [],
    }),
  );
  peer.send([decryptor], msg3, [replyTo]);
  const { send, receive } = hs.split();
  const encryptor = new Encryptor(vault, send.takeKey());
  const decrypting = new Decryptor(vault, receive.takeKey());
  let read = peer.received.filter(mine).length;
  const decrypted: Uint8Array[] = [];
  let closed = false;
  const readFrames = () => {
    const frames = peer.received.filter(mine);
    for (; read < frames.length; read++) {
      const decoded = decodeSecureChannelMessage(decrypting.decrypt(frames[read]!.payload));
      if (decoded.kind === 'payload') decrypted.push(decoded.payload);
      else if (decoded.kind === 'close') closed = true;
    }
  };
  return {
    decryptor,
    identifier: me.identifier,
    send(onward, payload) {
      const plaintext = encodeSecureChannelMessage({
        kind: 'payload',
        onwardRoute: toRoute(onward),
        returnRoute: toRoute([replyTo]),
        payload,
      });
      // Data frames go with an empty return route (PROTOCOL.md §3.3); the node's TCP receiver
      // prepends its sender.
      peer.send([decryptor], encryptor.encrypt(plaintext), []);
    },
    replies() {
      readFrames();
      return decrypted;
    },
    closedByNode() {
      readFrames();
      return closed;
    },
  };
}

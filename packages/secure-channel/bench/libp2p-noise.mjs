// Helpers to drive @chainsafe/libp2p-noise's XX handshake outside libp2p: its components (an
// Ed25519 identity key, a no-op logger, an upgrader without muxers), an in-memory duplex pair,
// and a duplex over a node:net socket.
import { once } from 'node:events';
import { noise } from '@chainsafe/libp2p-noise';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';

const log = Object.assign(() => {}, { enabled: false, error() {}, trace() {} });
const logger = { forComponent: () => log };
const upgrader = { getStreamMuxers: () => new Map() };

/** A Noise encrypter with its own Ed25519 identity (its X25519 static key is made once and reused). */
export async function noiseEndpoint() {
  const privateKey = await generateKeyPair('Ed25519');
  const peerId = peerIdFromPrivateKey(privateKey);
  return { peerId, encrypter: noise()({ privateKey, peerId, logger, upgrader }) };
}

/** it-stream-types Duplex over a socket: the socket is the source; the sink writes with back-pressure. */
export function socketDuplex(socket) {
  return {
    source: socket,
    async sink(source) {
      for await (const chunk of source) {
        const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray();
        if (!socket.write(bytes)) await once(socket, 'drain');
      }
    },
  };
}

/** The options that skip early muxer negotiation (we compare the bare handshake). */
export const HANDSHAKE_ONLY = { skipStreamMuxerNegotiation: true };

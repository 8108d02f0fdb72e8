/**
 * State classes that bring the identity and vault packages and their cryptography with them
 * (~20 ms of loading and initialising: AES tables, curve points, the native AEAD addon), which
 * `node list` or `message send` never need. `CliContext` loads this module on first use, with a
 * synchronous `require` of ES modules (Node.js 20.19+), so its getters stay synchronous.
 */
export { Identities, Projects } from '@ockam/state';

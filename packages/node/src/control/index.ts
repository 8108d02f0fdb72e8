/**
 * The daemon's control API, for programs that drive `ockam-node` daemons (the `ockam` command):
 * its one typed definition and the client built from it. No daemon code comes with it.
 *
 * @example
 * ```ts
 * import { ControlClient } from '@ockam/node/control';
 * const status = await new ControlClient(socketPath, 'n1').call('status', {});
 * ```
 */
export * from './api.js';
export { ControlApiError, ControlClient } from './client.js';

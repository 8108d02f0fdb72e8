/**
 * `@ockam/core/testing`: the stream transport conformance suite and the helpers transport tests
 * share. Not part of the main entry: it imports vitest.
 *
 * @example
 * ```ts
 * import { streamTransportConformance, waitFor } from '@ockam/core/testing';
 * ```
 */
export {
  type ConformanceConnection,
  type ConformanceListener,
  type ConformanceOptions,
  type ConformanceTransport,
  type StreamTransportHarness,
  streamTransportConformance,
} from './conformance.js';
export { echoNode, type RecordingNode, recordingNode, waitFor } from './test-nodes.js';

/**
 * `@ockam/daemon`: the `ockam-node` process around an `@ockam/node` node (control API on a Unix
 * socket, HTTP status server, logs, signals), and what the `ockam` command needs to start and
 * stop such processes.
 *
 * @example
 * ```ts
 * import { OckamHome } from '@ockam/state';
 * import { spawnNode, stopNodeProcess } from '@ockam/daemon';
 * const home = new OckamHome('/tmp/ockam');
 * await spawnNode(home, 'n1');
 * ```
 */
export { ControlServer, type Handlers, HttpError, socketAnswers } from './control-server.js';
export { type DaemonFailed, type DaemonReady, runDaemon } from './daemon.js';
export {
  type FileLogOptions,
  fileLogSink,
  type LogFormat,
  type LogSink,
  logFormatFromEnv,
  logRotationFromEnv,
  parseLogLevel,
  redact,
  resolveLogLevel,
  rotate,
  stderrLogSink,
} from './log-sink.js';
export {
  DAEMON_PATH,
  isNodeProcess,
  isNodeRunning,
  pidAlive,
  runForegroundNode,
  type SpawnNodeOptions,
  spawnNode,
  stopNodeProcess,
} from './processes.js';
export { type NodeRuntime, type NodeRuntimeOptions, startNodeRuntime } from './runtime.js';
export {
  REFUSED_HOST_LOG_INTERVAL_MS,
  renderMetrics,
  type StatusServer,
  type StatusServerOptions,
  type StatusSource,
  startStatusServer,
} from './status-server.js';

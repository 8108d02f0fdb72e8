export {
  DEFAULT_IDENTITY_NAME,
  DEFAULT_VAULT_NAME,
  ensurePrivateDir,
  Identities,
  type IdentityRecord,
  NODE_NAME_PATTERN,
  type NodeRecord,
  OckamHome,
  type OpenVault,
  openPostgres,
  PASSPHRASE_ENV,
  type PostgresConfig,
  PostgresMemberStore,
  PostgresTokenStore,
  type ProjectAuthority,
  type ProjectRecord,
  Projects,
  postgresConfigFromEnv,
  SqliteAttributesStore,
  SqliteMemberStore,
  SqlitePolicyStore,
  SqliteTokenStore,
  State,
  StateError,
  type VaultRecord,
  validateNodeName,
} from '@ockam/state';
export { type ClientNode, withClientNode } from './client-node.js';
export { ControlApiError, ControlClient } from './control-client.js';
export type {
  ApiErrorBody,
  CreateTcpConnectionRequest,
  NodeStatus,
  SendMessageRequest,
  SendMessageResponse,
  TcpConnectionInfo,
} from './control-protocol.js';
export { ControlServer, HttpError, socketAnswers } from './control-server.js';
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
  type InletConfig,
  type InletInfo,
  type OutletConfig,
  type OutletInfo,
  Portals,
  type RelayConfig,
  type RelayInfo,
} from './portals.js';
export {
  DAEMON_PATH,
  isNodeProcess,
  isNodeRunning,
  pidAlive,
  type SpawnNodeOptions,
  spawnNode,
  stopNodeProcess,
} from './processes.js';
export { type ResolveOptions, type RouteContext, resolveMultiaddr } from './route-resolver.js';
export { type NodeRuntime, type NodeRuntimeOptions, startNodeRuntime } from './runtime.js';
export { type ChannelInfo, type ListenerInfo, SecureChannels } from './secure-channels.js';
export {
  type Metric,
  REFUSED_HOST_LOG_INTERVAL_MS,
  renderMetrics,
  type StatusServer,
  type StatusServerOptions,
  type StatusSource,
  startStatusServer,
} from './status-server.js';
export { NodeTrust, type NodeTrustOptions, type TrustConfig } from './trust.js';

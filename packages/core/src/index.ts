export {
  type AccessControl,
  allOf,
  allowAll,
  allowOnwardAddresses,
  allowSourceAddresses,
  anyOf,
  denyAll,
  type IncomingAccessControl,
  type OutgoingAccessControl,
  type RelayMessage,
} from './access-control.js';
export {
  Address,
  type AddressLike,
  AMQP,
  BLE,
  KAFKA,
  LOCAL,
  MAX_ADDRESS_LENGTH,
  TCP,
  toAddress,
  UDP,
  UDS,
  WS,
} from './address.js';
export {
  decodeBareBytes,
  decodeBareString,
  encodeBareBytes,
  encodeBareString,
  encodeUvarint,
  readBareBytes,
  readUvarint,
  uvarintLength,
  writeUvarint,
} from './bare.js';
export {
  CborReader,
  type CborType,
  type CborValue,
  CborWriter,
  decodeCbor,
  encodeCbor,
  MAX_CBOR_DEPTH,
} from './cbor.js';
export {
  CancelledError,
  DecodeError,
  type ErrorKind,
  type ErrorOrigin,
  OckamError,
  type OckamErrorOptions,
  RouteError,
  TimeoutError,
  throwIfAborted,
} from './errors.js';
export { type FlowControlId, FlowControls, type ProducerInfo } from './flow-control.js';
export {
  bytesEqual,
  concatBytes,
  copyBytes,
  fromHex,
  fromUtf8,
  joinBytes,
  randomBytes,
  randomHex,
  toHex,
  utf8,
} from './hex.js';
export {
  DEFAULT_CONNECTION_ALLOWANCE_BYTES,
  DEFAULT_FIRST_MESSAGE_TIMEOUT_MS,
  DEFAULT_FRAME_TIMEOUT_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_CONNECTIONS,
  InboundGuard,
  type InboundGuardOptions,
  type InboundLimitInfo,
  type InboundLimitName,
  type InboundLimits,
  type InboundLimitsOptions,
  type InboundStats,
  type InboundWatch,
  type InboundWatchOptions,
  inboundLimits,
  READ_OVERHEAD_BYTES,
} from './inbound-limits.js';
export { Listeners } from './listeners.js';
export {
  DEFAULT_LOG_INTERVAL_MS,
  LogLimiter,
  type LogLimiterLevel,
  type LogLimiterOptions,
  MAX_LOG_KINDS,
} from './log-limiter.js';
export {
  consoleLogger,
  createLogger,
  defaultLogger,
  LOG_LEVELS,
  type LogFields,
  type Logger,
  type LogLevel,
  type LogLine,
  levelEnabled,
  noopLogger,
  recordingLogger,
  redact,
} from './logger.js';
export {
  type DecodeTransportMessageOptions,
  decodeLegacyTransportMessage,
  decodeTransportMessage,
  decodeTransportMessageParts,
  encodeLegacyTransportMessage,
  encodeTransportMessage,
  type LocalInfo,
  LocalMessage,
  MAX_ROUTE_LENGTH,
  readCborAddress,
  readCborRoute,
  writeCborAddress,
  writeCborRoute,
} from './message.js';
export {
  isBrokerName,
  MultiAddr,
  type MultiAddrComponent,
  PROTOCOL_CODES,
  type Protocol,
  parseHostPort,
} from './multiaddr.js';
export {
  type AddressMetadata,
  Client,
  DEFAULT_MAILBOX_CAPACITY,
  DEFAULT_REFUSAL_LOG_INTERVAL_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_TIME_SLICE_MS,
  MAX_REPLY_HOPS,
  type MailboxOptions,
  type MailboxSpec,
  Node,
  type NodeOptions,
  type RoutedMessage,
  type SendOptions,
  type Worker,
  WorkerContext,
  type WorkerOptions,
} from './node.js';
export { Route, type RouteLike, toRoute } from './route.js';
export {
  ECHO_SERVICE,
  HOP_SERVICE,
  startEcho,
  startHop,
  startUppercase,
  UPPERCASE_SERVICE,
} from './services.js';
export {
  type Awaitable,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_RECEIVE_BUFFER_BYTES,
  IDENTITY_SECURE_CHANNEL_IDENTIFIER,
  MAX_MESSAGE_SIZE,
} from './shared.js';
export { raceSignal, SharedDials } from './shared-dials.js';
export {
  type ListeningServer,
  type WhenListeningOptions,
  whenListening,
} from './stream-transport/listening.js';
export {
  closeWithin,
  errorMessage,
  formatHostPort,
  type HostPort,
  type StreamCloseCause,
  type StreamCloseInfo,
  StreamConnection,
  type StreamConnectionInit,
  type StreamConnectionMode,
  type StreamConnectionStats,
  type StreamConnectionView,
  type StreamConnectOptions,
} from './stream-transport/stream-connection.js';
export { StreamListener, type StreamListenerInit } from './stream-transport/stream-listener.js';
export {
  type AdoptedInit,
  type AdoptSource,
  StreamTransport,
  type StreamTransportEvents,
  type StreamTransportInit,
} from './stream-transport/stream-transport.js';
export type { Transport } from './transport.js';
export type {
  AeadAlgorithm,
  AeadKeyHandle,
  KeyHandle,
  KeyType,
  PublicKey,
  SecretHandle,
  SecureChannelVault,
  SigningKeyType,
  SigningVault,
  Vault,
} from './vault.js';

/**
 * The node daemon's entry point: `ockam-node --name NAME [--tcp-listener-address HOST:PORT]
 * [--log-level LEVEL] [--foreground]`. The `ockam` command starts it in the background; it reports
 * readiness over the IPC channel when it has one, then runs until SIGTERM/SIGINT or
 * `POST /stop`.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { handshakeLimitsFromEnv, type RelayLimits, transportLimitsFromEnv } from '@ockam/node';
import { OckamHome, State, validateNodeName } from '@ockam/state';
import {
  fileLogSink,
  type LogSink,
  logFormatFromEnv,
  logRotationFromEnv,
  resolveLogLevel,
  stderrLogSink,
} from './log-sink.js';
import { startNodeRuntime } from './runtime.js';

export interface DaemonReady {
  type: 'ready';
  pid: number;
  tcpListenerAddress: string;
}

export interface DaemonFailed {
  type: 'error';
  message: string;
}

export async function runDaemon(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      name: { type: 'string' },
      'tcp-listener-address': { type: 'string' },
      'log-level': { type: 'string' },
      identity: { type: 'string' },
      'http-server': { type: 'string' },
      'websocket-listener-address': { type: 'string' },
      'websocket-allowed-origin': { type: 'string', multiple: true },
      'http-server-allowed-host': { type: 'string', multiple: true },
      udp: { type: 'boolean', default: false },
      rendezvous: { type: 'string' },
      'rendezvous-service': { type: 'string' },
      foreground: { type: 'boolean', default: false },
      home: { type: 'string' },
    },
    strict: true,
  });
  const report = (msg: DaemonReady | DaemonFailed) => {
    if (process.send) process.send(msg);
  };
  const home = new OckamHome(values.home);
  const name = validateNodeName(values.name ?? '');
  const level = resolveLogLevel(values['log-level'], 0);
  // A foreground node (as in Ockam) logs to the terminal and writes nothing under nodes/NAME.
  if (!values.foreground) home.ensureNodeDir(name);
  const sink: LogSink = values.foreground
    ? stderrLogSink(level, { node: name })
    : fileLogSink(home.logPath(name), {
        level,
        format: logFormatFromEnv(),
        ...logRotationFromEnv(),
        base: { node: name },
      });
  const logger = sink.logger;

  let state: State | undefined;
  try {
    state = new State(home);
    for (const warning of home.warnings()) logger.warn(warning);
    if (!state.getNode(name)) state.createNode(name);
    let stop: (() => Promise<void>) | undefined;
    const requestStop = () => {
      void (async () => {
        await stop?.();
        state?.markStopped(name, process.pid);
        state?.close();
        await sink.close();
        process.exit(0);
      })();
    };
    const runtime = await startNodeRuntime({
      home,
      state,
      name,
      logger,
      ...(values.identity ? { identity: values.identity } : {}),
      ...(values['http-server'] ? { httpServer: values['http-server'] } : {}),
      ...(values['websocket-listener-address']
        ? {
            websocket: {
              listen: values['websocket-listener-address'],
              allowedOrigins: values['websocket-allowed-origin'] ?? [],
            },
          }
        : {}),
      httpServerAllowedHosts: values['http-server-allowed-host'] ?? [],
      ...(values.udp || values['rendezvous-service']
        ? {
            udp: {
              ...(values.rendezvous ? { rendezvous: values.rendezvous } : {}),
              ...(values['rendezvous-service'] ? { rendezvousService: values['rendezvous-service'] } : {}),
            },
          }
        : {}),
      exampleDir: fileURLToPath(new URL('../browser-example/', import.meta.url)),
      ...sessionFromEnv(),
      ...relayLimitsFromEnv(),
      handshakeLimits: handshakeLimitsFromEnv(),
      transportLimits: transportLimitsFromEnv(),

      onStopRequested: requestStop,
      ...(values['tcp-listener-address'] ? { tcpListenerAddress: values['tcp-listener-address'] } : {}),
    });
    stop = () => runtime.stop();
    state.markStarted(name, process.pid, runtime.tcpListenerAddress);
    process.on('SIGTERM', requestStop);
    process.on('SIGINT', requestStop);
    process.on('uncaughtException', (e) => {
      logger.error('uncaught exception; stopping', { error: e.stack ?? String(e) });
      requestStop();
    });
    process.on('unhandledRejection', (e) => {
      logger.error('unhandled promise rejection', {
        error: e instanceof Error ? (e.stack ?? e.message) : String(e),
      });
    });
    report({ type: 'ready', pid: process.pid, tcpListenerAddress: runtime.tcpListenerAddress });
    if (values.foreground)
      process.stderr.write(`Node ${name} is running on ${runtime.tcpListenerAddress} (Ctrl-C to stop)\n`);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    logger.error('node failed to start', { error: message });
    report({ type: 'error', message });
    state?.close();
    await sink.close();
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 50).unref();
  }
}

/**
 * Route watching of inlets and relays: Ockam pings every 10 s and rebuilds after 3 misses.
 * `OCKAM_PING_INTERVAL_MS` changes the interval (tests use a short one).
 */
function sessionFromEnv(env = process.env): { session?: { pingIntervalMs: number } } {
  const v = env.OCKAM_PING_INTERVAL_MS;
  if (v === undefined || v === '') return {};
  const ms = Number(v);
  if (!Number.isInteger(ms) || ms < 10)
    throw new Error(`Invalid OCKAM_PING_INTERVAL_MS '${v}': a whole number of milliseconds ≥ 10`);
  return { session: { pingIntervalMs: ms } };
}

/**
 * Limits of the relay service: `OCKAM_MAX_RELAYS` (default 1,024 relays on this node) and
 * `OCKAM_MAX_RELAYS_PER_REGISTRANT` (default 64 per identity or plain connection).
 */
function relayLimitsFromEnv(env = process.env): { relayLimits?: RelayLimits } {
  const limits: RelayLimits = {};
  for (const [key, variable] of [
    ['maxRelays', 'OCKAM_MAX_RELAYS'],
    ['maxRelaysPerRegistrant', 'OCKAM_MAX_RELAYS_PER_REGISTRANT'],
  ] as const) {
    const v = env[variable];
    if (v === undefined || v === '') continue;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`Invalid ${variable} '${v}': a whole number ≥ 1`);
    limits[key] = n;
  }
  return Object.keys(limits).length > 0 ? { relayLimits: limits } : {};
}

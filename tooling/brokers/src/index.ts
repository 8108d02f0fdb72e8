/**
 * Real message brokers for tests and benchmarks, started on free ports in temporary directories
 * and stopped by the caller (and, as a last resort, when the test process exits):
 *
 * ```ts
 * import { kafkaTool, startKafka, startRabbitMQ } from '@ockam/brokers';
 *
 * const kafka = await startKafka({ partitions: 2 });
 * await kafkaTool('kafka.tools.ConsoleProducer', ['--bootstrap-server', kafka.bootstrap, '--topic', 't'], { input: 'hello\n' });
 * await kafka.restart(); // same ports, same data
 * await kafka.stop();
 *
 * const rabbit = await startRabbitMQ(); // rabbit.url = 'amqp://guest:guest@127.0.0.1:PORT'
 * await rabbit.stop();
 * ```
 *
 * - Kafka is Apache Kafka 3.7.2 in KRaft mode (one process is both broker and controller), from the
 *   jars `scripts/kafka-dist.sh` caches (`OCKAM_KAFKA_LIBS` overrides where they are).
 * - RabbitMQ is Debian's `rabbitmq-server`, run as the current user with its own node name, ports,
 *   database and Erlang cookie, so several can run beside a system one.
 * - `brokerSkipReason()` says why a broker cannot run here; with `OCKAM_BROKERS_REQUIRED=1` (CI)
 *   it throws instead, so a suite fails rather than skips when CI forgot to install a broker.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { until } from './wait.js';

export const KAFKA_VERSION = '3.7.2';
/** How long a broker may take to start on a busy 2-core machine. */
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 60_000;

/** Where the Kafka jars are, or undefined when `scripts/kafka-dist.sh` has not fetched them. */
export function kafkaLibs(): string | undefined {
  const cache = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  const dir = process.env.OCKAM_KAFKA_LIBS ?? join(cache, 'ockam-ts', 'kafka', KAFKA_VERSION, 'libs');
  return existsSync(join(dir, `kafka_2.13-${KAFKA_VERSION}.jar`)) ? dir : undefined;
}

const RABBITMQ_BIN = '/usr/lib/rabbitmq/bin';

function onPath(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Why `kind` cannot run on this machine (undefined when it can). Throws instead when
 * `OCKAM_BROKERS_REQUIRED=1`, which `.ci/run` sets after installing both brokers.
 */
export function brokerSkipReason(kind: 'kafka' | 'rabbitmq' | 'kcat'): string | undefined {
  let reason: string | undefined;
  if (kind === 'kafka') {
    if (!onPath('java')) reason = 'java is not installed (OpenJDK 17 runs the Kafka broker)';
    else if (!kafkaLibs()) reason = `Kafka ${KAFKA_VERSION} jars are missing: run scripts/kafka-dist.sh`;
  } else if (kind === 'rabbitmq') {
    if (!existsSync(join(RABBITMQ_BIN, 'rabbitmq-server')))
      reason = "Debian's rabbitmq-server is not installed (apt-get install rabbitmq-server)";
  } else if (!onPath('kcat')) reason = "Debian's kcat is not installed (apt-get install kcat)";
  if (reason && process.env.OCKAM_BROKERS_REQUIRED === '1')
    throw new Error(`${reason} (OCKAM_BROKERS_REQUIRED=1: brokers must run here)`);
  return reason;
}

// Every process started here, killed when the test process exits even if a test forgot to.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) killGroup(p, 'SIGKILL');
});

function killGroup(p: ChildProcess, signal: NodeJS.Signals): void {
  if (p.pid === undefined || p.exitCode !== null || p.signalCode !== null) return;
  try {
    process.kill(-p.pid, signal);
  } catch {
    try {
      p.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** Starts `command` in its own process group (so stopping it stops its children), output to `logFile`. */
function startProcess(command: string, args: string[], env: NodeJS.ProcessEnv, logFile: string, cwd: string) {
  // Appending keeps the output of every run of a restarted broker in one file.
  const out = openSync(logFile, 'a');
  const p = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', out, out] });
  live.add(p);
  const exited = new Promise<void>((done) => p.once('exit', () => done()));
  void exited.then(() => live.delete(p));
  return { process: p, exited };
}

async function stopProcess(p: { process: ChildProcess; exited: Promise<void> }): Promise<void> {
  if (p.process.exitCode !== null || p.process.signalCode !== null) return;
  killGroup(p.process, 'SIGTERM');
  const timer = setTimeout(() => killGroup(p.process, 'SIGKILL'), STOP_TIMEOUT_MS);
  await p.exited;
  clearTimeout(timer);
}

/** Sends `request` to 127.0.0.1:port; true once the reply so far passes `check`, false on error or timeout. */
function probe(port: number, request: Buffer, check: (reply: Buffer) => boolean): Promise<boolean> {
  return new Promise((done) => {
    const s = connect({ host: '127.0.0.1', port });
    let reply = Buffer.alloc(0);
    const finish = (ok: boolean) => {
      s.destroy();
      done(ok);
    };
    s.setTimeout(5_000, () => finish(false));
    s.once('error', () => finish(false));
    s.once('connect', () => s.write(request));
    s.on('data', (d: Buffer) => {
      reply = Buffer.concat([reply, d]);
      if (check(reply)) finish(true);
    });
    s.once('end', () => finish(check(reply)));
  });
}

/** A Kafka Metadata v0 request for all topics; the broker is ready when it answers with ≥ 1 broker. */
function metadataProbe(): Buffer {
  const clientId = Buffer.from('ockam-probe');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4);
  let o = 0;
  o = body.writeInt16BE(3, o); // api key: Metadata
  o = body.writeInt16BE(0, o); // version 0
  o = body.writeInt32BE(1, o); // correlation id
  o = body.writeInt16BE(clientId.length, o);
  o += clientId.copy(body, o);
  body.writeInt32BE(0, o); // no topics = all
  const frame = Buffer.alloc(4);
  frame.writeInt32BE(body.length);
  return Buffer.concat([frame, body]);
}

function kafkaReady(port: number): Promise<boolean> {
  return probe(port, metadataProbe(), (r) => r.length >= 12 && r.readInt32BE(8) >= 1);
}

/** The AMQP 0-9-1 protocol header; a ready RabbitMQ answers with a Connection.Start method frame. */
function rabbitReady(port: number): Promise<boolean> {
  return probe(port, Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'), (r) => r.length >= 7 && r[0] === 1);
}

export interface StartedBroker {
  /** The temporary directory holding the broker's data, configuration and log. */
  readonly dir: string;
  /** The broker's own output (Kafka's log4j / RabbitMQ's log), for a failing test to print. */
  output(): string;
  /** Stops the broker (graceful, then killed after 60 s); its data stays until `stop({ remove: true })`. */
  stop(options?: { remove?: boolean }): Promise<void>;
  /** Stops and starts it again on the same ports with the same data. */
  restart(): Promise<void>;
}

/**
 * Starts a broker process and waits until `ready()` (or until it dies, which throws with the end of
 * its log); the returned stop/restart act on whichever process is current.
 */
async function runBroker(
  name: string,
  spawnIt: () => ReturnType<typeof startProcess>,
  ready: () => Promise<boolean>,
  logFile: string,
  dir: string,
): Promise<Pick<StartedBroker, 'stop' | 'restart'>> {
  let proc: ReturnType<typeof startProcess> | undefined;
  const start = async () => {
    const p = spawnIt();
    proc = p;
    let died = false;
    void p.exited.then(() => {
      died = true;
    });
    await until(
      async () => died || (await ready()),
      START_TIMEOUT_MS,
      () => `${name}: ${tail(logFile)}`,
    );
    if (died) throw new Error(`${name} exited during start: ${tail(logFile)}`);
  };
  await start();
  return {
    async stop(o = {}) {
      if (proc) await stopProcess(proc);
      if (o.remove) rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      if (proc) await stopProcess(proc);
      await start();
    },
  };
}

export interface KafkaBroker extends StartedBroker {
  /** `127.0.0.1:PORT`, the bootstrap server clients use. */
  readonly bootstrap: string;
  readonly port: number;
  /** The broker's `log.dirs`: topic-partition directories with their log segments. */
  readonly logDir: string;
}

export interface KafkaOptions {
  /** Partitions of auto-created topics (default 1). */
  partitions?: number;
  /** More `server.properties` entries. */
  config?: Record<string, string | number | boolean>;
  /** Maximum Java heap (default 512m). */
  heap?: string;
}

/**
 * A random KRaft cluster id: 16 random bytes in base64url, as Kafka's `Uuid.randomUuid()` makes
 * them, and like it never starting with '-', which StorageTool's argument parser would read as an
 * option (1 draw in 64 did, and formatting failed).
 */
export function kafkaClusterId(
  random: () => Uint8Array = () => crypto.getRandomValues(new Uint8Array(16)),
): string {
  for (;;) {
    const id = Buffer.from(random()).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** Runs StorageTool; a failure carries the tool's own output, not only its command line. */
function formatKafkaStorage(args: string[]): void {
  try {
    execFileSync('java', args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 20 });
  } catch (error) {
    const e = error as { stdout?: Buffer; stderr?: Buffer; message: string };
    const output = `${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`.trim().slice(-2000);
    throw new Error(`Kafka's StorageTool could not format the log directory: ${output || e.message}`);
  }
}

/** Starts a single-node Kafka 3.7 (KRaft, PLAINTEXT on 127.0.0.1) and waits until it serves metadata. */
export async function startKafka(options: KafkaOptions = {}): Promise<KafkaBroker> {
  const libs = kafkaLibs();
  if (!libs) throw new Error(brokerSkipReason('kafka') ?? 'Kafka jars are missing');
  const dir = mkdtempSync(join(tmpdir(), 'ockam-kafka-'));
  const logDir = join(dir, 'data');
  const port = await freePort('tcp');
  const controllerPort = await freePort('tcp');
  const properties: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'log.dirs': logDir,
    'num.partitions': options.partitions ?? 1,
    // One broker: replication factor 1 everywhere, and few internal partitions so that the first
    // consumer group and transaction do not wait for 50 partitions to be created.
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 1,
    'group.initial.rebalance.delay.ms': 0,
    'auto.create.topics.enable': true,
    ...options.config,
  };
  const propertiesFile = join(dir, 'server.properties');
  writeFileSync(
    propertiesFile,
    `${Object.entries(properties)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
  );
  const log4j = writeLog4j(dir, 'INFO');
  const logFile = join(dir, 'broker.log');
  const java = (main: string, args: string[], heap: string) => [
    `-Xmx${heap}`,
    '-XX:+UseSerialGC',
    `-Dlog4j.configuration=file:${log4j}`,
    '-cp',
    `${libs}/*`,
    main,
    ...args,
  ];
  // KRaft needs its storage formatted with a cluster id once (22 base64url characters).
  formatKafkaStorage(
    java('kafka.tools.StorageTool', ['format', '-t', kafkaClusterId(), '-c', propertiesFile], '256m'),
  );

  const broker = await runBroker(
    'Kafka',
    () =>
      startProcess(
        'java',
        java('kafka.Kafka', [propertiesFile], options.heap ?? '512m'),
        process.env,
        logFile,
        dir,
      ),
    () => kafkaReady(port),
    logFile,
    dir,
  );
  return {
    dir,
    bootstrap: `127.0.0.1:${port}`,
    port,
    logDir,
    output: () => readText(logFile),
    ...broker,
  };
}

export interface RabbitMQBroker extends StartedBroker {
  /** `amqp://guest:guest@127.0.0.1:PORT` (guest may connect from loopback only). */
  readonly url: string;
  readonly port: number;
  /** The Erlang node name, for `rabbitmqctl -n`. */
  readonly nodeName: string;
  /** Runs `rabbitmqctl -n NODE …` against this broker and returns its output. */
  ctl(args: string[]): string;
}

/** Starts a private RabbitMQ (AMQP 0-9-1 on 127.0.0.1, no plugins) and waits until it accepts AMQP. */
export async function startRabbitMQ(): Promise<RabbitMQBroker> {
  const reason = brokerSkipReason('rabbitmq');
  if (reason) throw new Error(reason);
  const dir = mkdtempSync(join(tmpdir(), 'ockam-rabbitmq-'));
  const port = await freePort('tcp');
  const distPort = await freePort('tcp');
  const nodeName = `ockam${port}@localhost`;
  for (const d of ['mnesia', 'log']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  writeFileSync(join(dir, 'rabbitmq.conf'), `listeners.tcp.1 = 127.0.0.1:${port}\n`);
  // Run the server script itself, not Debian's /usr/sbin wrapper (which switches to the
  // `rabbitmq` user and its system directories); HOME holds this node's own Erlang cookie.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: dir,
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_LOGS: '-',
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_PID_FILE: join(dir, 'rabbitmq.pid'),
  };
  const logFile = join(dir, 'rabbitmq.log');
  const broker = await runBroker(
    'RabbitMQ',
    () => startProcess(join(RABBITMQ_BIN, 'rabbitmq-server'), [], env, logFile, dir),
    () => rabbitReady(port),
    logFile,
    dir,
  );
  return {
    dir,
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    port,
    nodeName,
    output: () => readText(logFile),
    ctl: (args) =>
      execFileSync(join(RABBITMQ_BIN, 'rabbitmqctl'), ['-n', nodeName, ...args], { env, encoding: 'utf8' }),
    ...broker,
  };
}

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface ToolOptions {
  /** Written to the tool's stdin, which is then closed. */
  input?: string;
  /** Killed after this long (default 120 s); the result then has code null. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** How output bytes become strings: 'latin1' keeps binary record values byte for byte (default utf8). */
  encoding?: 'utf8' | 'latin1';
}

let toolsLog4j: string | undefined;

/**
 * Runs one of Kafka's own command-line tools from the same jars as the broker, e.g.
 * `kafka.tools.ConsoleProducer`, `kafka.tools.ConsoleConsumer`,
 * `org.apache.kafka.tools.ProducerPerformance`, `org.apache.kafka.tools.ConsumerPerformance`.
 */
export function kafkaTool(mainClass: string, args: string[], options: ToolOptions = {}): Promise<ToolResult> {
  return run('java', kafkaToolArgs(mainClass, args), options);
}

/** The `java` arguments that run a Kafka tool, for a caller that needs its own process handling. */
export function kafkaToolArgs(mainClass: string, args: string[]): string[] {
  const libs = kafkaLibs();
  if (!libs) throw new Error(brokerSkipReason('kafka') ?? 'Kafka jars are missing');
  toolsLog4j ??= writeLog4j(mkdtempSync(join(tmpdir(), 'ockam-kafka-tools-')), 'WARN');
  return [
    '-Xmx512m',
    '-XX:+UseSerialGC',
    `-Dlog4j.configuration=file:${toolsLog4j}`,
    '-cp',
    `${libs}/*`,
    mainClass,
    ...args,
  ];
}

/** Runs Debian's `kcat` (librdkafka's command-line client). */
export function kcat(args: string[], options: ToolOptions = {}): Promise<ToolResult> {
  return run('kcat', args, options);
}

function run(command: string, args: string[], options: ToolOptions): Promise<ToolResult> {
  return new Promise((done, fail) => {
    const p = spawn(command, args, { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(p);
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding(options.encoding ?? 'utf8').on('data', (d: string) => {
      stdout += d;
    });
    p.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    p.once('error', (e) => {
      clearTimeout(timer);
      live.delete(p);
      fail(e);
    });
    p.once('close', (code) => {
      clearTimeout(timer);
      live.delete(p);
      done({ code, stdout, stderr });
    });
    p.stdin.end(options.input ?? '');
  });
}

function writeLog4j(dir: string, level: 'INFO' | 'WARN'): string {
  const file = join(dir, 'log4j.properties');
  writeFileSync(
    file,
    [
      `log4j.rootLogger=${level}, stderr`,
      'log4j.appender.stderr=org.apache.log4j.ConsoleAppender',
      'log4j.appender.stderr.Target=System.err',
      'log4j.appender.stderr.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n',
      // The broker's INFO is mostly per-partition chatter; keep its lifecycle and warnings.
      'log4j.logger.kafka=WARN',
      'log4j.logger.org.apache.kafka=WARN',
      'log4j.logger.kafka.server.BrokerServer=INFO',
      'log4j.logger.kafka.server.ControllerServer=INFO',
      '',
    ].join('\n'),
  );
  return file;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function tail(file: string): string {
  return readText(file).split('\n').slice(-15).join('\n');
}

/** Where `scripts/local-kms.sh` put the local-kms binary, or undefined when it has not built it. */
export function localKmsBinary(): string | undefined {
  if (process.env.OCKAM_LOCAL_KMS)
    return existsSync(process.env.OCKAM_LOCAL_KMS) ? process.env.OCKAM_LOCAL_KMS : undefined;
  const root = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ockam-ts', 'local-kms');
  if (!existsSync(root)) return undefined;
  for (const version of readdirSync(root)) {
    const bin = join(root, version, 'bin', 'local-kms');
    if (existsSync(bin)) return bin;
  }
  return undefined;
}

/**
 * Why local-kms cannot run here (undefined when it can). Throws instead when
 * `OCKAM_KMS_REQUIRED=1`, which `.ci/run` sets after building it.
 */
export function localKmsSkipReason(): string | undefined {
  const reason = localKmsBinary() ? undefined : 'local-kms is not built: run scripts/local-kms.sh';
  if (reason && process.env.OCKAM_KMS_REQUIRED === '1')
    throw new Error(`${reason} (OCKAM_KMS_REQUIRED=1: the KMS endpoint must run here)`);
  return reason;
}

export interface LocalKms extends StartedBroker {
  /** `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL_KMS` or a client's `endpoint`. */
  readonly endpoint: string;
  readonly region: string;
  /** The environment a KMS client needs: endpoint, region and dummy credentials (never real ones). */
  readonly env: Record<string, string>;
}

/** An AWS KMS JSON call; a ready endpoint answers ListKeys with 200. */
async function kmsReady(endpoint: string): Promise<boolean> {
  try {
    const r = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.ListKeys' },
      body: '{}',
      signal: AbortSignal.timeout(5_000),
    });
    await r.arrayBuffer();
    return r.status === 200;
  } catch {
    return false;
  }
}

/**
 * Starts local-kms (github.com/nsmithuk/local-kms, built by `scripts/local-kms.sh`) on a free port
 * with its keys in a temporary directory, and waits until it answers a KMS call.
 */
export async function startLocalKms(options: { region?: string } = {}): Promise<LocalKms> {
  const reason = localKmsSkipReason();
  const bin = localKmsBinary();
  if (reason || !bin) throw new Error(reason);
  const dir = mkdtempSync(join(tmpdir(), 'ockam-local-kms-'));
  const port = await freePort('tcp');
  const region = options.region ?? 'eu-west-1';
  const endpoint = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    KMS_REGION: region,
    KMS_DATA_PATH: join(dir, 'data'),
  };
  const logFile = join(dir, 'local-kms.log');
  const broker = await runBroker(
    'local-kms',
    () => startProcess(bin, [], env, logFile, dir),
    () => kmsReady(endpoint),
    logFile,
    dir,
  );
  return {
    dir,
    endpoint,
    region,
    env: {
      AWS_ENDPOINT_URL_KMS: endpoint,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: 'local-kms-test',
      AWS_SECRET_ACCESS_KEY: 'local-kms-test',
    },
    output: () => readText(logFile),
    ...broker,
  };
}

export { freePort } from './ports.js';
export { until } from './wait.js';

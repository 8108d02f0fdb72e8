import type { Command } from 'commander';
import type { CliContext } from '../context.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

export interface EnvironmentVariable {
  name: string;
  description: string;
}

/**
 * Every environment variable the command and the nodes it starts read, by topic, as Ockam's
 * `ockam environment` lists its own. A test checks that each variable named in the sources of the
 * command, the daemon, the node, state, vault and UDP packages is here.
 */
export const ENVIRONMENT: ReadonlyArray<{ topic: string; variables: readonly EnvironmentVariable[] }> = [
  {
    topic: 'Command behaviour',
    variables: [
      {
        name: 'OCKAM_HOME',
        description: 'the directory of all state (database, vaults, nodes). Default: `~/.ockam`.',
      },
      { name: 'OCKAM_DEBUG', description: 'if set, an error also prints its stack trace.' },
      {
        name: 'OCKAM_COMMAND_RETRY_COUNT',
        description: 'how many times `message send` sends again after a failure. Default: `0`.',
      },
      {
        name: 'OCKAM_COMMAND_RETRY_DELAY',
        description: 'the pause between those attempts, e.g. `500ms`. Default: `1s`.',
      },
      {
        name: 'ENROLLMENT_TICKET',
        description:
          'the ticket `node create --configuration` enrolls with when the configuration names none.',
      },
    ],
  },
  {
    topic: 'Vaults',
    variables: [
      {
        name: 'OCKAM_VAULT_PASSPHRASE',
        description:
          'a passphrase: a vault created while it is set is encrypted under it (scrypt) instead of a key file, and it must be set whenever that vault is opened.',
      },
      {
        name: 'OCKAM_PKCS11_PIN',
        description:
          'the user PIN of the PKCS#11 token of a vault created with `--pkcs11-library`; `OCKAM_PKCS11_PIN_<VAULT>` (the vault name upper-cased, other characters as `_`) takes precedence for that vault. Read whenever the vault opens (a node needs it: it has no terminal to ask on); never stored.',
      },
      {
        name: 'OCKAM_VAULT_NATIVE_AEAD',
        description: '`0` turns off the native AES-GCM addon; node:crypto is used instead.',
      },
    ],
  },
  {
    topic: 'Logging',
    variables: [
      {
        name: 'OCKAM_LOG_LEVEL',
        description:
          'the level of node logs when neither `--log-level` nor `-v` is given: `error`, `warn`, `info`, `debug` or `trace`. Default: `info`.',
      },
      {
        name: 'OCKAM_LOG_FORMAT',
        description: 'the format of node logs: `json` or `pretty`. Default: `json`.',
      },
      {
        name: 'OCKAM_LOG_MAX_SIZE_MB',
        description: 'the size of a node log file before it is rotated. Default: `100`.',
      },
      { name: 'OCKAM_LOG_MAX_FILES', description: 'how many rotated log files a node keeps. Default: `5`.' },
    ],
  },
  {
    topic: 'Nodes',
    variables: [
      {
        name: 'OCKAM_NODE_V8_FLAGS',
        description:
          'V8 flags for node processes (space-separated, may be empty), instead of the garbage-collector settings chosen for the machine.',
      },
      {
        name: 'OCKAM_PING_INTERVAL_MS',
        description: 'how often inlets and relays check their route. Default: `10000`.',
      },
      {
        name: 'OCKAM_ROUTER_TIME_SLICE_MS',
        description: 'how long the router runs before it lets the event loop in. Default: `10`.',
      },
      {
        name: 'OCKAM_REFUSAL_LOG_INTERVAL_MS',
        description:
          'refusals by flow control or access control are logged once per reason and interval. Default: `10000`.',
      },
      { name: 'OCKAM_MAX_RELAYS', description: 'relays a node serves. Default: `1024`.' },
      {
        name: 'OCKAM_MAX_RELAYS_PER_REGISTRANT',
        description: 'relays one identity may register at a node. Default: `64`.',
      },
    ],
  },
  {
    topic: 'Transports',
    variables: [
      {
        name: 'OCKAM_TRANSPORT_MAX_CONNECTIONS',
        description: 'connections per TCP or WebSocket listener. Default: `1024`.',
      },
      {
        name: 'OCKAM_TRANSPORT_MAX_BUFFERED_BYTES',
        description:
          'bytes held for peers in unfinished frames, all connections of a transport. Default: 64 MiB.',
      },
      {
        name: 'OCKAM_TRANSPORT_CONNECTION_ALLOWANCE_BYTES',
        description: 'bytes each connection may hold outside that budget. Default: 64 KiB.',
      },
      {
        name: 'OCKAM_TRANSPORT_HANDSHAKE_TIMEOUT_MS',
        description: 'time for the version byte or WebSocket upgrade after accept. Default: `10000`.',
      },
      {
        name: 'OCKAM_TRANSPORT_FRAME_TIMEOUT_MS',
        description: 'time to complete a started frame. Default: `60000`.',
      },
      {
        name: 'OCKAM_TRANSPORT_FIRST_MESSAGE_TIMEOUT_MS',
        description:
          'time for the first message on an accepted connection (`0`: no limit). Default: `120000`.',
      },
      {
        name: 'OCKAM_RENDEZVOUS_SERVER',
        description:
          'HOST:PORT of the UDP rendezvous service used for puncturing when `--rendezvous` is not given.',
      },
    ],
  },
  {
    topic: 'Secure channels',
    variables: [
      {
        name: 'OCKAM_SECURE_CHANNEL_HANDSHAKE_TIMEOUT_MS',
        description: 'how long a responder waits for the last handshake message. Default: `10000`.',
      },
      {
        name: 'OCKAM_SECURE_CHANNEL_MAX_PENDING_HANDSHAKES',
        description: 'unfinished handshakes per listener. Default: `256`.',
      },
      {
        name: 'OCKAM_SECURE_CHANNEL_MAX_PENDING_HANDSHAKES_PER_CONNECTION',
        description: 'unfinished handshakes per connection. Default: `32`.',
      },
      {
        name: 'OCKAM_SECURE_CHANNEL_LOG_INTERVAL_MS',
        description: 'refused handshakes are logged once per reason and interval.',
      },
      {
        name: 'OCKAM_SECURE_CHANNEL_MAX_PEER_IDENTITY_CHANGES',
        description: 'changes in a peer identity, checked before any signature. Default: `16`.',
      },
      {
        name: 'OCKAM_SECURE_CHANNEL_MAX_CHANNELS',
        description: 'open channels per listener. Default: `4096`.',
      },
      {
        name: 'OCKAM_SECURE_CHANNEL_MAX_CHANNELS_PER_CONNECTION',
        description: 'open channels per connection. Default: `256`.',
      },
      {
        name: 'OCKAM_SECURE_CHANNEL_IDLE_TIMEOUT_MS',
        description: 'an accepted channel that carries nothing this long is closed. Default: 2 hours.',
      },
    ],
  },
  {
    topic: 'Database (authority members and tokens)',
    variables: [
      {
        name: 'OCKAM_POSTGRES_HOST',
        description: 'PostgreSQL host; with the port set, authorities keep members there.',
      },
      { name: 'OCKAM_POSTGRES_PORT', description: 'PostgreSQL port.' },
      { name: 'OCKAM_POSTGRES_DATABASE_NAME', description: "PostgreSQL database. Default: 'postgres'." },
      { name: 'OCKAM_POSTGRES_USER', description: 'PostgreSQL user; none if it is not set.' },
      { name: 'OCKAM_POSTGRES_PASSWORD', description: 'PostgreSQL password; none if it is not set.' },
    ],
  },
];

function plain(): string {
  return ENVIRONMENT.map(
    (t) => `${t.topic}\n${t.variables.map((v) => `- ${v.name}: ${v.description}`).join('\n')}`,
  ).join('\n\n');
}

export function registerEnvironmentCommand(program: Command, run: Run): void {
  program
    .command('environment')
    .description('List the environment variables that the command and its nodes read')
    .addHelpText('after', '\nExamples:\n  $ ockam environment\n  $ ockam environment --output json')
    .action(() =>
      run(async (ctx) => {
        const json = Object.fromEntries(
          ENVIRONMENT.flatMap((t) =>
            t.variables.map((v) => [v.name, { topic: t.topic, description: v.description }]),
          ),
        );
        ctx.out.result(plain, json, plain());
      }),
    );
}

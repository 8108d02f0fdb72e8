import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Identities, OckamHome, State } from '@ockam/state';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OCKAM_BIN, ockam, shell, tempHome } from './helpers.js';

function allFiles(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[])
    .map((f) => join(dir, f))
    .filter((p) => statSync(p).isFile());
}

describe('observability: status server, metrics, logs, status, completion', () => {
  let home: string;
  let cleanup: () => Promise<void>;
  let http: string;

  beforeAll(async () => {
    ({ home, cleanup } = tempHome());
    expect((await ockam(home, ['node', 'create', 'n1', '--http-server', '127.0.0.1:0', '-vv'])).code).toBe(0);
    expect((await ockam(home, ['node', 'create', 'n2', '--log-level', 'trace'])).code).toBe(0);
    http = JSON.parse(
      (await ockam(home, ['--output', 'json', 'node', 'show', 'n1'])).stdout,
    ).http_server_address;
  });
  afterAll(async () => {
    await cleanup();
  });

  it('serves /health, HEAD / and Prometheus /metrics that count real traffic', async () => {
    const health = await fetch(`http://${http}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', node: 'n1' });
    expect((await fetch(`http://${http}/`, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`http://${http}/nope`)).status).toBe(404);
    for (let i = 0; i < 3; i++)
      await ockam(home, ['message', 'send', 'x', '--from', 'n2', '--to', '/node/n1/service/echo']);
    await ockam(home, ['secure-channel', 'create', '--from', 'n1', '--to', '/node/n2/service/api']);
    const text = await (await fetch(`http://${http}/metrics`)).text();
    expect(text).toMatch(/^# HELP ockam_worker_messages_total /m);
    expect(text).toMatch(/^ockam_worker_messages_total\{kind="echo"\} 3$/m);
    expect(text).toMatch(/^ockam_secure_channel_handshakes_total\{result="initiated"\} 1$/m);
    expect(text).toMatch(/^ockam_secure_channels_open\{role="initiator"\} 1$/m);
    expect(Number(/^ockam_tcp_bytes_sent_total (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
    expect(text).toMatch(/^process_resident_memory_bytes \d+$/m);
  });

  it('never writes secrets, keys or payloads to the logs, even at trace level', async () => {
    const secret = 'the-launch-code-is-0000';
    const r = await ockam(home, [
      'message',
      'send',
      secret,
      '--from',
      'n1',
      '--to',
      '/node/n2/secure/api/service/echo',
    ]);
    expect(r.stdout).toBe(`${secret}\n`);
    const logs =
      (await ockam(home, ['node', 'logs', 'n1'])).stdout + (await ockam(home, ['node', 'logs', 'n2'])).stdout;
    expect(logs).toMatch(/"level":"(debug|trace)"/);
    // The vault secrets of the identity in use, in every encoding we might leak them.
    const state = new State(new OckamHome(home));
    const { identity, vault } = await new Identities(state).loadIdentity();
    const keyId = Buffer.from(vault.vault.sha256(identity.primaryPublicKey.bytes)).toString('hex');
    const key = await vault.vault.getKey(keyId);
    const raw = Buffer.from(await vault.vault.exportSecretKey(key!));
    vault.close();
    state.close();
    const keyFile = readFileSync(join(home, 'vaults', 'default.key'));
    for (const f of allFiles(join(home, 'nodes')).filter((p) => p.includes('.log'))) {
      const bytes = readFileSync(f);
      const text = bytes.toString('latin1');
      for (const needle of [
        secret,
        Buffer.from(secret).toString('hex'),
        raw.toString('hex'),
        raw.toString('base64'),
        keyFile.toString('hex'),
      ]) {
        expect(text.includes(needle), `${f} contains ${needle.slice(0, 8)}…`).toBe(false);
      }
      expect(bytes.includes(raw)).toBe(false);
    }
  });

  it('follows a log as it grows', async () => {
    const child = spawn(process.execPath, [OCKAM_BIN, 'node', 'logs', 'n2', '--follow', '-n', '0'], {
      env: { ...process.env, OCKAM_HOME: home },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    try {
      await new Promise((r) => setTimeout(r, 500));
      await ockam(home, ['secure-channel', 'create', '--from', 'n1', '--to', '/node/n2/service/api']);
      await expect.poll(() => out, { timeout: 10_000 }).toMatch(/secure channel established.*responder/);
    } finally {
      child.kill();
    }
  });

  it('applies one log-level precedence: --log-level, then -v, then OCKAM_LOG_LEVEL, then info', async () => {
    const levels = async (name: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
      expect((await ockam(home, ['node', 'create', name, ...args], { env })).code).toBe(0);
      await ockam(home, ['message', 'send', 'x', '--from', 'n1', '--to', `/node/${name}/service/echo`]);
      const lines = (await ockam(home, ['node', 'logs', name])).stdout.split('\n').filter(Boolean);
      await ockam(home, ['node', 'delete', name]);
      return new Set(lines.map((l) => (JSON.parse(l) as { level: string }).level));
    };
    expect(await levels('l1', [], { OCKAM_LOG_LEVEL: '' })).toEqual(new Set(['info']));
    expect((await levels('l2', ['-vvv'])).has('debug')).toBe(true);
    expect((await levels('l3', [], { OCKAM_LOG_LEVEL: 'warn' })).has('info')).toBe(false);
    expect((await levels('l4', ['--log-level', 'error', '-vv'], { OCKAM_LOG_LEVEL: 'trace' })).size).toBe(0);
    expect((await ockam(home, ['node', 'create', 'l5', '--log-level', 'loud'])).stderr).toBe(
      "Error: Invalid log level 'loud': use trace, debug, info, warn, error or off\n",
    );
  });

  it('shows every node in ockam status, as text and JSON', async () => {
    const text = (await ockam(home, ['status'])).stdout;
    expect(text).toMatch(/^Node n1: running$/m);
    expect(text).toMatch(/HTTP status {5}http:\/\/127\.0\.0\.1:\d+\/health/);
    const j = JSON.parse((await ockam(home, ['--output', 'json', 'status'])).stdout);
    expect(j.nodes.map((n: { name: string; status: string }) => `${n.name}:${n.status}`)).toEqual([
      'n1:running',
      'n2:running',
    ]);
    expect(j.nodes[0].secureChannelListeners[0].address).toBe('api');
  });

  it('prints completion scripts that bash can load and use', async () => {
    const r = await shell(
      home,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a bash script, expanded by bash
      'eval "$(ockam completion bash)"; COMP_WORDS=(ockam secure-channel cr); COMP_CWORD=2; _ockam; echo "${COMPREPLY[@]}"; COMP_WORDS=(ockam node create --h); COMP_CWORD=3; _ockam; echo "${COMPREPLY[@]}"',
    );
    expect(r.stdout).toBe('create\n--http-server --http-server-port --http-server-allowed-host --help\n');
    expect((await ockam(home, ['completion', 'fish'])).stdout).toMatch(
      /^complete -c ockam -n '__fish_use_subcommand' -a 'node'$/m,
    );
    expect((await ockam(home, ['completion', 'zsh'])).stdout).toMatch(/^#compdef ockam$/m);
    expect((await ockam(home, ['completion', 'tcsh'])).stderr).toBe(
      "Error: Unsupported shell 'tcsh': use bash, zsh or fish\n",
    );
  });
});

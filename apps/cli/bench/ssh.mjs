// The `ssh -L` baseline: our own sshd on a free loopback port with a throwaway configuration and
// keys, and an `ssh -N -L …` client using OpenSSH's default cipher (no configuration file read).
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, processTree, run, sleep, spawnUntil, stopChild } from './lib.mjs';

export const SSHD = ['/usr/sbin/sshd', '/usr/bin/sshd'].find((p) => existsSync(p));

/**
 * Starts sshd and one ssh client forwarding each {local, remote} port pair (127.0.0.1 both sides).
 * Returns { sshd, ssh, cipher, version, stop }. `dir` is a private temporary directory.
 */
export async function startSshTunnel(dir, forwards) {
  if (!SSHD) throw new Error('sshd not found (install openssh-server)');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client_key')]);
  await run('cp', [join(dir, 'client_key.pub'), join(dir, 'authorized_keys')]);
  const user = userInfo().username;
  const port = await freePort();
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'AllowTcpForwarding yes',
      'UsePAM no',
      'StrictModes no',
      `PidFile ${join(dir, 'sshd.pid')}`,
      '',
    ].join('\n'),
  );
  // sshd insists on its privilege-separation directory; Debian's service unit creates it at boot,
  // a container without a running sshd may not have it. Created here (and removed afterwards).
  let createdRunDir = false;
  if (process.getuid?.() === 0 && !existsSync('/run/sshd')) {
    mkdirSync('/run/sshd', { mode: 0o755 });
    createdRunDir = true;
  }
  let sshd;
  let ssh;
  const stop = async () => {
    await stopChild(ssh);
    // Let sshd's per-connection processes exit while sshd is there to reap them.
    for (let i = 0; i < 40 && sshd?.pid && processTree(sshd.pid).length > 1; i++) await sleep(50);
    await stopChild(sshd);
    if (createdRunDir) {
      try {
        rmdirSync('/run/sshd');
      } catch {}
    }
  };
  try {
    ({ child: sshd } = await spawnUntil(SSHD, ['-D', '-e', '-f', config], {
      stream: 'stderr',
      ready: (t) => /Server listening on/.test(t),
    }));
    const args = ['-v', '-F', 'none', '-N'];
    for (const { local, remote } of forwards) args.push('-L', `127.0.0.1:${local}:127.0.0.1:${remote}`);
    args.push(
      '-p',
      String(port),
      '-i',
      join(dir, 'client_key'),
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      'ExitOnForwardFailure=yes',
      `${user}@127.0.0.1`,
    );
    let output;
    ({ child: ssh, output } = await spawnUntil('ssh', args, {
      stream: 'stderr',
      ready: (t) => (t.match(/Local forwarding listening on/g) ?? []).length >= forwards.length,
    }));
    const cipher = /kex: client->server cipher: (\S+) MAC: (\S+)/.exec(output.stderr);
    const version = /OpenSSH_[^\s,]+/.exec(output.stderr)?.[0] ?? 'OpenSSH';
    // Keep the pipes drained from now on without keeping the text.
    ssh.stderr.removeAllListeners('data');
    ssh.stderr.resume();
    sshd.stderr.removeAllListeners('data');
    sshd.stderr.resume();
    return {
      sshd,
      ssh,
      cipher: cipher ? `${cipher[1]}${cipher[2] === '<implicit>' ? '' : ` + ${cipher[2]}`}` : 'unknown',
      version,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

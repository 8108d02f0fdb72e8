/**
 * What is the same for every command, as in Ockam 0.139: the global flags (anywhere on the line),
 * the `-` stdin placeholder in any argument, and `/node/NAME` wherever a node is expected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ockam, shell, tempHome } from './helpers.js';

const { home, cleanup } = tempHome();
const run = (args: string[], options: Parameters<typeof ockam>[2] = {}) => ockam(home, args, options);
async function ok(args: string[], options: Parameters<typeof ockam>[2] = {}): Promise<string> {
  const r = await run(args, options);
  expect(r.code, `ockam ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

beforeAll(async () => {
  await ok(['vault', 'create', 'v1']);
  await ok(['vault', 'create', 'v2']);
  await ok(['node', 'create', 'n1']);
  await ok(['node', 'create', 'n2']);
}, 120_000);
afterAll(cleanup);

describe('global flags', () => {
  it('--jq filters the JSON result and implies JSON output, before or after the command', async () => {
    expect(await ok(['vault', 'show', 'v1', '--jq', '.vault.name'])).toBe('"v1"\n');
    expect(await ok(['--jq', '.vault.name', 'vault', 'show', 'v1'])).toBe('"v1"\n');
    expect(await ok(['vault', 'list', '--output', 'json', '--jq', 'map(.vault.name) | join(" ")'])).toBe(
      '"v1 v2"\n',
    );
    expect(await ok(['vault', 'list', '--jq', '. | length'])).toBe('2\n');
  });

  it('--jq prints every output of a filter, pretty unless --compact-output', async () => {
    expect(await ok(['vault', 'list', '--jq', '.[] | {name: .vault.name}'])).toBe(
      '{\n  "name": "v1"\n}\n{\n  "name": "v2"\n}\n',
    );
    expect(await ok(['vault', 'list', '--jq', '.[] | {name: .vault.name}', '--compact-output'])).toBe(
      '{"name":"v1"}\n{"name":"v2"}\n',
    );
  });

  it('--compact-output alone prints JSON on one line', async () => {
    const out = await ok(['vault', 'list', '--compact-output']);
    expect(out.trim().split('\n')).toHaveLength(1);
    expect((JSON.parse(out) as { vault: { name: string } }[]).map((v) => v.vault.name)).toEqual(['v1', 'v2']);
  });

  it('an explicit --output plain wins over --jq and --compact-output, as in Ockam', async () => {
    // Piped, plain output is the command's machine form: here one vault name per line.
    const out = await ok(['vault', 'list', '--output', 'plain', '--jq', '.x', '--compact-output']);
    expect(out).toBe('v1\nv2\n');
  });

  it('a filter jq cannot compile fails with jq’s reason', async () => {
    const r = await run(['vault', 'show', 'v1', '--jq', '.[']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Error: --jq '\.\[' failed: jq: error: syntax error/);
  });

  it('--quiet and QUIET silence progress, never results', async () => {
    const plain = await ok(['vault', 'list']);
    expect(await ok(['vault', 'list', '-q'])).toBe(plain);
    expect(await ok(['vault', 'list'], { env: { QUIET: 'true' } })).toBe(plain);
    // The default node is created on demand, which a command reports on stderr.
    const { home: other, cleanup: done } = tempHome();
    try {
      const loud = await ockam(other, ['message', 'send', 'hi', '--to', '/service/echo']);
      expect(loud.stdout).toBe('hi\n');
      expect(loud.stderr).toMatch(/Creating the default node/);
      await ockam(other, ['node', 'delete', '--all', '--yes']);
      const quiet = await ockam(other, ['message', 'send', 'hi', '--to', '/service/echo', '--quiet']);
      expect(quiet).toEqual({ code: 0, stdout: 'hi\n', stderr: '' });
    } finally {
      await done();
    }
  });

  it('accepts --no-color, NO_COLOR, --no-input and NO_INPUT, and prints no escape codes', async () => {
    const plain = await ok(['vault', 'list']);
    expect(await ok(['vault', 'list', '--no-color', '--no-input'])).toBe(plain);
    expect(await ok(['vault', 'list'], { env: { NO_COLOR: '1', NO_INPUT: 'true' } })).toBe(plain);
    expect(plain).not.toContain('\u001b');
  });

  it('counts -v as Ockam does, anywhere on the line', async () => {
    expect((await run(['node', 'list', '-vvv'])).code).toBe(0);
    expect((await run(['-v', '-v', 'node', 'list', '--verbose'])).code).toBe(0);
  });
});

describe('the - placeholder', () => {
  it('a leading -/ takes the route a secure channel prints', async () => {
    const r = await shell(
      home,
      'ockam secure-channel create --from /node/n1 --to /node/n2/service/api | ockam message send hello --from /node/n1 --to -/service/uppercase',
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('HELLO\n');
  });

  it('a /- inside a route is replaced by the route read from stdin', async () => {
    const r = await shell(home, 'echo " /service//uppercase/ " | ockam message send hi --to /node/n1/-');
    expect(r.stdout).toBe('HI\n');
  });

  it('works in any argument, and each argument with a placeholder reads its own line', async () => {
    const r = await shell(home, "printf '/m\\n/service/echo\\n' | ockam message send -/1 --to /node/n1/-");
    expect(r.stdout).toBe('/m/1\n');
  });

  it('says so when stdin ends before a route', async () => {
    const r = await shell(home, 'true | ockam message send hi --to -/service/echo');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/takes a route from stdin in place of '-', but stdin ended/);
  });

  it('leaves a lone - alone (commands read stdin themselves there)', async () => {
    const r = await ockam(home, ['message', 'send', '-', '--to', '/node/n1/service/echo']);
    expect(r.stdout).toBe('-\n');
  });
});

describe('/node/NAME wherever a node is expected', () => {
  it('--from, --at and positional node names take /node/NAME', async () => {
    expect(
      await ok(['message', 'send', 'x', '--from', '/node/n1', '--to', '/node/n2/service/uppercase']),
    ).toBe('X\n');
    expect(await ok(['secure-channel', 'list', '--at', '/node/n1', '--output', 'json'])).toMatch(/^\[/);
    expect(JSON.parse(await ok(['node', 'show', '/node/n2', '--output', 'json'])).name).toBe('n2');
  });

  it('relay create and list take /node/NAME for --at and --to', async () => {
    await ok(['relay', 'create', 'r2', '--at', '/node/n1', '--to', '/node/n2']);
    // Piped, the list is Ockam's JSON.
    const relays = JSON.parse(await ok(['relay', 'list', '--to', '/node/n2'])) as {
      name: string;
      destination_address: string;
    }[];
    expect(relays.map((r) => [r.name, r.destination_address])).toEqual([['r2', '/node/n1']]);
  });

  it('refuses a multiaddr that does not start with /node', async () => {
    const r = await run(['secure-channel', 'list', '--at', '/service/n1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("Error: Invalid node '/service/n1': expected a name or /node/NAME\n");
  });
});

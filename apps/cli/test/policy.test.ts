import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ockam, tempHome } from './helpers.js';

describe('ockam policy', () => {
  let t: ReturnType<typeof tempHome>;
  const o = (args: string[]) => ockam(t.home, args);
  beforeAll(() => {
    t = tempHome();
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it('refuses a malformed boolean expression before any node is started, naming what parsed', async () => {
    const r = await o(['policy', 'create', '--resource', 'my_policy', '--allow', 'component.db or']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("invalid value 'component.db or' for '--allow <expression>'");
    expect(r.stderr).toContain('successfully parsed: `component.db`, but ` or` cannot be parsed');
    expect(JSON.parse((await o(['--output', 'json', 'node', 'list'])).stdout)).toEqual([]);
  });

  it('takes --resource with a type name as that type, shows it as JSON when piped, and deletes it', async () => {
    const set = await o([
      'policy',
      'create',
      '--resource',
      'tcp-outlet',
      '--expression',
      '(= subject.component "global_value")',
    ]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stderr).toContain(
      '--resource tcp-outlet is deprecated. Please use --resource-type tcp-outlet',
    );
    const show = await o(['policy', 'show', 'tcp-outlet']);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain('"expression": "(= subject.component \\"global_value\\")"');
    expect(JSON.parse(show.stdout)).toEqual({
      resource: 'tcp-outlet',
      action: 'handle_message',
      expression: '(= subject.component "global_value")',
    });
    // With no resource, show is about tcp-outlet, as in Ockam.
    expect(JSON.parse((await o(['policy', 'show'])).stdout).resource).toBe('tcp-outlet');

    expect((await o(['policy', 'delete', 'tcp-outlet', '-y'])).code).toBe(0);
    const gone = await o(['policy', 'show', 'tcp-outlet']);
    expect(gone.code, gone.stderr).toBe(0);
    expect(gone.stdout).not.toContain('tcp-outlet');
    expect(JSON.parse((await o(['--output', 'json', 'policy', 'show', 'tcp-outlet'])).stdout)).toBeNull();
  });

  it('stores a boolean shorthand as its full expression and lists policies in Ockam’s shape', async () => {
    const set = await o([
      'policy',
      'create',
      '--resource',
      'my_policy',
      '--allow',
      'component.db or component.web',
    ]);
    expect(set.code, set.stderr).toBe(0);
    const expression = '(or (= subject.component.db "true") (= subject.component.web "true"))';
    const show = await o(['policy', 'show', 'my_policy']);
    expect(show.stdout).toContain(`"expression": ${JSON.stringify(expression)}`);
    const list = JSON.parse((await o(['--output', 'json', 'policy', 'list'])).stdout);
    expect(list).toContainEqual({ resource: 'my_policy', action: 'handle_message', expression });
    // A resource type given as --resource-type, and a name that is no type, shown positionally.
    expect(
      (await o(['policy', 'create', '--resource-type', 'relay', '--allow', 'component.relay'])).code,
    ).toBe(0);
    expect(JSON.parse((await o(['policy', 'show', 'relay'])).stdout).expression).toBe(
      '(= subject.component.relay "true")',
    );
    expect((await o(['policy', 'delete', '--resource', 'my_policy', '--yes'])).code).toBe(0);
    expect((await o(['policy', 'show', 'my_policy'])).stdout).not.toContain('my_policy');
  });
});

import { openPostgres, PostgresMemberStore, PostgresTokenStore } from '@ockam/state';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ockam, tempHome } from './helpers.js';
import { postgresBin, run, startPostgres } from './servers.js';

const available = postgresBin() !== undefined;
if (!available)
  console.warn('SKIPPED: PostgreSQL is not installed here (apt-get install postgresql); .ci/run installs it');

describe.skipIf(!available)('an authority whose members live in PostgreSQL', () => {
  let pg: Awaited<ReturnType<typeof startPostgres>>;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(() => pg.stop());

  it('shares members and tokens between replicas, and a token is used only once across them', async () => {
    const config = { host: '127.0.0.1', port: pg.port, database: 'postgres', user: 'postgres' };
    const [a, b] = await Promise.all([openPostgres(config), openPostgres(config)]);
    try {
      const authority = `I${'ab'.repeat(32)}`;
      const ma = new PostgresMemberStore(a, authority);
      const mb = new PostgresMemberStore(b, authority);
      await ma.addMember({
        identifier: `I${'01'.repeat(32)}`,
        attributes: new Map([['role', 'db']]),
        addedBy: authority,
        addedAt: 1,
        preTrusted: false,
      });
      expect((await mb.getMember(`I${'01'.repeat(32)}`))?.attributes.get('role')).toBe('db');
      await mb.bootstrapPreTrusted([
        {
          identifier: `I${'02'.repeat(32)}`,
          attributes: new Map(),
          addedBy: authority,
          addedAt: 2,
          preTrusted: true,
        },
      ]);
      expect((await ma.listMembers()).map((m) => m.preTrusted)).toEqual([false, true]);
      expect(await ma.deleteMember(`I${'02'.repeat(32)}`)).toBe(false);
      const ta = new PostgresTokenStore(a, authority);
      const tb = new PostgresTokenStore(b, authority);
      const code = new Uint8Array(32).fill(7);
      await ta.storeToken({
        oneTimeCode: code,
        reference: 'r',
        issuedBy: authority,
        createdAt: 0,
        expiresAt: 2 ** 40,
        ttlCount: 1,
        attributes: new Map(),
      });
      const results = await Promise.all([
        ta.useToken(code, 10),
        tb.useToken(code, 10),
        ta.useToken(code, 10),
        tb.useToken(code, 10),
      ]);
      expect(results.filter((r) => r !== undefined)).toHaveLength(1);
    } finally {
      await a.end();
      await b.end();
    }
  });

  it("keeps a project's members in PostgreSQL when OCKAM_POSTGRES_* is set", async () => {
    const env = {
      OCKAM_POSTGRES_HOST: '127.0.0.1',
      OCKAM_POSTGRES_PORT: String(pg.port),
      OCKAM_POSTGRES_USER: 'postgres',
    };
    const admin = tempHome();
    const member = tempHome();
    try {
      const enroll = await ockam(admin.home, ['enroll'], { env });
      expect(enroll.code, enroll.stderr).toBe(0);
      const ticket = (
        await ockam(admin.home, ['project', 'ticket', '--attribute', 'team=blue'], { env })
      ).stdout.trim();
      expect((await ockam(member.home, ['project', 'enroll', ticket])).code).toBe(0);
      const rows = await run('psql', [
        '-h',
        '127.0.0.1',
        '-p',
        String(pg.port),
        '-U',
        'postgres',
        '-At',
        '-c',
        `select count(*), count(*) filter (where attributes like '%blue%') from authority_member where authority <> 'I${'ab'.repeat(32)}'`,
      ]);
      expect(rows.stdout).toBe('2|1\n');
      expect((await ockam(admin.home, ['node', 'logs', 'default'])).stdout).toMatch(
        /authority members and tokens are stored in PostgreSQL/,
      );
    } finally {
      await member.cleanup();
      await admin.cleanup();
    }
  });
});

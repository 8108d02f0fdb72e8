import { decide, environment, parsePolicyExpression } from '@ockam/abac';
import { describe, expect, it } from 'vitest';
import {
  attributesFromClaims,
  CLAIM_LIMITS,
  checkIssuer,
  checkOidcConfig,
  defaultScopes,
  NonceBook,
  OidcRefusal,
  parseClaimMapping,
  RateLimiter,
} from '../src/index.js';

const groups = [{ claim: 'groups', attribute: 'groups' }];

function refusal(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (OidcRefusal.isReason(e)) return e.reason;
    throw e;
  }
  return undefined;
}

describe('claims become member attributes', () => {
  it('a single group is the attribute itself, so (= subject.groups "db-admins") admits it', () => {
    expect(Object.fromEntries(attributesFromClaims({ groups: ['db-admins'] }, groups))).toEqual({
      groups: 'db-admins',
      'groups.db-admins': 'true',
    });
  });

  it('several groups are joined in order and each gets its own flag attribute', () => {
    const a = attributesFromClaims(
      { groups: ['staff', 'db-admins', 'has space'], email: 'a@example.com', email_verified: true },
      [...groups, { claim: 'email', attribute: 'email' }, { claim: 'email_verified', attribute: 'verified' }],
    );
    expect(Object.fromEntries(a)).toEqual({
      groups: 'staff,db-admins,has space',
      'groups.staff': 'true',
      'groups.db-admins': 'true',
      email: 'a@example.com',
      verified: 'true',
    });
  });

  it('gives attributes that the ABAC policies of the README admit as documented', () => {
    const admits = (policy: string, groupsClaim: string[]) => {
      const attributes = attributesFromClaims({ groups: groupsClaim }, groups);
      const env = environment([...attributes].map(([k, v]) => [`subject.${k}`, v] as [string, string]));
      return decide(parsePolicyExpression(policy).expr, env).allowed;
    };
    expect(admits('(= subject.groups "db-admins")', ['db-admins'])).toBe(true);
    expect(admits('(= subject.groups "db-admins")', ['staff'])).toBe(false);
    expect(admits('(= subject.groups "db-admins")', ['staff', 'db-admins'])).toBe(false);
    expect(admits('(= subject.groups.db-admins "true")', ['staff', 'db-admins'])).toBe(true);
    expect(admits('groups.db-admins', ['staff', 'db-admins'])).toBe(true);
    expect(admits('groups.db-admins', ['staff'])).toBe(false);
    expect(admits('(member? subject.groups ["db-admins" "dba"])', ['dba'])).toBe(true);
  });

  it('refuses missing, empty, nested, oversized and control-character claims', () => {
    expect(refusal(() => attributesFromClaims({}, groups))).toBe('claim-missing');
    expect(refusal(() => attributesFromClaims({ groups: null }, groups))).toBe('claim-missing');
    expect(refusal(() => attributesFromClaims({ groups: [] }, groups))).toBe('claim-missing');
    expect(refusal(() => attributesFromClaims({ groups: [['x']] }, groups))).toBe('claim-invalid');
    expect(refusal(() => attributesFromClaims({ groups: { a: 1 } }, groups))).toBe('claim-invalid');
    expect(refusal(() => attributesFromClaims({ groups: ['a,b'] }, groups))).toBe('claim-invalid');
    expect(refusal(() => attributesFromClaims({ groups: ['x\n'] }, groups))).toBe('claim-invalid');
    expect(
      refusal(() => attributesFromClaims({ groups: 'x'.repeat(CLAIM_LIMITS.valueLength + 1) }, groups)),
    ).toBe('claim-invalid');
    const many = Array.from({ length: CLAIM_LIMITS.arrayElements + 1 }, (_, i) => `g${i}`);
    expect(refusal(() => attributesFromClaims({ groups: many }, groups))).toBe('claim-invalid');
    // A claim inherited from Object.prototype is not a claim.
    expect(refusal(() => attributesFromClaims({}, [{ claim: 'toString', attribute: 't' }]))).toBe(
      'claim-missing',
    );
  });
});

describe('the add-on configuration', () => {
  it('takes https issuers and plain http only on loopback hosts', () => {
    expect(checkIssuer('https://login.example.com/realms/x').hostname).toBe('login.example.com');
    for (const ok of ['http://127.0.0.1:3000', 'http://localhost:8080/', 'http://[::1]:9000'])
      expect(() => checkIssuer(ok)).not.toThrow();
    for (const bad of [
      'http://login.example.com',
      'ftp://127.0.0.1',
      'https://u:p@x.com',
      'https://x.com/?a=1',
      'nope',
    ])
      expect(() => checkIssuer(bad), bad).toThrow();
  });

  it("maps claims to attributes, never to the authority's own, and once each", () => {
    expect(parseClaimMapping('groups')).toEqual({ claim: 'groups', attribute: 'groups' });
    expect(parseClaimMapping('https://x.com/roles=role')).toEqual({
      claim: 'https://x.com/roles',
      attribute: 'role',
    });
    expect(() => parseClaimMapping('roles=ockam-role')).toThrow(/authority's own/);
    expect(() => parseClaimMapping('x=trust_context_id')).toThrow(/authority's own/);
    expect(() =>
      checkOidcConfig({
        issuer: 'https://x.com',
        clientId: 'c',
        claims: [parseClaimMapping('a=b'), parseClaimMapping('c=b')],
      }),
    ).toThrow(/Two claims/);
    expect(() => checkOidcConfig({ issuer: 'https://x.com', clientId: '', claims: [] })).toThrow(/client id/);
    expect(defaultScopes([parseClaimMapping('email'), parseClaimMapping('groups')])).toEqual([
      'openid',
      'email',
      'groups',
    ]);
  });
});

describe('nonces', () => {
  it('are single use, bound to the caller they were issued to, and expire', () => {
    let now = 1000;
    const book = new NonceBook({ ttlSeconds: 600 }, () => now);
    const a = book.issue('Ialice');
    expect(a.expiresAt).toBe(1600);
    expect(a.nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(refusal(() => book.consume('Ibob', a.nonce))).toBe('nonce-unknown');
    book.consume('Ialice', a.nonce);
    expect(refusal(() => book.consume('Ialice', a.nonce))).toBe('nonce-used');
    const b = book.issue('Ialice');
    now += 600;
    expect(refusal(() => book.consume('Ialice', b.nonce))).toBe('nonce-unknown');
    expect(book.size).toBe(0);
  });

  it('keep a few per caller (dropping the oldest) and refuse new logins when the total is reached', () => {
    const book = new NonceBook({ perCaller: 2, total: 3 });
    const first = book.issue('Ialice');
    book.issue('Ialice');
    book.issue('Ialice');
    expect(refusal(() => book.consume('Ialice', first.nonce))).toBe('nonce-unknown');
    expect(book.size).toBe(2);
    book.issue('Ibob');
    expect(refusal(() => book.issue('Icarol'))).toBe('busy');
  });

  it('requests are rate limited per caller, and the callers tracked are bounded', () => {
    let now = 0;
    const limiter = new RateLimiter(2, 60, 2, () => now);
    limiter.take('a');
    limiter.take('a');
    expect(refusal(() => limiter.take('a'))).toBe('rate-limited');
    limiter.take('b');
    limiter.take('c'); // drops a's window
    limiter.take('a');
    now += 60;
    limiter.take('b');
    limiter.take('b');
    expect(refusal(() => limiter.take('b'))).toBe('rate-limited');
  });
});

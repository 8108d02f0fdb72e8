import { Node } from '@ockam/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CredentialError,
  CredentialRetriever,
  type RetrievedCredential,
  type RetrieverClock,
} from '../src/index.js';
import { type AuthorityHarness, authorityHarness, connect } from './harness.js';
import { until } from './helpers.js';

/** A clock whose time moves only when told; timers fire in order as it passes them. */
class FakeClock implements RetrieverClock {
  t: number;
  #tasks: Array<{ id: number; at: number; cb: () => void }> = [];
  #next = 1;
  constructor(t: number) {
    this.t = t;
  }
  now(): number {
    return this.t;
  }
  setTimeout(cb: () => void, ms: number): number {
    const id = this.#next++;
    this.#tasks.push({ id, at: this.t + ms, cb });
    return id;
  }
  clearTimeout(id: unknown): void {
    this.#tasks = this.#tasks.filter((t) => t.id !== id);
  }
  get pending(): number {
    return this.#tasks.length;
  }
  advance(ms: number): void {
    const target = this.t + ms;
    for (;;) {
      const due = this.#tasks.filter((t) => t.at <= target).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.#tasks = this.#tasks.filter((t) => t !== due);
      this.t = due.at;
      due.cb();
    }
    this.t = target;
  }
}

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(ttl: number) {
  const clock = new FakeClock(Date.now());
  const h: AuthorityHarness = await authorityHarness({
    credentialTtlSeconds: ttl,
    now: () => Math.floor(clock.now() / 1000),
  });
  cleanups.push(() => h.node.stop());
  const edge = new Node({ name: 'edge' });
  cleanups.push(() => edge.stop());
  const state = { connects: 0, fail: false };
  const retriever = new CredentialRetriever({
    subject: h.admin.identity.identifier,
    authority: h.authority.identity,
    clock,
    connect: async () => {
      state.connects++;
      if (state.fail) throw new Error('authority unreachable');
      return connect(edge, h.port, h.admin, h.authority.identity);
    },
  });
  cleanups.push(() => retriever.stop());
  const seen: RetrievedCredential[] = [];
  retriever.subscribe((c) => void seen.push(c));
  return { clock, h, retriever, state, seen };
}

describe('CredentialRetriever', () => {
  it('retrieves, caches, and refreshes 60 s + 60 s before expiry, notifying subscribers', async () => {
    const { clock, retriever, state, seen } = await setup(300);
    const first = await retriever.start();
    expect(state.connects).toBe(1);
    expect(seen).toEqual([first]);
    expect(first.verified.expiresAt - first.verified.createdAt).toBe(300);
    expect(retriever.nextRefreshAt).toBe((first.verified.expiresAt - 120) * 1000);
    expect(await retriever.get()).toBe(first);
    expect(state.connects).toBe(1);

    clock.advance(retriever.nextRefreshAt! - clock.now() - 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(state.connects).toBe(1);
    clock.advance(1);
    await until(() => seen.length === 2);
    expect(state.connects).toBe(2);
    const second = seen[1]!;
    expect(retriever.current).toBe(second);
    expect(second.verified.createdAt).toBeGreaterThan(first.verified.createdAt);
    await until(() => retriever.nextRefreshAt === (second.verified.expiresAt - 120) * 1000);
  });

  it('retries after a failure, but never sooner than 10 s after the previous attempt', async () => {
    const { clock, retriever, state, seen } = await setup(300);
    await retriever.start();
    state.fail = true;
    clock.advance(retriever.nextRefreshAt! - clock.now());
    await until(() => state.connects === 2);
    const failedAt = clock.now();
    await until(() => retriever.nextRefreshAt === failedAt + 10_000);
    clock.advance(9_999);
    await new Promise((r) => setTimeout(r, 20));
    expect(state.connects).toBe(2);
    clock.advance(1);
    await until(() => state.connects === 3);
    state.fail = false;
    await until(() => retriever.nextRefreshAt === clock.now() + 10_000);
    clock.advance(10_000);
    await until(() => seen.length === 2);
    expect(state.connects).toBe(4);
  });

  it('refreshes a short-lived credential at the minimum interval, not in a loop', async () => {
    const { clock, retriever, state, seen } = await setup(30);
    const first = await retriever.start();
    // Expiry minus 120 s is already past: the next attempt waits the minimum interval.
    expect(retriever.nextRefreshAt).toBe(clock.now() + 10_000);
    expect(first.verified.expiresAt - first.verified.createdAt).toBe(30);
    clock.advance(10_000);
    await until(() => seen.length === 2);
    expect(state.connects).toBe(2);
  });

  it('waits in steps for a 30-day credential (timers cannot wait longer than 24.8 days)', async () => {
    const { clock, retriever, state, seen } = await setup(30 * 24 * 3600);
    const first = await retriever.start();
    const due = (first.verified.expiresAt - 120) * 1000;
    expect(retriever.nextRefreshAt).toBe(due);
    clock.advance(2 ** 31 - 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(state.connects).toBe(1);
    expect(retriever.nextRefreshAt).toBe(due);
    clock.advance(due - clock.now());
    await until(() => seen.length === 2);
    expect(state.connects).toBe(2);
  });

  it('get() refuses to retry sooner than the minimum interval after a failure, and stop() ends refreshing', async () => {
    const { clock, retriever, state } = await setup(300);
    state.fail = true;
    await expect(retriever.get()).rejects.toMatchObject({ reason: 'retrieval-failed' });
    expect(state.connects).toBe(1);
    const e = await retriever.get().catch((x: unknown) => x);
    expect(CredentialError.isReason(e, 'retrieval-failed')).toBe(true);
    expect((e as Error).message).toMatch(/retrying in 10 s/);
    expect(state.connects).toBe(1);
    clock.advance(10_000);
    state.fail = false;
    await retriever.start();
    expect(state.connects).toBe(2);
    retriever.stop();
    expect(clock.pending).toBe(0);
    clock.advance(10 * 60_000);
    await new Promise((r) => setTimeout(r, 20));
    expect(state.connects).toBe(2);
  });
});

import { useOpenTestDatabase } from '../../helpers/backend';
import type { DbHandle } from '../../../lib/db/db';
import { RateLimiter, forgiveUpTo, releaseAll, storedKey, takeAll, waitFor, type LimitRule, type Slot } from '../../../lib/auth/limits';

let h: DbHandle;
useOpenTestDatabase((_tdb, handle) => (h = handle));

const T0 = Date.parse('2030-01-10T12:00:00.000Z');
const MIN = 60e3;
const rule: LimitRule = { name: 'test', limit: 3, windowMs: 10 * MIN };
const slotOf = (taken: Slot | { wait: number }): Slot => {
  if ('wait' in taken) throw new Error(`refused, wait ${taken.wait}`);
  return taken;
};
const rows = () => h.db.selectFrom('login_limits').select(['key', 'at', 'expires_at']).orderBy('id').execute();

describe('a rule in the database', () => {
  test('counts up to the limit, then refuses with the wait until the oldest attempt leaves the window', async () => {
    const limiter = new RateLimiter(rule);
    for (let i = 0; i < 3; i++) slotOf(await limiter.take(h.db, '10.0.0.1', T0 + i * MIN));
    expect(await limiter.take(h.db, '10.0.0.1', T0 + 3 * MIN)).toEqual({ wait: 7 * MIN });
    expect(await limiter.retryAfter(h.db, '10.0.0.1', T0 + 3 * MIN)).toBe(7 * MIN);
    slotOf(await limiter.take(h.db, '10.0.0.2', T0 + 3 * MIN));
    slotOf(await limiter.take(h.db, '10.0.0.1', T0 + 10 * MIN + 1));
    // A refusal counts nothing; the first attempt, past its window, was pruned by the last take.
    expect((await rows()).map((r) => r.key)).toEqual([...Array(2).fill(storedKey(rule, '10.0.0.1')), storedKey(rule, '10.0.0.2'), storedKey(rule, '10.0.0.1')]);
  });

  test('stores a hash of what it counts, never the address or login itself, with when the row may go', async () => {
    await new RateLimiter(rule).take(h.db, 'alice@example.com', T0);
    const [row] = await rows();
    expect(row.key).toMatch(/^test:[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(row)).not.toContain('alice');
    expect(row.expires_at.getTime() - row.at.getTime()).toBe(10 * MIN);
  });

  test('release gives back one attempt; forgiveUpTo forgets it and those before it, not those after', async () => {
    const limiter = new RateLimiter(rule);
    const a = slotOf(await limiter.take(h.db, 'k', T0));
    const b = slotOf(await limiter.take(h.db, 'k', T0));
    const c = slotOf(await limiter.take(h.db, 'k', T0));
    await limiter.release(h.db, c);
    expect((await rows()).length).toBe(2);
    slotOf(await limiter.take(h.db, 'k', T0));
    await limiter.forgiveUpTo(h.db, b);
    expect((await rows()).length).toBe(1);
    await releaseAll(h.db, [a]);
    await forgiveUpTo(h.db, []);
    expect((await rows()).length).toBe(1);
  });

  test('takeAll counts under every key or under none: one key at its limit refuses the lot', async () => {
    const strict: LimitRule = { name: 'strict', limit: 1, windowMs: MIN };
    const both = [
      { rule, key: 'wide' },
      { rule: strict, key: 'narrow' },
    ];
    const first = await takeAll(h.db, both, T0);
    expect(Array.isArray(first) && first.map((s) => s.key)).toEqual([storedKey(rule, 'wide'), storedKey(strict, 'narrow')]);
    expect(await takeAll(h.db, both, T0 + 1000)).toEqual({ wait: MIN - 1000 });
    expect((await rows()).length).toBe(2);
  });

  test('back-off: past the limit each attempt waits twice as long after the last, up to the most', async () => {
    const backoff: LimitRule = { name: 'backoff', limit: 2, windowMs: 86400e3, backoff: { baseMs: 1000, maxMs: 8000 } };
    expect(waitFor(backoff, [T0, T0], T0)).toBe(1000);
    expect(waitFor(backoff, [T0, T0, T0], T0)).toBe(2000);
    expect(waitFor(backoff, Array(10).fill(T0), T0)).toBe(8000);
    const limiter = new RateLimiter(backoff);
    let now = T0;
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) {
      const taken = await limiter.take(h.db, 'alice', now);
      if ('wait' in taken) {
        waits.push(taken.wait);
        now += taken.wait;
        slotOf(await limiter.take(h.db, 'alice', now));
      }
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 8000]);
  });

  test('expired rows are pruned as attempts come in', async () => {
    const limiter = new RateLimiter(rule);
    for (let i = 0; i < 3; i++) await limiter.take(h.db, `old-${i}`, T0);
    // The prune runs at most once a minute per process: an hour later it is due.
    await limiter.take(h.db, 'new', T0 + 3600e3);
    expect((await rows()).map((r) => r.key)).toEqual([storedKey(rule, 'new')]);
  });

  test('20 takes at once of one key count exactly the limit (the check and the count are one step)', async () => {
    const limiter = new RateLimiter({ name: 'burst', limit: 5, windowMs: MIN });
    const answers = await Promise.all(Array.from({ length: 20 }, () => limiter.take(h.db, 'one-key', T0)));
    expect(answers.filter((a) => 'seq' in a)).toHaveLength(5);
    expect((await rows()).length).toBe(5);
  });
});

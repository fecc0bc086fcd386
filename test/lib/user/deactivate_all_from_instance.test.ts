import { sql } from 'kysely';
import { libContext, truncateAll, useOpenTestDatabase } from '../../helpers/backend';
import { countQueries } from '../../helpers/query-counter';
import { seedFollow, seedToken, seedUser, seedUsers } from '../../helpers/seed-users';
import { followPairs } from '../../helpers/table-state';
import type { DbHandle } from '../../../lib/db/db';
import { deactivateInstance, planDeactivateInstance } from '../../../lib/user/deactivate_all_from_instance';
import { listAudit } from '../../../lib/audit/audit';
import { InterruptedError, UsageError } from '../../../lib/errors';

let h: DbHandle;
useOpenTestDatabase((_tdb, handle) => (h = handle));

const T0 = new Date('2030-01-10T12:00:00.000Z');
const ctx = () => libContext(h, { now: () => T0, actor: 'root', reason: 'spam' });
const follows = () => followPairs(h.db);

describe('deactivate_all_from_instance', () => {
  beforeEach(async () => {
    const alice = await seedUser(h.db, { nickname: 'alice' });
    const s1 = await seedUser(h.db, { nickname: 's1@spam.example' });
    const s2 = await seedUser(h.db, { nickname: 'S2@Spam.Example' });
    await seedUser(h.db, { nickname: 's3@spam.example', active: false });
    await seedUser(h.db, { nickname: 's4@spam.example', deletedAt: T0, active: true });
    const c = await seedUser(h.db, { nickname: 'c@spam.example.com' });
    await seedUser(h.db, { nickname: 'd@notspam.example' });
    await seedUser(h.db, { nickname: 'e@sub.spam.example' });
    const other = await seedUser(h.db, { nickname: 'o@other.example' });
    await seedFollow(h.db, alice, s1);
    await seedFollow(h.db, s2, alice);
    await seedFollow(h.db, s1, other);
    await seedFollow(h.db, alice, c);
    await seedToken(h.db, s1, 'access');
  });

  test('matches the host exactly (case-insensitively): never a substring, a subdomain or a longer name', async () => {
    const plan = await planDeactivateInstance(h.db, 'SPAM.example');
    expect(plan).toEqual({ instance: 'spam.example', users: 2, follows: 2, sample: ['s1@spam.example', 'S2@Spam.Example'] });
    expect(await planDeactivateInstance(h.db, '@spam.example')).toMatchObject({ users: 2 });
    const result = await deactivateInstance(ctx(), plan, { batchSize: 1000 });
    expect(result).toEqual({ instance: 'spam.example', deactivated: 2, unfollowed: 2, revokedSessions: 1, batches: 1 });
    const { rows } = await sql<{ nickname: string; active: boolean }>`SELECT nickname, active FROM users ORDER BY id`.execute(h.db);
    expect(rows.map((r) => `${r.nickname}:${r.active}`)).toEqual([
      'alice:true',
      's1@spam.example:false',
      'S2@Spam.Example:false',
      's3@spam.example:false',
      's4@spam.example:true',
      'c@spam.example.com:true',
      'd@notspam.example:true',
      'e@sub.spam.example:true',
      'o@other.example:true',
    ]);
    expect(await follows()).toEqual(['alice>c@spam.example.com', 's1@spam.example>o@other.example']);
    const audit = await listAudit(h.db);
    expect(audit.map((a) => [a.verb, a.targetNickname, a.actor, a.reason, a.details])).toEqual([
      ['deactivate_all_from_instance', 's1@spam.example', 'root', 'spam', { instance: 'spam.example', batch: 1, active: false }],
      ['deactivate_all_from_instance', 'S2@Spam.Example', 'root', 'spam', { instance: 'spam.example', batch: 1, active: false }],
    ]);
  });

  test('a malformed host is a usage error; an unknown one is nothing to do', async () => {
    await expect(planDeactivateInstance(h.db, 'spam.example/%')).rejects.toThrow(UsageError);
    await expect(planDeactivateInstance(h.db, '%')).rejects.toThrow(UsageError);
    expect(await planDeactivateInstance(h.db, 'quiet.example')).toEqual({ instance: 'quiet.example', users: 0, follows: 0, sample: [] });
  });

  test('statements grow with batches, not with users; a re-run after an interruption finishes', async () => {
    async function statementsFor(n: number, batchSize: number): Promise<number> {
      await truncateAll(h);
      await seedUsers(h.db, 'u', n, '@bulk.example');
      const counted = countQueries(h.db);
      const result = await deactivateInstance({ ...ctx(), db: counted.db }, { instance: 'bulk.example', users: n }, { batchSize });
      expect(result.deactivated).toBe(n);
      return counted.count();
    }
    const few = await statementsFor(30, 10);
    // 100 users a batch, not 1000: a batch over its time target (1 s) shrinks the next ones, and
    // 1000 on PGlite under a loaded CI took that long, with two batches more than counted here.
    expect(await statementsFor(300, 100)).toBe(few);
    expect(await statementsFor(50, 10)).toBeGreaterThan(few);

    await truncateAll(h);
    await seedUsers(h.db, 'u', 25, '@bulk.example');
    const controller = new AbortController();
    const run = deactivateInstance(
      ctx(),
      { instance: 'bulk.example', users: 25 },
      { batchSize: 10 },
      { signal: controller.signal, onProgress: () => controller.abort() },
    );
    await expect(run).rejects.toThrow(InterruptedError);
    expect((await planDeactivateInstance(h.db, 'bulk.example')).users).toBe(15);
    expect((await deactivateInstance(ctx(), { instance: 'bulk.example', users: 15 }, { batchSize: 10 })).deactivated).toBe(15);
    expect((await planDeactivateInstance(h.db, 'bulk.example')).users).toBe(0);
  });
});

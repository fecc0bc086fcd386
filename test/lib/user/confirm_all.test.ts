import { sql } from 'kysely';
import { BACKEND, truncateAll, TEST_SETTINGS } from '../../helpers/backend';
import { countQueries } from '../../helpers/query-counter';
import type { DbHandle } from '../../../lib/db/db';
import { bulkConfirm, countBulkConfirm } from '../../../lib/user/confirm_all';
import { hashToken } from '../../../lib/tokens/secrets';
import { InterruptedError, PartialFailureError, UsageError } from '../../../lib/errors';
import { NOW, useUserFixture } from '../../helpers/user-fixture';

let h: DbHandle;
const { ctx, seed, user, tokens, audit } = useUserFixture((handle) => (h = handle));

/** N regular users in one statement, plus the kinds bulk verbs must leave alone. */
async function seedBulk(n: number, confirmed: boolean): Promise<void> {
  await sql`INSERT INTO users (nickname, name, confirmed) SELECT 'u' || g, 'u', ${confirmed} FROM generate_series(1, ${n}) g`.execute(h.db);
  await seed(
    { nickname: 'admin1', admin: true, confirmed },
    { nickname: 'mod1', moderator: true, confirmed },
    { nickname: 'banned', active: false, confirmed },
    { nickname: 'gone', deleted_at: NOW, confirmed },
    { nickname: 'far@remote.example', local: false, confirmed },
  );
}

describe('confirm_all / unconfirm_all', () => {
  const settings = (batchSize: number) => ({ batchSize, confirmationTtlMs: TEST_SETTINGS.confirmationTtlMs });

  test("confirm_all touches local, active, non-staff, not deleted users only (not Pleroma's deactivated ones)", async () => {
    await seedBulk(7, false);
    expect(await countBulkConfirm(h.db, 'confirm_all')).toBe(7);
    const asked: number[] = [];
    const r = await bulkConfirm(ctx(), 'confirm_all', settings(3), { confirm: async (n) => void asked.push(n) });
    expect(asked).toEqual([7]);
    expect(r).toEqual({ verb: 'confirm_all', matched: 7, changed: 7, tokensIssued: 0, tokensRevoked: 0, batches: 3, dryRun: false });
    const { rows } = await sql<{ nickname: string }>`SELECT nickname FROM users WHERE NOT confirmed ORDER BY nickname`.execute(h.db);
    expect(rows.map((x) => x.nickname)).toEqual(['admin1', 'banned', 'far@remote.example', 'gone', 'mod1']);
    const entries = await audit();
    expect(entries).toHaveLength(7);
    expect(entries.every((e) => e.verb === 'confirm_all' && e.actor === 'ops' && e.reason === 'ticket 1' && e.targetUserId !== null)).toBe(true);
    expect(entries.map((e) => e.targetNickname).sort()).toEqual(['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7']);
    // Idempotent: a second run finds nothing and asks nothing.
    const again = await bulkConfirm(ctx(), 'confirm_all', settings(3), { confirm: async (n) => void asked.push(n) });
    expect(again).toMatchObject({ matched: 0, changed: 0, batches: 0 });
    expect(asked).toEqual([7]);
  });

  test('confirm_all revokes the pending confirmation links of the users it confirms', async () => {
    await seedBulk(2, false);
    const u1 = await user('u1');
    const admin = await user('admin1');
    await h.db
      .insertInto('tokens')
      .values([
        { kind: 'email_confirmation', token_hash: hashToken('1'), user_id: u1.id, expires_at: null },
        { kind: 'email_confirmation', token_hash: hashToken('2'), user_id: admin.id, expires_at: null },
      ])
      .execute();
    const r = await bulkConfirm(ctx(), 'confirm_all', settings(10));
    expect(r.tokensRevoked).toBe(1);
    expect((await tokens()).map((t) => [t.user_id, t.revoked_at])).toEqual([
      [u1.id, NOW],
      [admin.id, null],
    ]);
  });

  test('unconfirm_all issues one confirmation token per user, stored only as a sha256 hash, with the configured expiry', async () => {
    await seedBulk(5, true);
    const r = await bulkConfirm(ctx(), 'unconfirm_all', settings(2));
    expect(r).toEqual({ verb: 'unconfirm_all', matched: 5, changed: 5, tokensIssued: 5, tokensRevoked: 0, batches: 3, dryRun: false });
    const rows = await tokens();
    expect(rows).toHaveLength(5);
    const regular = await h.db.selectFrom('users').select('id').where('nickname', 'like', 'u%').orderBy('id').execute();
    expect(rows.map((t) => t.user_id).sort((a, b) => a - b)).toEqual(regular.map((u) => u.id));
    for (const t of rows) {
      expect(t.token_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(t.expires_at).toEqual(new Date(NOW.getTime() + TEST_SETTINGS.confirmationTtlMs));
      expect(t).toMatchObject({ created_at: NOW, revoked_at: null, used_at: null });
    }
    expect(new Set(rows.map((t) => t.token_hash)).size).toBe(5);
    const { rows: still } = await sql<{ nickname: string }>`SELECT nickname FROM users WHERE confirmed ORDER BY nickname`.execute(h.db);
    expect(still.map((x) => x.nickname)).toEqual(['admin1', 'banned', 'far@remote.example', 'gone', 'mod1']);
    const entries = await audit();
    expect(entries).toHaveLength(5);
    expect(entries[0].details).toEqual({ confirmed: { from: true, to: false }, confirmationTokenIssued: true });
    expect(JSON.stringify(entries)).not.toMatch(/[0-9a-f]{64}/);
  });

  test('statements grow with batches, not with users', async () => {
    const run = async (users: number, batchSize: number, verb: 'confirm_all' | 'unconfirm_all') => {
      await truncateAll(h);
      await seedBulk(users, verb === 'unconfirm_all');
      const counted = countQueries(h.db);
      const r = await bulkConfirm({ ...ctx(), db: counted.db }, verb, settings(batchSize));
      expect(r.changed).toBe(users);
      return { statements: counted.count(), batches: r.batches };
    };
    // 3 batches each: 25 users in batches of 10, 250 users in batches of 100. (Not 2500 in batches
    // of 1000: a batch over its time target, 1 s, shrinks the next ones, and 1000 users on PGlite
    // took that long on a loaded CI, with a batch more than counted here.)
    const small = await run(25, 10, 'confirm_all');
    const large = await run(250, 100, 'confirm_all');
    expect(small).toEqual({ batches: 3, statements: large.statements });
    // On a server, the lock, and its check before each batch (lib/bulk/lock.ts); on PGlite neither.
    const [lock, check] = BACKEND === 'postgres' ? [1, 1] : [0, 0];
    // count, 4 per batch (pick ids, update, revoke links, audit)
    expect(large.statements).toBe(lock + 1 + 3 * (4 + check));
    // Ten times the users in the same batch size: ten times the batches, not the statements per user.
    const tenfold = await run(250, 10, 'confirm_all');
    // (250 is a multiple of 10: one last pick finds nothing and ends the run.)
    expect(tenfold).toEqual({ batches: 25, statements: lock + 1 + 25 * (4 + check) + 1 + check });
    // unconfirm_all adds one token INSERT per batch, whatever its size.
    const un = await run(250, 100, 'unconfirm_all');
    expect(un).toEqual({ batches: 3, statements: lock + 1 + 3 * (5 + check) });
    expect(
      await h.db
        .selectFrom('tokens')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow(),
    ).toEqual({ n: 250 });
  });

  test('a dry run counts and writes nothing', async () => {
    await seedBulk(4, false);
    const confirm = jest.fn();
    expect(await bulkConfirm(ctx(), 'confirm_all', settings(2), { dryRun: true, confirm })).toEqual({
      verb: 'confirm_all',
      matched: 4,
      changed: 0,
      tokensIssued: 0,
      tokensRevoked: 0,
      batches: 0,
      dryRun: true,
    });
    expect(confirm).not.toHaveBeenCalled();
    expect(await countBulkConfirm(h.db, 'confirm_all')).toBe(4);
    expect(await audit()).toEqual([]);
  });

  test('a declined confirmation writes nothing', async () => {
    await seedBulk(4, false);
    await expect(
      bulkConfirm(ctx(), 'confirm_all', settings(2), {
        confirm: async () => {
          throw new UsageError('no');
        },
      }),
    ).rejects.toThrow('no');
    expect(await countBulkConfirm(h.db, 'confirm_all')).toBe(4);
  });

  test('Ctrl-C stops after the current batch; the finished batches stay and a re-run finishes', async () => {
    await seedBulk(5, false);
    const controller = new AbortController();
    const run = bulkConfirm(ctx(), 'confirm_all', settings(2), { signal: controller.signal, onProgress: () => controller.abort() });
    await expect(run).rejects.toThrow(
      new InterruptedError('interrupted: confirmed 2 users in 1 batch; every finished batch is saved, re-run confirm_all to finish the rest'),
    );
    expect(await countBulkConfirm(h.db, 'confirm_all')).toBe(3);
    expect(await audit()).toHaveLength(2);
    expect(await bulkConfirm(ctx(), 'confirm_all', settings(2))).toMatchObject({ matched: 3, changed: 3 });
  });

  test('a batch that fails after others committed is a partial failure (exit 7) naming how many were done', async () => {
    await seedBulk(5, false);
    await sql`CREATE FUNCTION refuse_u4() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.nickname = 'u4' THEN RAISE EXCEPTION 'u4 is special'; END IF; RETURN NEW; END $$`.execute(
      h.db,
    );
    await sql`CREATE TRIGGER refuse_u4 BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION refuse_u4()`.execute(h.db);
    try {
      const run = bulkConfirm(ctx(), 'confirm_all', settings(2));
      await expect(run).rejects.toThrow(PartialFailureError);
      await expect(run).rejects.toThrow(
        'confirmed 2 users in 1 batch, then a batch failed and was rolled back: u4 is special; the users done stay done, re-run confirm_all to finish',
      );
      const { rows } = await sql<{ nickname: string }>`SELECT nickname FROM users WHERE confirmed ORDER BY nickname`.execute(h.db);
      expect(rows.map((x) => x.nickname)).toEqual(['u1', 'u2']);
      expect(await audit()).toHaveLength(2);
      // When the very first batch fails nothing was done: the error itself, not a partial failure.
      const again = bulkConfirm(ctx(), 'confirm_all', settings(2));
      await expect(again).rejects.toThrow('u4 is special');
      await expect(again).rejects.not.toThrow(PartialFailureError);
    } finally {
      await sql`DROP TRIGGER refuse_u4 ON users`.execute(h.db);
      await sql`DROP FUNCTION refuse_u4()`.execute(h.db);
    }
  });
});

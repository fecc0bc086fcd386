import { sql } from 'kysely';
import { libContext, truncateAll, TEST_SETTINGS, type TestDatabase, useOpenTestDatabase } from '../helpers/backend';
import { countQueries } from '../helpers/query-counter';
import type { DbHandle } from '../../lib/db/db';
import type { NewUserRow } from '../../lib/db/schema';
import { parseSince } from '../../lib/dates';
import { setUser } from '../../lib/user/set';
import { changeTags, formatTags } from '../../lib/user/tag';
import { confirmUser } from '../../lib/user/confirm';
import { bulkConfirm, countBulkConfirm } from '../../lib/user/confirm_all';
import { resetMfa } from '../../lib/user/reset_mfa';
import { countUsers } from '../../lib/user/count';
import { auditPages, listAudit, type AuditRecord } from '../../lib/audit/audit';
import { hashToken } from '../../lib/tokens/secrets';
import { ConflictError, InterruptedError, NotFoundError, PartialFailureError, UsageError } from '../../lib/errors';

let tdb: TestDatabase;
let h: DbHandle;
useOpenTestDatabase((d, handle) => {
  tdb = d;
  h = handle;
});

const NOW = new Date('2026-03-10T12:00:00Z');
const ctx = (over = {}) => libContext(h, { now: () => NOW, actor: 'ops', reason: 'ticket 1', ...over });

async function seed(...users: Partial<NewUserRow>[]): Promise<number[]> {
  const rows = await h.db
    .insertInto('users')
    .values(users.map((u, i) => ({ nickname: `user${i}`, name: u.nickname ?? `user${i}`, email: null, confirmed: true, ...u })))
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}

const user = (nickname: string) => h.db.selectFrom('users').selectAll().where('nickname', '=', nickname).executeTakeFirstOrThrow();
const tokens = (kind = 'email_confirmation') => h.db.selectFrom('tokens').selectAll().where('kind', '=', kind as 'email_confirmation').orderBy('id').execute();
const audit = () => listAudit(h.db);

async function collect<T>(pages: AsyncIterable<T[]>): Promise<T[]> {
  const all: T[] = [];
  for await (const page of pages) all.push(...page);
  return all;
}

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

describe('parseSince', () => {
  test.each([
    ['2024-05-01', '2024-05-01T00:00:00.000Z'],
    ['2024-02-29', '2024-02-29T00:00:00.000Z'],
    ['2024-05-01T12:30:00Z', '2024-05-01T12:30:00.000Z'],
    ['2024-05-01T12:30:00+02:00', '2024-05-01T10:30:00.000Z'],
    ['2024-05-01T12:30', '2024-05-01T12:30:00.000Z'],
    ['7d', '2026-03-03T12:00:00.000Z'],
    ['12h', '2026-03-10T00:00:00.000Z'],
    ['2w', '2026-02-24T12:00:00.000Z'],
    ['365d', '2025-03-10T12:00:00.000Z'],
  ])('%s is %s', (text, iso) => {
    expect(parseSince(text, '--since', NOW).toISOString()).toBe(iso);
  });

  test.each(['2019-02-30', '2023-02-29', '2024-13-01', '2024-05-01T25:00:00Z', 'yesterday', '7 days', '', '-7d'])('%j is exit 2 quoting the value', (text) => {
    expect(() => parseSince(text, '--since', NOW)).toThrow(UsageError);
    expect(() => parseSince(text, '--since', NOW)).toThrow(`invalid date ${JSON.stringify(text)} for --since: expected YYYY-MM-DD, an ISO timestamp or a duration like 7d, 12h or 2w`);
  });
});

describe('setUser', () => {
  test('no change asked for is exit 2, before the user is even looked up', async () => {
    await expect(setUser(ctx(), 'nobody', {}, TEST_SETTINGS)).rejects.toThrow(new UsageError('nothing to change: pass at least one of --[no-]admin, --[no-]confirmed, --[no-]locked, --[no-]moderator, --email, --name, --bio'));
    await expect(setUser(ctx(), 'nobody', { name: '  ' }, TEST_SETTINGS)).rejects.toThrow('the name cannot be empty');
    await expect(setUser(ctx(), 'nobody', { email: 'nope' }, TEST_SETTINGS)).rejects.toThrow('invalid email "nope"');
  });

  test('reports the asked fields in Pleroma order, writes only what changed, with one audit row', async () => {
    await seed({ nickname: 'alice', email: 'alice@example.com', locked: true });
    const r = await setUser(ctx(), 'ALICE@example.com', { moderator: true, locked: true, admin: true, name: 'Alice A.' }, TEST_SETTINGS);
    expect(r.fields.map((f) => [f.field, f.to, f.changed])).toEqual([
      ['admin', true, true],
      ['locked', true, false],
      ['moderator', true, true],
      ['name', 'Alice A.', true],
    ]);
    expect(r.changed).toBe(true);
    expect(r.user).toMatchObject({ nickname: 'alice', admin: true, moderator: true, locked: true, name: 'Alice A.' });
    const row = await user('alice');
    expect(row).toMatchObject({ admin: true, moderator: true, locked: true, name: 'Alice A.' });
    expect(row.updated_at.toISOString()).toBe(NOW.toISOString());
    const rows = await audit();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      verb: 'set',
      actor: 'ops',
      reason: 'ticket 1',
      targetUserId: row.id,
      targetNickname: 'alice',
      details: { admin: { from: false, to: true }, moderator: { from: false, to: true }, name: { from: 'alice', to: 'Alice A.' } },
    });
  });

  test('values the user already has: nothing written, no audit row', async () => {
    await seed({ nickname: 'alice', admin: true });
    const before = await user('alice');
    const r = await setUser(ctx(), 'alice', { admin: true, locked: false }, TEST_SETTINGS);
    expect(r.changed).toBe(false);
    expect(r.fields.every((f) => !f.changed)).toBe(true);
    expect(await user('alice')).toEqual(before);
    expect(await audit()).toEqual([]);
  });

  test('remote, missing and soft-deleted users are "No local user X" (exit 3)', async () => {
    await seed({ nickname: 'bob@remote.example', local: false }, { nickname: 'gone', deleted_at: NOW });
    for (const ref of ['bob@remote.example', 'nobody', 'gone']) {
      await expect(setUser(ctx(), ref, { locked: true }, TEST_SETTINGS)).rejects.toThrow(new NotFoundError(`No local user ${ref}`));
    }
  });

  test('--no-admin on the last active admin is exit 4; a deactivated or deleted admin does not count as another', async () => {
    await seed({ nickname: 'root', admin: true }, { nickname: 'old', admin: true, active: false }, { nickname: 'dead', admin: true, deleted_at: NOW });
    await expect(setUser(ctx(), 'root', { admin: false }, TEST_SETTINGS)).rejects.toThrow(
      new ConflictError('refusing to remove admin status from root: it is the last active admin (make another user admin first: ctl user set <user> --admin)'),
    );
    await expect(setUser(ctx(), 'root', { admin: false }, TEST_SETTINGS, { dryRun: true })).rejects.toThrow(ConflictError);
    expect((await user('root')).admin).toBe(true);
    // Demoting an admin that is not active is allowed: it locks nobody out.
    await expect(setUser(ctx(), 'old', { admin: false }, TEST_SETTINGS)).resolves.toMatchObject({ changed: true });
    await seed({ nickname: 'second', admin: true });
    await expect(setUser(ctx(), 'root', { admin: false }, TEST_SETTINGS)).resolves.toMatchObject({ changed: true });
    expect(await audit()).toHaveLength(2);
  });

  test('two demotions of the last two admins at once: exactly one wins, never a deadlock', async () => {
    for (let round = 0; round < 5; round++) {
      await truncateAll(h);
      await seed({ nickname: 'a1', admin: true }, { nickname: 'a2', admin: true }, { nickname: 'a3', admin: true, active: false });
      const results = await Promise.allSettled([
        setUser(ctx(), 'a2', { admin: false, locked: true }, TEST_SETTINGS),
        setUser(ctx(), 'a1', { admin: false }, TEST_SETTINGS),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(rejected.reason).toBeInstanceOf(ConflictError);
      const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM users WHERE admin AND active`.execute(h.db);
      expect(rows[0].n).toBe(1);
    }
  });

  test('--no-confirmed replaces pending confirmation links with a fresh one stored only as its hash', async () => {
    const [id] = await seed({ nickname: 'alice', confirmed: true });
    await h.db.insertInto('tokens').values({ kind: 'email_confirmation', token_hash: hashToken('old'), user_id: id, expires_at: null }).execute();
    const r = await setUser(ctx(), 'alice', { confirmed: false }, TEST_SETTINGS);
    expect(r.changed).toBe(true);
    expect(r.revokedConfirmationTokens).toBe(1);
    const token = r.confirmation!.url.replace('http://ctl.test/verify/', '');
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const rows = await tokens();
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ token_hash: hashToken('old'), revoked_at: NOW });
    expect(rows[1]).toMatchObject({ token_hash: hashToken(token), user_id: id, revoked_at: null, expires_at: new Date(NOW.getTime() + TEST_SETTINGS.confirmationTtlMs) });
    expect((await user('alice')).confirmed).toBe(false);
    const [entry] = await audit();
    expect(JSON.stringify(entry)).not.toContain(token);
    expect(JSON.stringify(entry)).not.toContain(hashToken(token));
    expect(entry.details).toEqual({ confirmed: { from: true, to: false }, confirmationTokenIssued: true, confirmationTokensRevoked: 1 });
    // Already unconfirmed: --no-confirmed still issues a new link (Pleroma), revoking the last one.
    const again = await setUser(ctx(), 'alice', { confirmed: false }, TEST_SETTINGS);
    expect(again.changed).toBe(true);
    expect((await tokens()).filter((t) => t.revoked_at === null)).toHaveLength(1);
  });

  test('--confirmed clears pending confirmation links', async () => {
    const [id] = await seed({ nickname: 'alice', confirmed: false });
    await h.db.insertInto('tokens').values([
      { kind: 'email_confirmation', token_hash: hashToken('a'), user_id: id, expires_at: null },
      { kind: 'password_reset', token_hash: hashToken('b'), user_id: id, expires_at: null },
    ]).execute();
    const r = await setUser(ctx(), 'alice', { confirmed: true }, TEST_SETTINGS);
    expect(r).toMatchObject({ changed: true, revokedConfirmationTokens: 1, confirmation: null });
    expect((await tokens())[0].revoked_at).toEqual(NOW);
    expect((await tokens('password_reset'))[0].revoked_at).toBeNull();
  });

  test('email: validated, unique case-insensitively (exit 4), changed otherwise', async () => {
    await seed({ nickname: 'alice', email: 'alice@example.com' }, { nickname: 'bob', email: 'bob@example.com' });
    await expect(setUser(ctx(), 'alice', { email: 'BOB@example.com' }, TEST_SETTINGS)).rejects.toThrow(new ConflictError('email BOB@example.com is already taken'));
    const r = await setUser(ctx(), 'alice', { email: 'Alice@New.example' }, TEST_SETTINGS);
    expect(r.user.email).toBe('Alice@New.example');
    expect((await user('alice')).email).toBe('Alice@New.example');
  });

  test('a dry run checks everything and writes nothing', async () => {
    await seed({ nickname: 'alice', confirmed: true });
    const before = await user('alice');
    const r = await setUser(ctx(), 'alice', { confirmed: false, moderator: true, bio: 'hello' }, TEST_SETTINGS, { dryRun: true });
    expect(r).toMatchObject({ dryRun: true, changed: true, confirmation: null });
    expect(r.user).toMatchObject({ confirmed: false, moderator: true, bio: 'hello' });
    expect(await user('alice')).toEqual(before);
    expect(await tokens()).toEqual([]);
    expect(await audit()).toEqual([]);
  });
});

describe('tags', () => {
  test('tag: lower-cased, sorted union; untag: difference; one audit row per change', async () => {
    await seed({ nickname: 'alice', tags: ['zeta'] });
    const r = await changeTags(ctx(), 'tag', 'alice', ['Pleroma', 'beta', 'pleroma', ' ZETA ']);
    expect(r).toMatchObject({ nickname: 'alice', tags: ['beta', 'pleroma', 'zeta'], added: ['beta', 'pleroma'], removed: [], changed: true });
    expect((await user('alice')).tags).toEqual(['beta', 'pleroma', 'zeta']);
    const u = await changeTags(ctx(), 'untag', 'alice', ['ZETA', 'missing']);
    expect(u).toMatchObject({ tags: ['beta', 'pleroma'], added: [], removed: ['zeta'], changed: true });
    expect((await user('alice')).tags).toEqual(['beta', 'pleroma']);
    expect((await audit()).map((a) => [a.verb, a.details])).toEqual([
      ['tag', { added: ['beta', 'pleroma'], removed: [], tags: ['beta', 'pleroma', 'zeta'] }],
      ['untag', { added: [], removed: ['zeta'], tags: ['beta', 'pleroma'] }],
    ]);
    expect(formatTags(u.tags)).toBe('["beta", "pleroma"]');
    expect(formatTags([])).toBe('[]');
  });

  test('no change: nothing written, no audit row', async () => {
    await seed({ nickname: 'alice', tags: ['a'] });
    expect((await changeTags(ctx(), 'tag', 'alice', ['A'])).changed).toBe(false);
    expect((await changeTags(ctx(), 'untag', 'alice', ['b'])).changed).toBe(false);
    expect(await audit()).toEqual([]);
  });

  test('remote users can be tagged; a missing one is Pleroma\'s "Could not change user tags for X"', async () => {
    await seed({ nickname: 'bob@remote.example', local: false });
    expect((await changeTags(ctx(), 'tag', 'bob@remote.example', ['spam'])).tags).toEqual(['spam']);
    await expect(changeTags(ctx(), 'tag', 'nobody', ['x'])).rejects.toThrow(new NotFoundError('Could not change user tags for nobody'));
    await expect(changeTags(ctx(), 'untag', 'nobody', ['x'])).rejects.toThrow(new NotFoundError('Could not change user tags for nobody'));
  });

  test('bad tags are exit 2', async () => {
    await seed({ nickname: 'alice' });
    await expect(changeTags(ctx(), 'tag', 'alice', ['two words'])).rejects.toThrow(UsageError);
    await expect(changeTags(ctx(), 'tag', 'alice', ['a,b'])).rejects.toThrow('invalid tag "a,b"');
    await expect(changeTags(ctx(), 'tag', 'alice', [])).rejects.toThrow('name at least one tag');
  });

  test('a dry run returns the would-be tags and writes nothing', async () => {
    await seed({ nickname: 'alice', tags: ['a'] });
    expect((await changeTags(ctx(), 'tag', 'alice', ['b'], { dryRun: true })).tags).toEqual(['a', 'b']);
    expect((await user('alice')).tags).toEqual(['a']);
    expect(await audit()).toEqual([]);
  });
});

describe('confirmUser', () => {
  test('confirms once, then reports there is nothing to do', async () => {
    const [id] = await seed({ nickname: 'alice', confirmed: false });
    await h.db.insertInto('tokens').values({ kind: 'email_confirmation', token_hash: hashToken('t'), user_id: id, expires_at: null }).execute();
    expect(await confirmUser(ctx(), 'alice')).toMatchObject({ changed: true, wasConfirmed: false, revokedConfirmationTokens: 1 });
    expect((await user('alice')).confirmed).toBe(true);
    expect((await tokens())[0].revoked_at).toEqual(NOW);
    expect(await confirmUser(ctx(), 'alice')).toMatchObject({ changed: false, wasConfirmed: true, revokedConfirmationTokens: 0 });
    const rows = await audit();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ verb: 'confirm', targetUserId: id, details: { confirmed: { from: false, to: true }, confirmationTokensRevoked: 1 } });
  });

  test('any user, remote too; missing is "No local user X"', async () => {
    await seed({ nickname: 'bob@remote.example', local: false, confirmed: false });
    expect((await confirmUser(ctx(), 'bob@remote.example')).changed).toBe(true);
    await expect(confirmUser(ctx(), 'nobody')).rejects.toThrow(new NotFoundError('No local user nobody'));
  });

  test('dry run writes nothing', async () => {
    await seed({ nickname: 'alice', confirmed: false });
    expect(await confirmUser(ctx(), 'alice', { dryRun: true })).toMatchObject({ changed: true, dryRun: true });
    expect((await user('alice')).confirmed).toBe(false);
    expect(await audit()).toEqual([]);
  });
});

describe('confirm_all / unconfirm_all', () => {
  const settings = (batchSize: number) => ({ batchSize, confirmationTtlMs: TEST_SETTINGS.confirmationTtlMs });

  test('confirm_all touches local, active, non-staff, not deleted users only (not Pleroma\'s deactivated ones)', async () => {
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
    await h.db.insertInto('tokens').values([
      { kind: 'email_confirmation', token_hash: hashToken('1'), user_id: u1.id, expires_at: null },
      { kind: 'email_confirmation', token_hash: hashToken('2'), user_id: admin.id, expires_at: null },
    ]).execute();
    const r = await bulkConfirm(ctx(), 'confirm_all', settings(10));
    expect(r.tokensRevoked).toBe(1);
    expect((await tokens()).map((t) => [t.user_id, t.revoked_at])).toEqual([[u1.id, NOW], [admin.id, null]]);
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
    // 3 batches each: 250 users in batches of 100, 2500 users in batches of 1000.
    const small = await run(250, 100, 'confirm_all');
    const large = await run(2500, 1000, 'confirm_all');
    expect(small).toEqual({ batches: 3, statements: large.statements });
    // lock, count, 4 per batch (pick ids, update, revoke links, audit), unlock
    expect(large.statements).toBe(1 + 1 + 3 * 4 + 1);
    // Ten times the users in the same batch size: ten times the batches, not the statements per user.
    const tenfold = await run(2500, 100, 'confirm_all');
    // (2500 is a multiple of 100: one last pick finds nothing and ends the run.)
    expect(tenfold).toEqual({ batches: 25, statements: 1 + 1 + 25 * 4 + 1 + 1 });
    // unconfirm_all adds one token INSERT per batch, whatever its size.
    const un = await run(2500, 1000, 'unconfirm_all');
    expect(un).toEqual({ batches: 3, statements: 1 + 1 + 3 * 5 + 1 });
    expect(await h.db.selectFrom('tokens').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).toEqual({ n: 2500 });
  });

  test('a dry run counts and writes nothing', async () => {
    await seedBulk(4, false);
    const confirm = jest.fn();
    expect(await bulkConfirm(ctx(), 'confirm_all', settings(2), { dryRun: true, confirm })).toEqual({ verb: 'confirm_all', matched: 4, changed: 0, tokensIssued: 0, tokensRevoked: 0, batches: 0, dryRun: true });
    expect(confirm).not.toHaveBeenCalled();
    expect(await countBulkConfirm(h.db, 'confirm_all')).toBe(4);
    expect(await audit()).toEqual([]);
  });

  test('a declined confirmation writes nothing', async () => {
    await seedBulk(4, false);
    await expect(bulkConfirm(ctx(), 'confirm_all', settings(2), { confirm: async () => { throw new UsageError('no'); } })).rejects.toThrow('no');
    expect(await countBulkConfirm(h.db, 'confirm_all')).toBe(4);
  });

  test('Ctrl-C stops after the current batch; the finished batches stay and a re-run finishes', async () => {
    await seedBulk(5, false);
    const controller = new AbortController();
    const run = bulkConfirm(ctx(), 'confirm_all', settings(2), { signal: controller.signal, onProgress: () => controller.abort() });
    await expect(run).rejects.toThrow(new InterruptedError('interrupted: confirmed 2 users in 1 batch; every finished batch is saved, re-run confirm_all to finish the rest'));
    expect(await countBulkConfirm(h.db, 'confirm_all')).toBe(3);
    expect(await audit()).toHaveLength(2);
    expect(await bulkConfirm(ctx(), 'confirm_all', settings(2))).toMatchObject({ matched: 3, changed: 3 });
  });

  test('a batch that fails after others committed is a partial failure (exit 7) naming how many were done', async () => {
    await seedBulk(5, false);
    await sql`CREATE FUNCTION refuse_u4() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.nickname = 'u4' THEN RAISE EXCEPTION 'u4 is special'; END IF; RETURN NEW; END $$`.execute(h.db);
    await sql`CREATE TRIGGER refuse_u4 BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION refuse_u4()`.execute(h.db);
    try {
      const run = bulkConfirm(ctx(), 'confirm_all', settings(2));
      await expect(run).rejects.toThrow(PartialFailureError);
      await expect(run).rejects.toThrow('confirmed 2 users in 1 batch, then a batch failed and was rolled back: u4 is special; the users done stay done, re-run confirm_all to finish');
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

describe('resetMfa', () => {
  test('removes the secret, the backup codes and the replay guard, and says what was there', async () => {
    await seed({ nickname: 'alice', mfa_enabled: true, mfa_totp_secret: 'JBSWY3DPEHPK3PXP', mfa_backup_codes: ['$2a$04$x', '$2a$04$y'], mfa_last_step: 123 });
    const r = await resetMfa(ctx(), 'alice');
    expect(r).toMatchObject({ nickname: 'alice', changed: true, removed: { mfaEnabled: true, totpSecret: true, backupCodes: 2 } });
    expect(await user('alice')).toMatchObject({ mfa_enabled: false, mfa_totp_secret: null, mfa_backup_codes: [], mfa_last_step: null, updated_at: NOW });
    const [entry] = await audit();
    expect(entry).toMatchObject({ verb: 'reset_mfa', targetNickname: 'alice', details: { removed: { mfaEnabled: true, totpSecret: true, backupCodes: 2 } } });
    expect(JSON.stringify(entry)).not.toContain('JBSWY3DPEHPK3PXP');
    expect(await resetMfa(ctx(), 'alice')).toMatchObject({ changed: false, removed: { mfaEnabled: false, totpSecret: false, backupCodes: 0 } });
    expect(await audit()).toHaveLength(1);
  });

  test('local users only; dry run writes nothing', async () => {
    await seed({ nickname: 'bob@remote.example', local: false, mfa_enabled: true }, { nickname: 'alice', mfa_enabled: true, mfa_totp_secret: 'S' });
    await expect(resetMfa(ctx(), 'bob@remote.example')).rejects.toThrow(new NotFoundError('No local user bob@remote.example'));
    expect(await resetMfa(ctx(), 'alice', { dryRun: true })).toMatchObject({ changed: true, dryRun: true });
    expect((await user('alice')).mfa_totp_secret).toBe('S');
    expect(await audit()).toEqual([]);
  });
});

describe('countUsers', () => {
  test('local, not deleted users, and those who logged in inside the window', async () => {
    const day = 86400e3;
    await seed(
      { nickname: 'recent', last_login_at: new Date(NOW.getTime() - 10 * day) },
      { nickname: 'edge', last_login_at: new Date(NOW.getTime() - 365 * day) },
      { nickname: 'old', last_login_at: new Date(NOW.getTime() - 400 * day) },
      { nickname: 'never' },
      { nickname: 'banned', active: false, last_login_at: new Date(NOW.getTime() - day) },
      { nickname: 'gone', deleted_at: NOW, last_login_at: NOW },
      { nickname: 'x@remote.example', local: false, last_login_at: NOW },
    );
    const since = parseSince('365d', '--active-since', NOW);
    expect(await countUsers(h.db, since)).toEqual({ total: 5, activeInWindow: 3, activeSince: since, deactivated: 1, deleted: 1 });
    expect((await countUsers(h.db, parseSince('30d', '--active-since', NOW))).activeInWindow).toBe(2);
  });
});

describe('auditPages', () => {
  async function entries(n: number, verb: (i: number) => string, nickname: (i: number) => string | null, userId: (i: number) => number | null) {
    for (let i = 0; i < n; i++) {
      await h.db.insertInto('audit_log').values({ at: new Date(NOW.getTime() + i * 60e3), actor: 'ops', verb: verb(i), target_user_id: userId(i), target_nickname: nickname(i), details: '{}' }).execute();
    }
  }
  const ids = (rows: AuditRecord[]) => rows.map((r) => r.id);

  test('filters by user (id or nickname, case-insensitively), verb and since; pages in id order', async () => {
    await entries(9, (i) => (i % 3 === 0 ? 'set' : 'tag'), (i) => (i % 2 === 0 ? 'Alice' : 'bob'), (i) => (i % 2 === 0 ? 1 : 2));
    expect(ids(await collect(auditPages(h.db, {}, 2)))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(ids(await collect(auditPages(h.db, { nickname: 'alice' }, 2)))).toEqual([1, 3, 5, 7, 9]);
    expect(ids(await collect(auditPages(h.db, { userId: 2 })))).toEqual([2, 4, 6, 8]);
    expect(ids(await collect(auditPages(h.db, { verb: 'set' })))).toEqual([1, 4, 7]);
    expect(ids(await collect(auditPages(h.db, { since: new Date(NOW.getTime() + 6 * 60e3) })))).toEqual([7, 8, 9]);
    expect(ids(await collect(auditPages(h.db, { nickname: 'alice', verb: 'tag', since: NOW })))).toEqual([3, 5, 9]);
  });

  test('--limit keeps the newest N, still oldest first', async () => {
    await entries(7, () => 'set', () => 'alice', () => 1);
    expect(ids(await collect(auditPages(h.db, { limit: 3 }, 2)))).toEqual([5, 6, 7]);
    expect(ids(await collect(auditPages(h.db, { limit: 30 }, 2)))).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(ids(await collect(auditPages(h.db, { limit: 2, verb: 'nope' })))).toEqual([]);
  });
});

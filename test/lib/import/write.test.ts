import crypto from 'node:crypto';
import { sql } from 'kysely';
import bcrypt from 'bcryptjs';
import { createTestDatabase, libContext, truncateAll, TEST_SETTINGS, type TestDatabase } from '../../helpers/backend';
import { countQueries } from '../../helpers/query-counter';
import { readRecords } from '../../../lib/import/parse';
import { planImport } from '../../../lib/import/plan';
import { newTokens, writeImport, type CreatedImportRow } from '../../../lib/import/write';
import { bulkJobOn } from '../../../lib/bulk/job';
import { createHashPool, type HashPool } from '../../../lib/auth/hash-pool';
import { hashToken } from '../../../lib/tokens/secrets';
import { InterruptedError } from '../../../lib/errors';
import type { DbHandle } from '../../../lib/db/db';

async function* chunks(...parts: string[]): AsyncGenerator<string> {
  for (const p of parts) yield p;
}

describe('writing against the database', () => {
  let tdb: TestDatabase;
  let h: DbHandle;
  let pool: HashPool;
  beforeAll(async () => {
    tdb = await createTestDatabase();
    h = await tdb.open();
    pool = createHashPool(2);
  });
  afterAll(async () => {
    await pool?.close();
    await h?.close();
    await tdb?.destroy();
  });
  beforeEach(() => truncateAll(h));

  const plan = (text: string) => planImport(h.db, readRecords(chunks(text), 'csv'));

  test('writes users, set-password tokens (hash only) and one audit row per user, in one statement per batch', async () => {
    const lines = ['nickname,email,name,admin,tags,password'];
    for (let i = 1; i <= 25; i++) lines.push(`u${i},u${i}@example.com,User ${i},${i === 1},${i % 2 ? 'odd' : ''},${i <= 3 ? `password-${i}` : ''}`);
    const p = await plan(`${lines.join('\n')}\n`);
    expect(p.rows).toHaveLength(25);
    const counted = countQueries(h.db);
    const now = new Date('2026-11-22T10:00:00Z');
    const batches: CreatedImportRow[][] = [];
    const result = await writeImport(
      bulkJobOn(libContext(h, { db: counted.db, now: () => now, actor: 'ops', reason: 'migration' }), { batchSize: 10 }),
      p.rows,
      TEST_SETTINGS,
      {
        hashPool: pool,
        onBatch: (done) => void batches.push([...done]),
      },
    );
    expect(result).toEqual({ created: 25, lost: 0, batches: 3 });
    // Per batch: SAVEPOINT, the one INSERT statement, RELEASE.
    expect(counted.count()).toBe(9);
    expect(counted.kinds().filter((k) => k !== 'RawNode')).toEqual([]);
    expect(batches.map((b) => b.length)).toEqual([10, 10, 5]);

    const users = await h.db
      .selectFrom('users')
      .select(['id', 'nickname', 'name', 'admin', 'tags', 'password_hash', 'local', 'confirmed'])
      .orderBy('id')
      .execute();
    expect(users).toHaveLength(25);
    expect(users[0]).toMatchObject({ nickname: 'u1', name: 'User 1', admin: true, tags: ['odd'], local: true, confirmed: true });
    expect(users[1]).toMatchObject({ nickname: 'u2', admin: false, tags: [] });
    expect(await bcrypt.compare('password-2', users[1].password_hash!)).toBe(true);
    expect(bcrypt.getRounds(users[1].password_hash!)).toBe(TEST_SETTINGS.bcryptCost);
    expect(users.slice(3).every((u) => u.password_hash === null)).toBe(true);

    const created = batches.flat();
    expect(created.filter((c) => c.passwordReset === null).map((c) => c.nickname)).toEqual(['u1', 'u2', 'u3']);
    const u4 = created.find((c) => c.nickname === 'u4')!;
    expect(u4.passwordReset!.url).toBe(`http://ctl.test/password_reset/${u4.passwordReset!.token}`);
    const tokens = await h.db.selectFrom('tokens').selectAll().orderBy('user_id').execute();
    expect(tokens).toHaveLength(22);
    const t4 = tokens.find((t) => t.user_id === u4.id)!;
    expect(t4).toMatchObject({ kind: 'password_reset', token_hash: hashToken(u4.passwordReset!.token), used_at: null, revoked_at: null });
    expect(t4.expires_at!.getTime()).toBe(now.getTime() + TEST_SETTINGS.passwordResetTtlMs);

    const audit = await h.db.selectFrom('audit_log').selectAll().orderBy('id').execute();
    expect(audit).toHaveLength(25);
    expect(audit[0]).toMatchObject({ actor: 'ops', verb: 'import', reason: 'migration', target_user_id: users[0].id, target_nickname: 'u1' });
    expect(audit[0].details).toEqual({ email: 'u1@example.com', admin: true, moderator: false, confirmed: true, tags: ['odd'], passwordSet: true });
    const everything = JSON.stringify(audit);
    expect(everything).not.toContain('password-1');
    expect(everything).not.toContain(u4.passwordReset!.token);
    expect(everything).not.toContain('$2');
  });

  test('names, bios and tags with quotes, backslashes, commas, braces, line breaks and non-BMP characters are stored as given', async () => {
    // The batches' columns go to the server as array literals built ahead (BatchParams): every
    // character an array literal treats specially must arrive unchanged, in every batch.
    const awkward = [
      'say "hi"',
      'back\\slash',
      '\\"',
      'a,b',
      '{x}',
      'NULL',
      '',
      ' lead and trail ',
      'tab\there',
      'line\nbreak',
      'crlf\r\nx',
      '😀 non-BMP',
      "it's",
    ];
    const values = awkward.map((text, k) => ({
      nickname: `w${k}`,
      name: text === '' ? `w${k}` : text,
      bio: `${text}|${text}`,
      tags: k % 2 ? [] : [`t{${k}}`, 'x"y'],
    }));
    const rows = values.map((v, k) => ({
      line: k + 2,
      nickname: v.nickname,
      email: `${v.nickname}@example.com`,
      name: v.name,
      bio: v.bio,
      admin: k % 3 === 0,
      moderator: k % 4 === 0,
      confirmed: k % 5 !== 0,
      tags: v.tags,
      password: null,
    }));
    const batches: CreatedImportRow[][] = [];
    const result = await writeImport(bulkJobOn(libContext(h), { batchSize: 4 }), rows, TEST_SETTINGS, { onBatch: (done) => void batches.push([...done]) });
    expect(result).toEqual({ created: awkward.length, lost: 0, batches: 4 });
    const users = await h.db.selectFrom('users').select(['nickname', 'name', 'bio', 'tags', 'admin', 'moderator', 'confirmed']).orderBy('id').execute();
    expect(users).toEqual(
      rows.map((r) => ({ nickname: r.nickname, name: r.name, bio: r.bio, tags: r.tags, admin: r.admin, moderator: r.moderator, confirmed: r.confirmed })),
    );
    // Each printed link opens its own account.
    const tokens = await h.db.selectFrom('tokens').innerJoin('users', 'users.id', 'tokens.user_id').select(['users.nickname', 'tokens.token_hash']).execute();
    const created = batches.flat();
    expect(created.map((c) => c.nickname)).toEqual(rows.map((r) => r.nickname));
    for (const c of created) expect(tokens.find((t) => t.nickname === c.nickname)?.token_hash).toBe(hashToken(c.passwordReset!.token));
  });

  test('Ctrl-C stops after the current batch; planning again skips what was written and the rest completes', async () => {
    const lines = ['email'];
    for (let i = 1; i <= 30; i++) lines.push(`n${i}@example.com`);
    const text = `${lines.join('\n')}\n`;
    const first = await plan(text);
    const controller = new AbortController();
    const run = writeImport(bulkJobOn(libContext(h), { batchSize: 10, signal: controller.signal }), first.rows, TEST_SETTINGS, {
      onProgress: (pr) => pr.batches === 2 && controller.abort(),
    });
    await expect(run).rejects.toThrow(
      new InterruptedError('interrupted after 20 of 30 rows (20 created); every finished batch is saved, re-run the same import to finish the rest'),
    );
    expect(Number((await sql<{ n: number }>`SELECT count(*) AS n FROM users`.execute(h.db)).rows[0].n)).toBe(20);

    const second = await plan(text);
    expect([second.settled.skipped, second.settled.length]).toEqual([20, 20]);
    expect(second.rows.slice(0, second.rows.length).map((r) => r.nickname)).toEqual(['n21', 'n22', 'n23', 'n24', 'n25', 'n26', 'n27', 'n28', 'n29', 'n30']);
    expect(await writeImport(bulkJobOn(libContext(h), { batchSize: 10 }), second.rows, TEST_SETTINGS, {})).toEqual({ created: 10, lost: 0, batches: 2 });
    expect(Number((await sql<{ n: number }>`SELECT count(*) AS n FROM users`.execute(h.db)).rows[0].n)).toBe(30);
    expect(Number((await sql<{ n: number }>`SELECT count(*) AS n FROM tokens`.execute(h.db)).rows[0].n)).toBe(30);
  });

  test('a row taken by someone else between planning and writing is lost, the rest of its batch is written', async () => {
    const p = await plan('nickname,email\na1,a1@example.com\na2,a2@example.com\na3,a3@example.com\n');
    await sql`INSERT INTO users (nickname, email, name) VALUES ('late', 'A2@example.com', 'x')`.execute(h.db);
    const lost: string[] = [];
    const r = await writeImport(bulkJobOn(libContext(h), { batchSize: 10 }), p.rows, TEST_SETTINGS, {
      onBatch: (_d, gone) => void lost.push(...gone.map((g) => `${g.line}: ${g.error}`)),
    });
    expect(r).toEqual({ created: 2, lost: 1, batches: 1 });
    expect(lost).toEqual(['3: nickname a2 or email a2@example.com was taken while importing']);
    const names = (await h.db.selectFrom('users').select('nickname').orderBy('nickname').execute()).map((u) => u.nickname);
    expect(names).toEqual(['a1', 'a3', 'late']);
    expect(await h.db.selectFrom('audit_log').select('target_nickname').orderBy('target_nickname').execute()).toEqual([
      { target_nickname: 'a1' },
      { target_nickname: 'a3' },
    ]);
  });

  test('a batch that fails rolls back alone and prints no link for it', async () => {
    const p = await plan('email\nx1@example.com\nx2@example.com\nx3@example.com\n');
    const reported: string[] = [];
    let query = 0;
    const failing = h.db.withPlugin({
      transformQuery: (args) => {
        query += 1;
        // Each batch is SAVEPOINT, INSERT, RELEASE: the fifth statement is the second batch's INSERT.
        if (query === 5) throw new Error('boom');
        return args.node;
      },
      transformResult: async (args) => args.result,
    });
    await expect(
      writeImport(bulkJobOn(libContext(h, { db: failing }), { batchSize: 2 }), p.rows, TEST_SETTINGS, {
        onBatch: (done) => void reported.push(...done.map((d) => d.nickname)),
      }),
    ).rejects.toThrow('boom');
    expect(reported).toEqual(['x1', 'x2']);
    expect((await h.db.selectFrom('users').select('nickname').orderBy('id').execute()).map((u) => u.nickname)).toEqual(['x1', 'x2']);
  });
});

describe('newTokens', () => {
  test('a distinct 43-character URL-safe token (256 bits) where wanted, null elsewhere', () => {
    const tokens = newTokens([true, false, true, true]);
    expect(tokens[1]).toBeNull();
    const real = tokens.filter((t): t is string => t !== null);
    expect(real).toHaveLength(3);
    for (const t of real) expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set(real).size).toBe(3);
    expect(Buffer.from(real[0], 'base64url')).toHaveLength(32);
    expect(newTokens([false, false])).toEqual([null, null]);
  });

  test("never starts with '-' (it would read as an option when pasted): such a draw is replaced, as newToken does", () => {
    // The batch's one randomBytes call: a first token that encodes to '-...' (0xf8 = 111110..), then zeros.
    // The replacement draw is fixed too: a random one starts with '-' one time in 64 and is drawn again.
    const pool = Buffer.alloc(64);
    pool[0] = 0xf8;
    const redraw = Buffer.alloc(32, 0x11);
    const spy = jest
      .spyOn(crypto, 'randomBytes')
      .mockImplementationOnce(() => pool)
      .mockImplementationOnce(() => redraw);
    try {
      expect(pool.subarray(0, 32).toString('base64url')).toMatch(/^-/);
      const [first, second] = newTokens([true, true]);
      expect(first).toBe(redraw.toString('base64url'));
      expect(second).toBe(Buffer.alloc(32).toString('base64url'));
      expect(spy).toHaveBeenCalledTimes(2);
    } finally {
      spy.mockRestore();
    }
  });
});

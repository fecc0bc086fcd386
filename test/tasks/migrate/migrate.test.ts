import { sql } from 'kysely';
import { ctl, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const EMAIL_KEY = '20261127020000_email_key';

test('the email_key migration lists addresses that collide under the email rule and changes nothing (exit 4); fixed, it applies', async () => {
  // Down one migration at a time until email_key is undone (later migrations come off first).
  let down = '';
  for (let step = 0; step < 10 && !down.includes(EMAIL_KEY); step++) down = (await ctl(tdb, ['migrate', 'down', '-y'])).stdout;
  expect(down).toContain(EMAIL_KEY);
  // Two accounts the old index (lower(email)) allowed: kate and a fullwidth ｋate, inserted raw.
  await tdb.withDb(({ db }) =>
    sql`INSERT INTO users (nickname, email, name) VALUES ('kate', 'kate@example.com', 'K'), ('squatter', ${'\uff4bate@example.com'}, 'S'),
          ('zoe', 'zoe@example.com', 'Z'), ('zoe2', ${'ＺＯＥ@example.com'}, 'Z')`.execute(db),
  );
  const r = await ctl(tdb, ['migrate']);
  expect(r.code).toBe(4);
  expect(r.stderr).toMatch(
    new RegExp(
      `^migration ${EMAIL_KEY} failed: 2 email addresses belong to more than one account .*: ` +
        'kate@example.com: #\\d+ kate <kate@example.com>, #\\d+ squatter <\uff4bate@example.com>; ' +
        'zoe@example.com: #\\d+ zoe <zoe@example.com>, #\\d+ zoe2 <ＺＯＥ@example.com>\\. .*UPDATE users SET email.*nothing was changed\\n$',
    ),
  );
  const status = JSON.parse((await ctl(tdb, ['migrate', 'status', '--json'])).stdout) as { migrations: { name: string; executedAt: string | null }[] };
  expect(status.migrations.find((m) => m.name === EMAIL_KEY)?.executedAt).toBeNull();
  const indexes = await tdb.withDb(({ db }) =>
    sql<{ indexname: string }>`SELECT indexname FROM pg_indexes WHERE tablename = 'users' AND indexname LIKE 'users_email%'`.execute(db),
  );
  expect(indexes.rows).toEqual([{ indexname: 'users_email_lower_key' }]);

  await tdb.withDb(({ db }) => sql`UPDATE users SET email = nickname || '@elsewhere.example' WHERE nickname IN ('squatter', 'zoe2')`.execute(db));
  // An avatar stored under its sequential path gets an unguessable one.
  await tdb.withDb(({ db }) => sql`UPDATE users SET avatar = '/avatars/' || id || '.png' WHERE nickname = 'kate'`.execute(db));
  const fixed = await ctl(tdb, ['migrate']);
  expect(fixed.code).toBe(0);
  expect(fixed.stdout).toMatch(new RegExp(`^Applied \\d+ migrations?: ${EMAIL_KEY}(, \\w+)*\n$`));
  const kate = await tdb.withDb(({ db }) => db.selectFrom('users').select(['id', 'avatar']).where('nickname', '=', 'kate').executeTakeFirstOrThrow());
  expect(kate.avatar).toMatch(new RegExp(`^/avatars/${kate.id}-[0-9a-f]{32}\\.png$`));
});

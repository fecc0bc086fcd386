import { sql } from 'kysely';
import { ctl, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { MIGRATIONS } from '../../../migrations';
import { plural } from '../../../lib/text';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const EMAIL_KEY = '20261127020000_email_key';
/** email_key and the migrations after it, oldest first: `migrate down` undoes the newest each time. */
const FROM_EMAIL_KEY = Object.keys(MIGRATIONS)
  .sort()
  .filter((name) => name >= EMAIL_KEY);

test('the email_key migration lists addresses that collide under the email rule and changes nothing (exit 4); fixed, it applies', async () => {
  for (const name of [...FROM_EMAIL_KEY].reverse()) expect((await ctl(tdb, ['migrate', 'down', '-y'])).stdout).toContain(name);
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
  expect([fixed.code, fixed.stdout]).toEqual([0, `Applied ${plural(FROM_EMAIL_KEY.length, 'migration')}: ${FROM_EMAIL_KEY.join(', ')}\n`]);
  const kate = await tdb.withDb(({ db }) => db.selectFrom('users').select(['id', 'avatar']).where('nickname', '=', 'kate').executeTakeFirstOrThrow());
  expect(kate.avatar).toMatch(new RegExp(`^/avatars/${kate.id}-[0-9a-f]{32}\\.png$`));
});

test('a dry run prints its data with --json, as other verbs do: what up would apply, what down would undo', async () => {
  const newest = Object.keys(MIGRATIONS).sort().pop();
  const up = await ctl(tdb, ['migrate', '--dry-run', '--json']);
  expect([up.code, JSON.parse(up.stdout)]).toEqual([0, { dryRun: true, wouldApply: [] }]);
  const down = await ctl(tdb, ['migrate', 'down', '--dry-run', '--json']);
  expect([down.code, JSON.parse(down.stdout), down.stderr]).toEqual([
    0,
    { dryRun: true, wouldUndo: newest },
    `Would undo the newest migration: ${newest} (dry run)\n`,
  ]);
});

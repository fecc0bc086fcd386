import { sql } from 'kysely';
import { useCliTestDatabase, type TestDatabase } from '../../helpers/backend';
import { runCtl } from '../../helpers/cli';
import { ctl } from '../../helpers/in-process';

// Through a real pipe, `list` writes its output buffers to the file descriptor and uses them again
// once written (tasks/shared/user-export.ts); in process, into a stream that keeps what it is
// given, it never does. Several megabytes of output must read the same both ways. On PostgreSQL
// only: the output side is the same on both databases, and a real ctl on PGlite took ~32 s here.

let tdb: TestDatabase;
useCliTestDatabase((d) => (tdb = d));

test.each(['ndjson', 'json', 'csv'] as const)('%s through a pipe equals the in-process output over several output buffers', async (format) => {
  await tdb.withDb(({ db }) =>
    sql`INSERT INTO users (nickname, email, name, bio, tags)
        SELECT 'user' || g, 'user' || g || '@example.com', 'User "' || g || E'"\\t,', repeat(md5(g::text), g % 40), ARRAY['t' || (g % 7)]
        FROM generate_series(1, 6000) g`.execute(db),
  );
  const piped = await runCtl(tdb, ['user', 'list', '--format', format], { timeoutMs: 60000 });
  expect(piped.code).toBe(0);
  expect(piped.stdout.length).toBeGreaterThan(3 << 20);
  const inProcess = await ctl(tdb, ['user', 'list', '--format', format]);
  expect(piped.stdout).toBe(inProcess.stdout);
});

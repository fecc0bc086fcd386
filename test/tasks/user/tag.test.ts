import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { seedUserRows } from '../../helpers/seed-users';
import type { NewUserRow } from '../../../lib/db/schema';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

const seed = (...users: Partial<NewUserRow>[]) => tdb.withDb(({ db }) => seedUserRows(db, ...users));
const userRow = (nickname: string) => tdb.withDb(({ db }) => db.selectFrom('users').selectAll().where('nickname', '=', nickname).executeTakeFirstOrThrow());
const auditRows = () => tdb.withDb(({ db }) => db.selectFrom('audit_log').selectAll().orderBy('id').execute());

describe('ctl user tag', () => {
  beforeEach(() => seed({ nickname: 'alice', tags: ['old'] }, { nickname: 'dave@remote.example', local: false }));

  test('remote users can be tagged; --json gives the result object', async () => {
    const r = await ctl(['user', 'tag', 'dave@remote.example', 'spam', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      userId: 2,
      nickname: 'dave@remote.example',
      tags: ['spam'],
      added: ['spam'],
      removed: [],
      changed: true,
      dryRun: false,
    });
    expect(r.stderr).toBe('Tags of dave@remote.example: ["spam"]\n');
  });

  test('--dry-run shows the would-be tags and writes nothing', async () => {
    const r = await ctl(['user', 'tag', 'alice', 'new', '--dry-run']);
    expect(r).toMatchObject({ code: 0, stdout: 'Tags of alice: ["new", "old"] (dry run)\n' });
    expect((await userRow('alice')).tags).toEqual(['old']);
    expect(await auditRows()).toEqual([]);
  });

  test.each([
    [['user', 'tag', 'nobody', 'x'], 3, 'Could not change user tags for nobody\n'],
    [['user', 'tag', 'alice', 'a,b'], 2, 'invalid tag "a,b": 1-64 characters, no spaces or commas\n'],
    [['user', 'tag', 'alice'], 2, /^Not enough non-option arguments/],
  ])('%j is exit %i', async (args, code, stderr) => {
    const r = await ctl(args);
    expect(r.code).toBe(code);
    if (typeof stderr === 'string') expect(r.stderr).toBe(stderr);
    else expect(r.stderr).toMatch(stderr);
    expect(r.stdout).toBe('');
    expect(await auditRows()).toEqual([]);
  });
});

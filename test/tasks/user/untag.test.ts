import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { seedUserRows } from '../../helpers/seed-users';
import type { NewUserRow } from '../../../lib/db/schema';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

const seed = (...users: Partial<NewUserRow>[]) => tdb.withDb(({ db }) => seedUserRows(db, ...users));
const userRow = (nickname: string) => tdb.withDb(({ db }) => db.selectFrom('users').selectAll().where('nickname', '=', nickname).executeTakeFirstOrThrow());
const auditRows = () => tdb.withDb(({ db }) => db.selectFrom('audit_log').selectAll().orderBy('id').execute());

describe('ctl user untag', () => {
  beforeEach(() => seed({ nickname: 'alice', tags: ['old'] }, { nickname: 'dave@remote.example', local: false }));

  test("tag prints Pleroma's line with the lower-cased, sorted union; untag the difference", async () => {
    const t = await ctl(['user', 'tag', 'alice', 'Pleroma', 'beta']);
    expect(t).toMatchObject({ code: 0, stderr: '', stdout: 'Tags of alice: ["beta", "old", "pleroma"]\n' });
    const u = await ctl(['user', 'untag', 'alice', 'OLD', 'beta', 'never-there']);
    expect(u).toMatchObject({ code: 0, stdout: 'Tags of alice: ["pleroma"]\n' });
    const all = await ctl(['user', 'untag', 'alice', 'pleroma']);
    expect(all.stdout).toBe('Tags of alice: []\n');
    expect((await userRow('alice')).tags).toEqual([]);
    const audit = await auditRows();
    expect(audit.map((a) => [a.verb, a.target_nickname, a.details])).toEqual([
      ['tag', 'alice', { added: ['beta', 'pleroma'], removed: [], tags: ['beta', 'old', 'pleroma'] }],
      ['untag', 'alice', { added: [], removed: ['beta', 'old'], tags: ['pleroma'] }],
      ['untag', 'alice', { added: [], removed: ['pleroma'], tags: [] }],
    ]);
  });

  test.each([[['user', 'untag', 'nobody', 'x'], 3, 'Could not change user tags for nobody\n']])('%j is exit %i', async (args, code, stderr) => {
    const r = await ctl(args);
    expect(r.code).toBe(code);
    if (typeof stderr === 'string') expect(r.stderr).toBe(stderr);
    else expect(r.stderr).toMatch(stderr);
    expect(r.stdout).toBe('');
    expect(await auditRows()).toEqual([]);
  });
});

import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { seedUserRows } from '../../helpers/seed-users';
import type { NewUserRow } from '../../../lib/db/schema';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

const seed = (...users: Partial<NewUserRow>[]) => tdb.withDb(({ db }) => seedUserRows(db, ...users));

describe('ctl audit list', () => {
  test('csv with no rows is the header alone, the header it has with rows', async () => {
    await seed({ nickname: 'alice', email: 'alice@example.com' });
    await ctl(['user', 'tag', 'alice', 'x']);
    const some = await ctl(['audit', 'list', '--format', 'csv']);
    const none = await ctl(['audit', 'list', '--format', 'csv', '--verb', 'no_such_verb']);
    expect(none).toMatchObject({ code: 0, stdout: `${some.stdout.split('\r\n')[0]}\r\n` });
  });

  test('reads back who did what to whom, when and why; filters by user, verb, since and limit', async () => {
    await seed({ nickname: 'alice', email: 'alice@example.com' }, { nickname: 'bob' });
    await ctl(['user', 'tag', 'alice', 'x', '--actor', 'root', '--reason', 'ticket 1']);
    await ctl(['user', 'tag', 'bob', 'y']);
    await ctl(['user', 'set', 'alice', '--locked', '--reason', 'abuse']);
    const table = await ctl(['audit', 'list']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0].split(/\s{2,}/)).toEqual(['AT', 'ACTOR', 'VERB', 'USER', 'REASON', 'DETAILS']);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/).slice(1, 5))).toEqual([
      ['root', 'tag', 'alice', 'ticket 1'],
      ['tester', 'tag', 'bob', '{"tags":["y"],"added":["y"],"removed":[]}'],
      ['tester', 'set', 'alice', 'abuse'],
    ]);
    expect(lines[1]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ {2}/);
    const byUser = await ctl(['audit', 'list', '--user', 'ALICE@example.com', '--format', 'ndjson']);
    const rows = byUser.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.map((r) => [r.actor, r.verb, r.targetNickname, r.reason])).toEqual([
      ['root', 'tag', 'alice', 'ticket 1'],
      ['tester', 'set', 'alice', 'abuse'],
    ]);
    expect(Object.keys(rows[0])).toEqual(['id', 'at', 'actor', 'verb', 'targetUserId', 'targetNickname', 'reason', 'details']);
    const byVerb = await ctl(['audit', 'list', '--verb', 'tag', '--limit', '1', '--json']);
    expect(JSON.parse(byVerb.stdout).map((r: { targetNickname: string }) => r.targetNickname)).toEqual(['bob']);
    const future = await ctl(['audit', 'list', '--since', '2999-01-01']);
    expect(future).toMatchObject({ code: 0, stdout: '(no rows)\n' });
    const recent = await ctl(['audit', 'list', '--since', '1h', '--json']);
    expect(JSON.parse(recent.stdout)).toHaveLength(3);
    // The trail outlives the account: a purged user is still found by nickname.
    await tdb.withDb(({ db }) => db.deleteFrom('users').where('nickname', '=', 'bob').execute());
    const purged = await ctl(['audit', 'list', '--user', 'bob', '--json']);
    expect(JSON.parse(purged.stdout).map((r: { verb: string }) => r.verb)).toEqual(['tag']);
  });

  test.each([
    [
      ['audit', 'list', '--since', '2019-02-30'],
      'invalid date "2019-02-30" for --since: expected YYYY-MM-DD, an ISO timestamp or a duration like 7d, 12h or 2w\n',
    ],
    [['audit', 'list', '--limit', '0'], '--limit must be a positive whole number, got "0"\n'],
    // The value as typed, not what yargs' number type made of it (null, NaN, 0).
    [['audit', 'list', '--limit', 'ten'], '--limit must be a positive whole number, got "ten"\n'],
    [['audit', 'list', '--limit', ''], '--limit must be a positive whole number, got ""\n'],
    [['audit', 'list', '--limit', '1e3'], '--limit must be a positive whole number, got "1e3"\n'],
    [['audit', 'show'], /^Invalid values:/],
  ])('%j is exit 2', async (args, stderr) => {
    const r = await ctl(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    if (typeof stderr === 'string') expect(r.stderr).toBe(stderr);
    else expect(r.stderr).toMatch(stderr);
  });
});

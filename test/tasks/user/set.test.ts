import { createHash } from 'node:crypto';
import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { seedUserRows } from '../../helpers/seed-users';
import type { NewUserRow } from '../../../lib/db/schema';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const seed = (...users: Partial<NewUserRow>[]) => tdb.withDb(({ db }) => seedUserRows(db, ...users));
const users = () => tdb.withDb(({ db }) => db.selectFrom('users').selectAll().orderBy('id').execute());
const userRow = (nickname: string) => tdb.withDb(({ db }) => db.selectFrom('users').selectAll().where('nickname', '=', nickname).executeTakeFirstOrThrow());
const auditRows = () => tdb.withDb(({ db }) => db.selectFrom('audit_log').selectAll().orderBy('id').execute());
const tokenRows = () => tdb.withDb(({ db }) => db.selectFrom('tokens').selectAll().orderBy('id').execute());

describe('ctl user set', () => {
  beforeEach(() =>
    seed(
      { nickname: 'alice', email: 'alice@example.com', admin: true },
      { nickname: 'bob', email: 'bob@example.com', confirmed: false },
      { nickname: 'carol@remote.example', local: false },
    ),
  );

  test("one Pleroma line per flag, in Pleroma's order, then the profile fields; an audit row with actor and reason", async () => {
    const r = await ctl([
      'user',
      'set',
      'BOB@example.com',
      '--moderator',
      '--locked',
      '--confirmed',
      '--admin',
      '--name',
      'Bob B.',
      '--bio',
      'line 1\nline 2',
      '--email',
      'bob@new.example',
      '--actor',
      'root',
      '--reason',
      'ticket 7',
    ]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe(
      [
        'Admin status of bob: true',
        'Confirmation status of bob: true',
        'Locked status of bob: true',
        'Moderator status of bob: true',
        'Email of bob: bob@new.example',
        'Name of bob: "Bob B."',
        'Bio of bob: "line 1\\nline 2"',
        '',
      ].join('\n'),
    );
    expect(await userRow('bob')).toMatchObject({
      admin: true,
      confirmed: true,
      locked: true,
      moderator: true,
      email: 'bob@new.example',
      name: 'Bob B.',
      bio: 'line 1\nline 2',
    });
    const audit = await auditRows();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ verb: 'set', actor: 'root', reason: 'ticket 7', target_nickname: 'bob' });
    expect(audit[0].details).toMatchObject({
      admin: { from: false, to: true },
      email: { from: 'bob@example.com', to: 'bob@new.example' },
      bio: { changed: true, length: 13 },
    });
  });

  test('--no-flags print false; a flag already set still prints its line, and nothing is written', async () => {
    const r = await ctl(['user', 'set', 'alice', '--admin', '--no-locked']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe('Admin status of alice: true\nLocked status of alice: false\nNothing changed: alice already had these values\n');
    expect(await auditRows()).toEqual([]);
  });

  test('--no-confirmed unconfirms, prints a confirmation link once, and stores only its hash', async () => {
    const r = await ctl(['user', 'set', 'alice', '--no-confirmed']);
    expect(r.code).toBe(0);
    const match =
      /^Confirmation status of alice: false\nGenerated email confirmation token for alice\nURL: http:\/\/ctl\.test\/verify\/([A-Za-z0-9_-]{43})\n$/.exec(
        r.stdout,
      );
    expect(match).not.toBeNull();
    const tokens = await tokenRows();
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toMatchObject({ kind: 'email_confirmation', token_hash: sha256(match![1]), revoked_at: null });
    expect(JSON.stringify(await auditRows())).not.toContain(match![1]);
    expect((await userRow('alice')).confirmed).toBe(false);
    // --confirmed clears the pending link.
    const back = await ctl(['user', 'set', 'alice', '--confirmed']);
    expect(back.stdout).toBe('Confirmation status of alice: true\n');
    expect((await tokenRows())[0].revoked_at).not.toBeNull();
  });

  test('--json prints the result object: what changed, the link, the user', async () => {
    const r = await ctl(['user', 'set', 'bob', '--locked', '--no-confirmed', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      nickname: 'bob',
      changed: true,
      changes: { locked: { from: false, to: true } },
      dryRun: false,
      user: { nickname: 'bob', locked: true, confirmed: false },
    });
    expect(out.confirmationUrl).toMatch(/^http:\/\/ctl\.test\/verify\/[A-Za-z0-9_-]{43}$/);
    expect(out.changes.confirmed).toBeUndefined(); // bob was unconfirmed already: only a new link
    expect(r.stderr).toContain('Locked status of bob: true\n');
  });

  test('--dry-run says what would change with (dry run) and writes nothing', async () => {
    const before = await users();
    const r = await ctl(['user', 'set', 'bob', '--moderator', '--no-confirmed', '--dry-run']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe(
      'Confirmation status of bob: false (dry run)\nModerator status of bob: true (dry run)\nA new email confirmation link would be issued for bob (dry run)\n',
    );
    expect(await users()).toEqual(before);
    expect(await tokenRows()).toEqual([]);
    expect(await auditRows()).toEqual([]);
  });

  test('--no-admin on the last active admin is exit 4 and changes nothing, also in a dry run', async () => {
    for (const extra of [[], ['--dry-run']]) {
      const r = await ctl(['user', 'set', 'alice', '--no-admin', ...extra]);
      expect(r).toMatchObject({
        code: 4,
        stdout: '',
        stderr: 'refusing to remove admin status from alice: it is the last active admin (make another user admin first: ctl user set <user> --admin)\n',
      });
    }
    expect((await userRow('alice')).admin).toBe(true);
    expect(await auditRows()).toEqual([]);
  });

  test.each([
    [['user', 'set', 'nobody', '--admin'], 3, 'No local user nobody\n'],
    [['user', 'set', 'carol@remote.example', '--locked'], 3, 'No local user carol@remote.example\n'],
    [
      ['user', 'set', 'alice'],
      2,
      'nothing to change: pass at least one of --[no-]admin, --[no-]confirmed, --[no-]locked, --[no-]moderator, --email, --name, --bio\n',
    ],
    [['user', 'set', 'alice', '--email', 'nope'], 2, 'invalid email "nope"\n'],
    [['user', 'set', 'alice', '--email', 'BOB@example.com'], 4, 'email BOB@example.com is already taken\n'],
    [['user', 'set', 'alice', '--frob'], 2, 'Unknown argument: frob\n'],
  ])('%j is exit %i: %j', async (args, code, stderr) => {
    const before = await users();
    const r = await ctl(args);
    expect(r).toMatchObject({ code, stderr, stdout: '' });
    expect(await users()).toEqual(before);
  });
});

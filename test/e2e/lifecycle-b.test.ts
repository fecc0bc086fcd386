import { createHash } from 'node:crypto';
import { ctl as runCtl, useHeldTestDatabase, type HeldTestDatabase } from '../helpers/in-process';
import type { NewUserRow } from '../../lib/db/schema';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => runCtl(tdb, args, opts);
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function seed(...users: Partial<NewUserRow>[]): Promise<void> {
  return tdb.withDb(async ({ db }) => {
    await db
      .insertInto('users')
      .values(users.map((u, i) => ({ nickname: `user${i}`, name: u.nickname ?? `user${i}`, email: null, confirmed: true, ...u })))
      .execute();
  });
}

const users = () => tdb.withDb(({ db }) => db.selectFrom('users').selectAll().orderBy('id').execute());
const userRow = (nickname: string) => tdb.withDb(({ db }) => db.selectFrom('users').selectAll().where('nickname', '=', nickname).executeTakeFirstOrThrow());
const auditRows = () => tdb.withDb(({ db }) => db.selectFrom('audit_log').selectAll().orderBy('id').execute());
const tokenRows = () => tdb.withDb(({ db }) => db.selectFrom('tokens').selectAll().orderBy('id').execute());

describe('ctl user set', () => {
  beforeEach(() => seed(
    { nickname: 'alice', email: 'alice@example.com', admin: true },
    { nickname: 'bob', email: 'bob@example.com', confirmed: false },
    { nickname: 'carol@remote.example', local: false },
  ));

  test('one Pleroma line per flag, in Pleroma\'s order, then the profile fields; an audit row with actor and reason', async () => {
    const r = await ctl(['user', 'set', 'BOB@example.com', '--moderator', '--locked', '--confirmed', '--admin', '--name', 'Bob B.', '--bio', 'line 1\nline 2', '--email', 'bob@new.example', '--actor', 'root', '--reason', 'ticket 7']);
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
    expect(await userRow('bob')).toMatchObject({ admin: true, confirmed: true, locked: true, moderator: true, email: 'bob@new.example', name: 'Bob B.', bio: 'line 1\nline 2' });
    const audit = await auditRows();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ verb: 'set', actor: 'root', reason: 'ticket 7', target_nickname: 'bob' });
    expect(audit[0].details).toMatchObject({ admin: { from: false, to: true }, email: { from: 'bob@example.com', to: 'bob@new.example' }, bio: { changed: true, length: 13 } });
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
    const match = /^Confirmation status of alice: false\nGenerated email confirmation token for alice\nURL: http:\/\/ctl\.test\/verify\/([A-Za-z0-9_-]{43})\n$/.exec(r.stdout);
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
    expect(out).toMatchObject({ nickname: 'bob', changed: true, changes: { locked: { from: false, to: true } }, dryRun: false, user: { nickname: 'bob', locked: true, confirmed: false } });
    expect(out.confirmationUrl).toMatch(/^http:\/\/ctl\.test\/verify\/[A-Za-z0-9_-]{43}$/);
    expect(out.changes.confirmed).toBeUndefined(); // bob was unconfirmed already: only a new link
    expect(r.stderr).toContain('Locked status of bob: true\n');
  });

  test('--dry-run says what would change with (dry run) and writes nothing', async () => {
    const before = await users();
    const r = await ctl(['user', 'set', 'bob', '--moderator', '--no-confirmed', '--dry-run']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe('Confirmation status of bob: false (dry run)\nModerator status of bob: true (dry run)\nA new email confirmation link would be issued for bob (dry run)\n');
    expect(await users()).toEqual(before);
    expect(await tokenRows()).toEqual([]);
    expect(await auditRows()).toEqual([]);
  });

  test('--no-admin on the last active admin is exit 4 and changes nothing, also in a dry run', async () => {
    for (const extra of [[], ['--dry-run']]) {
      const r = await ctl(['user', 'set', 'alice', '--no-admin', ...extra]);
      expect(r).toMatchObject({ code: 4, stdout: '', stderr: 'refusing to remove admin status from alice: it is the last active admin (make another user admin first: ctl user set <user> --admin)\n' });
    }
    expect((await userRow('alice')).admin).toBe(true);
    expect(await auditRows()).toEqual([]);
  });

  test.each([
    [['user', 'set', 'nobody', '--admin'], 3, 'No local user nobody\n'],
    [['user', 'set', 'carol@remote.example', '--locked'], 3, 'No local user carol@remote.example\n'],
    [['user', 'set', 'alice'], 2, 'nothing to change: pass at least one of --[no-]admin, --[no-]confirmed, --[no-]locked, --[no-]moderator, --email, --name, --bio\n'],
    [['user', 'set', 'alice', '--email', 'nope'], 2, 'invalid email "nope"\n'],
    [['user', 'set', 'alice', '--email', 'BOB@example.com'], 4, 'email BOB@example.com is already taken\n'],
    [['user', 'set', 'alice', '--frob'], 2, 'Unknown argument: frob\n'],
  ])('%j is exit %i: %j', async (args, code, stderr) => {
    const before = await users();
    const r = await ctl(args as string[]);
    expect(r).toMatchObject({ code, stderr, stdout: '' });
    expect(await users()).toEqual(before);
  });
});

describe('ctl user tag / untag', () => {
  beforeEach(() => seed({ nickname: 'alice', tags: ['old'] }, { nickname: 'dave@remote.example', local: false }));

  test('tag prints Pleroma\'s line with the lower-cased, sorted union; untag the difference', async () => {
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

  test('remote users can be tagged; --json gives the result object', async () => {
    const r = await ctl(['user', 'tag', 'dave@remote.example', 'spam', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ userId: 2, nickname: 'dave@remote.example', tags: ['spam'], added: ['spam'], removed: [], changed: true, dryRun: false });
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
    [['user', 'untag', 'nobody', 'x'], 3, 'Could not change user tags for nobody\n'],
    [['user', 'tag', 'alice', 'a,b'], 2, 'invalid tag "a,b": 1-64 characters, no spaces or commas\n'],
    [['user', 'tag', 'alice'], 2, /^Not enough non-option arguments/],
  ])('%j is exit %i', async (args, code, stderr) => {
    const r = await ctl(args as string[]);
    expect(r.code).toBe(code);
    if (typeof stderr === 'string') expect(r.stderr).toBe(stderr);
    else expect(r.stderr).toMatch(stderr);
    expect(r.stdout).toBe('');
    expect(await auditRows()).toEqual([]);
  });
});

describe('ctl user confirm', () => {
  beforeEach(() => seed({ nickname: 'alice', confirmed: false }));

  test('confirms, then says Pleroma\'s "doesn\'t need confirmation."', async () => {
    const dry = await ctl(['user', 'confirm', 'alice', '--dry-run']);
    expect(dry).toMatchObject({ code: 0, stdout: 'alice would be confirmed (dry run)\n' });
    expect((await userRow('alice')).confirmed).toBe(false);
    const r = await ctl(['user', 'confirm', 'alice', '--reason', 'asked by phone']);
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: 'alice confirmed.\n' });
    expect((await userRow('alice')).confirmed).toBe(true);
    const again = await ctl(['user', 'confirm', 'alice']);
    expect(again).toMatchObject({ code: 0, stdout: "alice doesn't need confirmation.\n" });
    const audit = await auditRows();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ verb: 'confirm', reason: 'asked by phone', actor: 'tester', target_nickname: 'alice' });
    const json = await ctl(['user', 'confirm', 'alice', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ userId: 1, nickname: 'alice', changed: false, wasConfirmed: true, revokedConfirmationTokens: 0, dryRun: false });
  });

  test('a missing user is exit 3 "No local user X"', async () => {
    expect(await ctl(['user', 'confirm', 'nobody'])).toMatchObject({ code: 3, stdout: '', stderr: 'No local user nobody\n' });
  });
});

describe('ctl user reset_mfa', () => {
  beforeEach(() => seed(
    { nickname: 'alice', mfa_enabled: true, mfa_totp_secret: 'JBSWY3DPEHPK3PXP', mfa_backup_codes: ['$2a$04$a', '$2a$04$b', '$2a$04$c'] },
    { nickname: 'erin@remote.example', local: false },
  ));

  test('disables MFA, says what was removed, and writes an audit row without the secret', async () => {
    const dry = await ctl(['user', 'reset_mfa', 'alice', '--dry-run']);
    expect(dry).toMatchObject({ code: 0, stdout: 'Multi-Factor Authentication would be disabled for alice (dry run)\nWould remove: TOTP secret, 3 backup codes (dry run)\n' });
    expect((await userRow('alice')).mfa_enabled).toBe(true);
    const r = await ctl(['user', 'reset-mfa', 'alice']);
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: 'Multi-Factor Authentication disabled for alice\nRemoved: TOTP secret, 3 backup codes\n' });
    expect(await userRow('alice')).toMatchObject({ mfa_enabled: false, mfa_totp_secret: null, mfa_backup_codes: [] });
    const audit = await auditRows();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ verb: 'reset_mfa', target_nickname: 'alice', details: { removed: { mfaEnabled: true, totpSecret: true, backupCodes: 3 } } });
    expect(JSON.stringify(audit)).not.toContain('JBSWY3DPEHPK3PXP');
    const again = await ctl(['user', 'reset_mfa', 'alice', '--json']);
    expect(JSON.parse(again.stdout)).toEqual({ userId: 1, nickname: 'alice', removed: { mfaEnabled: false, totpSecret: false, backupCodes: 0 }, changed: false, dryRun: false });
    expect(again.stderr).toBe('Multi-Factor Authentication disabled for alice\nRemoved: nothing (MFA was not set up)\n');
    expect(await auditRows()).toHaveLength(1);
  });

  test('remote or missing users are exit 3 "No local user X"', async () => {
    expect(await ctl(['user', 'reset_mfa', 'erin@remote.example'])).toMatchObject({ code: 3, stdout: '', stderr: 'No local user erin@remote.example\n' });
    expect(await ctl(['user', 'reset_mfa', 'nobody'])).toMatchObject({ code: 3, stderr: 'No local user nobody\n' });
  });
});

describe('ctl user count', () => {
  test('total and active-in-window as key/value lines or JSON; a bad window is exit 2 quoting it', async () => {
    const day = 86400e3;
    const now = Date.now();
    await seed(
      { nickname: 'recent', last_login_at: new Date(now - 10 * day) },
      { nickname: 'older', last_login_at: new Date(now - 100 * day) },
      { nickname: 'ancient', last_login_at: new Date(now - 500 * day) },
      { nickname: 'banned', active: false },
      { nickname: 'gone', deleted_at: new Date(now), last_login_at: new Date(now) },
      { nickname: 'x@remote.example', local: false, last_login_at: new Date(now) },
    );
    const r = await ctl(['user', 'count']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^total {11}4\nactiveInWindow {2}2\nactiveSince {5}\d{4}-\d\d-\d\dT[\d:.]+Z\ndeactivated {5}1\ndeleted {9}1\n$/);
    const j = await ctl(['user', 'count', '--active-since', '30d', '--json']);
    const out = JSON.parse(j.stdout);
    expect(out).toMatchObject({ total: 4, activeInWindow: 1, deactivated: 1, deleted: 1 });
    expect(Math.abs(Date.parse(out.activeSince) - (now - 30 * day))).toBeLessThan(60e3);
    const day0 = await ctl(['user', 'count', '--active-since', '2000-01-01', '--format', 'csv']);
    expect(day0.stdout).toBe('total,activeInWindow,activeSince,deactivated,deleted\r\n4,3,2000-01-01T00:00:00.000Z,1,1\r\n');
    const bad = await ctl(['user', 'count', '--active-since', '2019-02-30']);
    expect(bad).toMatchObject({ code: 2, stdout: '', stderr: 'invalid date "2019-02-30" for --active-since: expected YYYY-MM-DD, an ISO timestamp or a duration like 7d, 12h or 2w\n' });
  });
});

describe('ctl audit list', () => {
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
    const rows = byUser.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((r) => [r.actor, r.verb, r.targetNickname, r.reason])).toEqual([['root', 'tag', 'alice', 'ticket 1'], ['tester', 'set', 'alice', 'abuse']]);
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
    [['audit', 'list', '--since', '2019-02-30'], 'invalid date "2019-02-30" for --since: expected YYYY-MM-DD, an ISO timestamp or a duration like 7d, 12h or 2w\n'],
    [['audit', 'list', '--limit', '0'], '--limit must be a positive whole number, got 0\n'],
    [['audit', 'show'], /^Invalid values:/],
  ])('%j is exit 2', async (args, stderr) => {
    const r = await ctl(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    if (typeof stderr === 'string') expect(r.stderr).toBe(stderr);
    else expect(r.stderr).toMatch(stderr);
  });
});

describe('--help', () => {
  test('every verb of this part has usage and an example', async () => {
    for (const args of [['user', 'set'], ['user', 'tag'], ['user', 'untag'], ['user', 'confirm'], ['user', 'confirm_all'], ['user', 'unconfirm_all'], ['user', 'reset_mfa'], ['user', 'count'], ['audit', 'list']]) {
      const r = await runCtl(null, [...args, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(args[0] === 'audit' ? 'ctl audit <action>' : `ctl ${args.join(' ')}`);
      expect(r.stdout).toContain('Examples:');
    }
  });
});

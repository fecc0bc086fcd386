import { type TestDatabase, useCliTestDatabase } from '../helpers/backend';
import { runCtlOnTty } from '../helpers/cli';
import { tableSnapshot, userRow } from '../helpers/table-state';
import { nicknamesConfirmed, seedAccountsToDelete, seedBulkConfirmUsers, seedFollowsAndSessions, seedSpamInstance } from '../helpers/cli-scenarios';

// Questions asked on a terminal: bin/ctl runs on a pseudo-terminal (util-linux `script`), which
// types the answer once the question appears. Without a TTY the same verbs refuse with exit 5
// (tested in-process in test/tasks/user/).

let tdb: TestDatabase;
useCliTestDatabase((d) => (tdb = d));

const userCount = () => tdb.withDb(async ({ db }) => (await db.selectFrom('users').select('id').execute()).length);
const state = () => tdb.withDb(({ db }) => tableSnapshot(db));
const user = (nickname: string) => tdb.withDb(({ db }) => userRow(db, nickname));
const withConfirmation = (confirmed: boolean) => tdb.withDb(({ db }) => nicknamesConfirmed(db, confirmed));

describe('ctl user new', () => {
  test('on a TTY, "n" declines: "User will not be created." and exit 5', async () => {
    const r = await runCtlOnTty(tdb, ['user', 'new', 'alice', 'alice@example.com'], 'n\n');
    expect(r.stdout).toContain('Continue? [n] ');
    expect(r.stdout).toContain('User will not be created.');
    expect(r.code).toBe(5);
    expect(await userCount()).toBe(0);
  });

  test('on a TTY, "y" creates', async () => {
    const r = await runCtlOnTty(tdb, ['user', 'new', 'alice', 'alice@example.com'], 'y\n');
    expect(r.stdout).toContain('User alice created');
    expect(r.code).toBe(0);
    expect(await userCount()).toBe(1);
  });
});

describe('ctl user confirm_all', () => {
  beforeEach(() => tdb.withDb(({ db }) => seedBulkConfirmUsers(db, false)));

  test('on a TTY, "n" declines (exit 5) and "y" confirms', async () => {
    const no = await runCtlOnTty(tdb, ['user', 'confirm_all'], 'n\n');
    expect(no.stdout).toContain('Confirm them all? [y/N] ');
    expect(no.stdout).toContain('No user was confirmed.');
    expect(no.code).toBe(5);
    expect(await withConfirmation(true)).toEqual([]);
    const yes = await runCtlOnTty(tdb, ['user', 'confirm_all'], 'y\n');
    expect(yes.code).toBe(0);
    expect(yes.stdout).toContain('Confirmed 5 users in 1 batch.');
  });
});

describe('ctl user delete_activities', () => {
  beforeEach(() => tdb.withDb(({ db }) => seedFollowsAndSessions(db)));

  test('asks with the count on a TTY: "n" declines, "y" deletes', async () => {
    const before = await state();
    const no = await runCtlOnTty(tdb, ['user', 'delete_activities', 'alice'], 'n\n');
    expect(no.code).toBe(5);
    expect(no.stdout).toContain('Delete 7 activities (posts and interactions) of alice? [y/N] ');
    expect(no.stdout).toContain('Nothing was deleted.');
    expect(await state()).toEqual(before);
    const yes = await runCtlOnTty(tdb, ['user', 'delete_activities', 'alice'], 'y\n');
    expect(yes.code).toBe(0);
    expect(yes.stdout).toContain('User alice statuses deleted.');
  });
});

describe('ctl user deactivate_all_from_instance', () => {
  beforeEach(() => tdb.withDb(({ db }) => seedSpamInstance(db)));

  test('asks on a TTY: "n" is exit 5 and changes nothing', async () => {
    const before = await state();
    const no = await runCtlOnTty(tdb, ['user', 'deactivate_all_from_instance', 'spam.example'], 'n\n');
    expect(no.code).toBe(5);
    expect(no.stdout).toContain('Deactivate 12 users from spam.example? [y/N] ');
    expect(await state()).toEqual(before);
  });
});

describe('ctl user rm --purge', () => {
  beforeEach(() => tdb.withDb(({ db }) => seedAccountsToDelete(db)));

  const SUMMARY = ['User alice deleted.', 'Deleted:', '  users      1', '  activities 5', '  follows    2', '  tokens     3'];

  test('on a TTY it asks [y/N]: "n" keeps everything (exit 5), "y" deletes', async () => {
    const before = await state();
    const no = await runCtlOnTty(tdb, ['user', 'rm', 'alice', '--purge'], 'n\n');
    expect(no.code).toBe(5);
    expect(no.stdout).toContain('Delete alice and everything it owns, permanently? [y/N] ');
    expect(no.stdout).toContain('User alice will not be deleted.');
    expect(await state()).toEqual(before);
    const yes = await runCtlOnTty(tdb, ['user', 'rm', 'alice', '--purge'], 'y\n');
    expect(yes.code).toBe(0);
    expect(yes.stdout).toContain(SUMMARY.join('\n'));
    expect(await user('alice')).toBeUndefined();
  });
});

import { type TestDatabase, useCliTestDatabase } from '../helpers/backend';
import { runCtl } from '../helpers/cli';

// The embedded database through the real bin/ctl, as a newcomer meets it: every command below is
// its own process that takes the data directory's lock, opens PGlite, and lets go of it. The
// verbs' details run in-process (test/tasks/); every verb's happy path as a process runs on
// PostgreSQL (verbs.pg.test.ts), where a spawn is five times cheaper.

let tdb: TestDatabase;
useCliTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => runCtl(tdb, args, opts);

test("the README's first commands, one process each, on one data directory", async () => {
  expect(await ctl(['user', 'new', 'alice', 'alice@example.com', '-y', '--password-stdin'], { input: 's3cret-pass\n' })).toMatchObject({ code: 0, stderr: '' });
  const list = await ctl(['user', 'list']);
  expect(list).toMatchObject({ code: 0, stderr: '' });
  expect(list.stdout).toMatch(
    /^NICKNAME +EMAIL +NAME +ROLES +STATUS +CONFIRMED +CREATED\nalice +alice@example\.com +alice +- +active +yes +\d{4}-\d\d-\d\d\n$/,
  );
  expect(await ctl(['user', 'set', 'alice', '--admin'])).toMatchObject({ code: 0, stdout: 'Admin status of alice: true\n' });
  expect(await ctl(['user', 'tag', 'alice', 'Staff'])).toMatchObject({ code: 0, stdout: 'Tags of alice: ["staff"]\n' });
  expect(JSON.parse((await ctl(['user', 'show', 'ALICE@example.com', '--json'])).stdout)).toMatchObject({ nickname: 'alice', admin: true, tags: ['staff'] });
  expect(await ctl(['user', 'new', 'bob', 'bob@example.com', '-y', '--password-stdin'], { input: 'bobs-password\n' })).toMatchObject({ code: 0 });
  expect(await ctl(['user', 'rm', 'bob'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^User bob deleted\.\n/) });
  expect(await ctl(['user', 'restore', 'bob'])).toMatchObject({ code: 0, stdout: 'User bob restored.\n' });
  expect(JSON.parse((await ctl(['user', 'count', '--json'])).stdout)).toMatchObject({ total: 2, deactivated: 0, deleted: 0 });
  const status = await ctl(['migrate', 'status']);
  expect(status).toMatchObject({ code: 0, stderr: '' });
  expect(status.stdout).toMatch(/^applied {2}\d+_initial {2}/);
  expect(await ctl(['audit', 'list', '--verb', 'rm', '--json'])).toMatchObject({ code: 0, stdout: expect.stringContaining('"targetNickname":"bob"') });
});

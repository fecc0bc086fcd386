import { createHash } from 'node:crypto';
import { ctl as runCtl, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';

// Issue 12, item 5: `set --no-confirmed -q` printed nothing, so the one-time confirmation link was
// lost. Like `new`, `reset_password`, `send_confirmation` and `invite`, it keeps its link under -q.

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[]) => runCtl(tdb, args);
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const tokenRows = () => tdb.withDb(({ db }) => db.selectFrom('tokens').selectAll().orderBy('id').execute());

beforeEach(() =>
  tdb.withDb(async ({ db }) => {
    await db.insertInto('users').values({ nickname: 'alice', name: 'alice', email: 'alice@example.com', confirmed: true }).execute();
  }),
);

test('set --no-confirmed -q prints only the one-time confirmation link, and it is the stored token', async () => {
  const r = await ctl(['user', 'set', 'alice', '--no-confirmed', '-q']);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  const match = /^URL: http:\/\/ctl\.test\/verify\/([A-Za-z0-9_-]{43})\n$/.exec(r.stdout);
  expect(match).not.toBeNull();
  const tokens = await tokenRows();
  expect(tokens).toHaveLength(1);
  expect(tokens[0]).toMatchObject({ kind: 'email_confirmation', token_hash: sha256(match![1]), revoked_at: null });
});

test('set -q without a new link still prints nothing', async () => {
  const r = await ctl(['user', 'set', 'alice', '--locked', '-q']);
  expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
});

test('set --no-confirmed -q --json prints the link in the data only', async () => {
  const r = await ctl(['user', 'set', 'alice', '--no-confirmed', '-q', '--json']);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  expect(JSON.parse(r.stdout).confirmationUrl).toMatch(/^http:\/\/ctl\.test\/verify\/[A-Za-z0-9_-]{43}$/);
});

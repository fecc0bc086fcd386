import { type TestDatabase, useCliTestDatabase } from '../helpers/backend';
import { runCtl } from '../helpers/cli';
import { tokenOf, type TestSmtp, useTestSmtp } from '../helpers/smtp';
import { hashToken } from '../../lib/tokens/secrets';

// import with mail configured: each set-password link goes to its user instead of the terminal.

let tdb: TestDatabase;
let smtp: TestSmtp;
useCliTestDatabase((d) => (tdb = d));
useTestSmtp((s) => (smtp = s), { rejectRecipients: /^bounce@/ });

const ENV = () => ({ SMTP_URL: smtp.url, MAIL_FROM: 'Example Social <no-reply@social.example>' });
const CSV = 'nickname,email,name,password\nann,ann@example.com,Ann Lee,\nben,ben@example.com,,ben-password-1\ncid,cid@example.com,,\n';

test('links are mailed, not printed; each mailed link is the stored token; the user with a password gets nothing', async () => {
  const r = await runCtl(tdb, ['user', 'import', '-', '--input-format', 'csv'], { input: CSV, env: ENV() });
  expect(r.code).toBe(0);
  expect(r.stdout).toBe('Set-password link mailed to ann@example.com\nSet-password link mailed to cid@example.com\nCreated: 3, Skipped: 0, Failed: 0\n');
  expect(r.stderr).toBe('Checked 3 row(s): 3 to create, 0 already there, 0 with problems\n');
  const mails = await smtp.waitFor(2);
  expect(mails.map((m) => m.envelopeTo[0]).sort()).toEqual(['ann@example.com', 'cid@example.com']);
  const ann = mails.find((m) => m.envelopeTo[0] === 'ann@example.com')!;
  expect(ann.to).toBe('"Ann Lee" <ann@example.com>');
  const link = ann.textLinks.find((l) => l.includes('/password_reset/'))!;
  expect(link).toMatch(/^http:\/\/ctl\.test\/password_reset\/[A-Za-z0-9_-]{43}$/);
  const stored = await tdb.withDb(({ db }) => db.selectFrom('tokens').innerJoin('users', 'users.id', 'tokens.user_id').select(['users.nickname', 'tokens.kind']).where('token_hash', '=', hashToken(tokenOf(link))).executeTakeFirst());
  expect(stored).toEqual({ nickname: 'ann', kind: 'password_reset' });
});

test('--format ndjson marks mailed rows; --skip-email prints every link and sends nothing', async () => {
  const nd = await runCtl(tdb, ['user', 'import', '-', '--input-format', 'csv', '--format', 'ndjson'], { input: CSV, env: ENV() });
  expect(nd.code).toBe(0);
  const rows = nd.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
  expect(rows.map((x) => [x.nickname, x.mailed, x.passwordResetUrl])).toEqual([['ann', true, null], ['ben', false, null], ['cid', true, null]]);
  await smtp.waitFor(2);
  await tdb.reset();
  smtp.clear();

  const skip = await runCtl(tdb, ['user', 'import', '-', '--input-format', 'csv', '--skip-email'], { input: CSV, env: ENV() });
  expect(skip.code).toBe(0);
  expect(skip.stdout).toMatch(/^Password reset URL for ann: \S+\nPassword reset URL for cid: \S+\nCreated: 3, Skipped: 0, Failed: 0\n$/);
  expect(skip.stderr).toBe('Checked 3 row(s): 3 to create, 0 already there, 0 with problems\n');
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(smtp.messages).toHaveLength(0);
});

test('a mail the server refuses: that link is printed instead, the others mailed, exit 7 saying so', async () => {
  const csv = 'nickname,email\nann,ann@example.com\nbounce,bounce@example.com\n';
  const r = await runCtl(tdb, ['user', 'import', '-', '--input-format', 'csv'], { input: csv, env: ENV() });
  expect(r.code).toBe(7);
  expect(r.stdout).toMatch(/^Set-password link mailed to ann@example.com\nPassword reset URL for bounce: http:\/\/ctl\.test\/password_reset\/\S+\nCreated: 2, Skipped: 0, Failed: 0\n$/);
  expect(r.stderr).toMatch(/\n1 set-password mail\(s\) could not be sent \(to bounce@example\.com: .+\); their links are printed instead\n$/);
  expect((await smtp.waitFor(1)).map((m) => m.envelopeTo[0])).toEqual(['ann@example.com']);
  const users = await tdb.withDb(({ db }) => db.selectFrom('users').select('nickname').orderBy('nickname').execute());
  expect(users.map((u) => u.nickname)).toEqual(['ann', 'bounce']);
});

test('--dry-run mails nothing', async () => {
  const r = await runCtl(tdb, ['user', 'import', '-', '--input-format', 'csv', '--dry-run'], { input: CSV, env: ENV() });
  expect(r.code).toBe(0);
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(smtp.messages).toHaveLength(0);
});

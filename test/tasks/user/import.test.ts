import * as fs from 'node:fs';
import * as path from 'node:path';
import bcrypt from 'bcryptjs';
import { Client } from 'pg';
import { BACKEND } from '../../helpers/backend';
import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { useTempDir } from '../../helpers/cli';
import { tokenOf, type TestSmtp, useTestSmtp } from '../../helpers/smtp';
import { hashToken } from '../../../lib/tokens/secrets';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

let dir: string;
useTempDir('userctl-import-', (d) => (dir = d));

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
}

const users = () =>
  tdb.withDb(({ db }) =>
    db
      .selectFrom('users')
      .select(['id', 'nickname', 'email', 'name', 'bio', 'admin', 'moderator', 'confirmed', 'tags', 'password_hash', 'local'])
      .orderBy('id')
      .execute(),
  );
const URL_RE = 'http://ctl\\.test/password_reset/[A-Za-z0-9_-]{43}';

const userCount = () => tdb.withDb(async ({ db }) => (await db.selectFrom('users').select('id').execute()).length);

let smtp: TestSmtp;
useTestSmtp((s) => (smtp = s), { rejectRecipients: /^bounce@/ });
const ENV = () => ({ SMTP_URL: smtp.url, MAIL_FROM: 'Example Social <no-reply@social.example>' });
const CSV = 'nickname,email,name,password\nann,ann@example.com,Ann Lee,\nben,ben@example.com,,ben-password-1\ncid,cid@example.com,,\n';

describe('ctl user import', () => {
  test('a CSV file: every column, a set-password link per user without a password, totals', async () => {
    const csv = file(
      'users.csv',
      'nickname,email,name,bio,admin,moderator,confirmed,tags,password\n' +
        'alice,alice@example.com,Alice A.,"Line one\nline two, with ""quotes""",true,false,true,"staff pleroma",\n' +
        'bob,bob@example.com,,,,yes,no,,bob-s3cret-pass\n' +
        ',carol@example.com,Carol,,,,,,\n',
    );
    const r = await ctl(['user', 'import', csv]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      'Checked 3 rows: 3 to create, 0 already there, 0 with problems\nNo mail was sent: mail is not configured (set SMTP_URL, or SMTP_HOST); pass the set-password links on yourself\n',
    );
    expect(r.stdout).toMatch(
      new RegExp(`^Password reset URL for alice: ${URL_RE}\nPassword reset URL for carol: ${URL_RE}\nCreated: 3, Skipped: 0, Failed: 0\n$`),
    );
    const rows = await users();
    expect(rows.map((u) => ({ ...u, id: undefined, password_hash: u.password_hash === null ? null : 'hash' }))).toEqual([
      {
        id: undefined,
        nickname: 'alice',
        email: 'alice@example.com',
        name: 'Alice A.',
        bio: 'Line one\nline two, with "quotes"',
        admin: true,
        moderator: false,
        confirmed: true,
        tags: ['pleroma', 'staff'],
        password_hash: null,
        local: true,
      },
      {
        id: undefined,
        nickname: 'bob',
        email: 'bob@example.com',
        name: 'bob',
        bio: '',
        admin: false,
        moderator: true,
        confirmed: false,
        tags: [],
        password_hash: 'hash',
        local: true,
      },
      {
        id: undefined,
        nickname: 'carol',
        email: 'carol@example.com',
        name: 'Carol',
        bio: '',
        admin: false,
        moderator: false,
        confirmed: true,
        tags: [],
        password_hash: null,
        local: true,
      },
    ]);
    expect(await bcrypt.compare('bob-s3cret-pass', rows[1].password_hash!)).toBe(true);
    // The printed link is the one stored (as a hash), single use and unexpired.
    const token = /alice: .*\/password_reset\/(\S+)/.exec(r.stdout)![1];
    const stored = await tdb.withDb(({ db }) => db.selectFrom('tokens').selectAll().where('token_hash', '=', hashToken(token)).executeTakeFirst());
    expect(stored).toMatchObject({ kind: 'password_reset', user_id: rows[0].id, used_at: null, revoked_at: null });
    const audit = await tdb.withDb(({ db }) => db.selectFrom('audit_log').select(['verb', 'actor', 'target_nickname']).orderBy('id').execute());
    expect(audit).toEqual(['alice', 'bob', 'carol'].map((n) => ({ verb: 'import', actor: 'tester', target_nickname: n })));
  });

  test('anything wrong: every problem listed with its line, nothing written, exit 2', async () => {
    const csv = file(
      'bad.csv',
      'nickname,email,admin\n' +
        'alice,alice@example.com,\n' +
        'bob,not-an-email,\n' +
        'ALICE,other@example.com,\n' +
        'dave,Alice@example.com,\n' +
        'erin,erin@example.com,maybe\n' +
        'fred,fred@example.com\n',
    );
    const r = await ctl(['user', 'import', csv]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('Created: 0, Skipped: 0, Failed: 5\n');
    expect(r.stderr).toBe(
      [
        'Checked 6 rows: 1 to create, 0 already there, 5 with problems',
        'line 3: invalid email "not-an-email"',
        'line 4: nickname ALICE is also on line 2',
        'line 5: email Alice@example.com is also on line 2',
        'line 6: admin must be true or false, not "maybe"',
        'line 7: expected 3 fields as in the header, found 2',
        'nothing imported: 5 of 6 rows have problems (listed above); fix them, or pass --continue-on-error to import the rest',
        '',
      ].join('\n'),
    );
    expect(await users()).toEqual([]);
  });

  test('only collisions with the database: exit 4; the same account already there is skipped, not a problem', async () => {
    expect((await ctl(['user', 'new', 'alice', 'alice@example.com', '-y'])).code).toBe(0);
    expect((await ctl(['user', 'new', 'bob', 'bob@example.com', '-y'])).code).toBe(0);
    const csv = file('taken.csv', 'nickname,email\nalice,alice@example.com\nBOB,robert@example.com\ncarol,carol@example.com\n');
    const r = await ctl(['user', 'import', csv]);
    expect(r.code).toBe(4);
    expect(r.stdout).toBe('Created: 0, Skipped: 1, Failed: 1\n');
    expect(r.stderr).toBe(
      'Checked 3 rows: 1 to create, 1 already there, 1 with problems\nline 3: nickname BOB is already taken\n' +
        'nothing imported: 1 of 3 rows has problems (listed above); fix them, or pass --continue-on-error to import the rest\n',
    );
    expect((await users()).map((u) => u.nickname)).toEqual(['alice', 'bob']);
  });

  test('records that share a line (a JSON array on one line) are reported skipped, then problems read, then names taken', async () => {
    for (const [nick, email] of [
      ['a', 'a@example.com'],
      ['c', 'other@example.com'],
      ['e', 'e@example.com'],
    ])
      expect((await ctl(['user', 'new', nick, email, '-y'])).code).toBe(0);
    const oneLine = file(
      'one-line.json',
      JSON.stringify(
        ['a', 'bad', 'c', 'd', 'e', 'd'].map((n, i) => ({ nickname: n, email: n === 'bad' ? 'bad@' : i === 5 ? 'd2@example.com' : `${n}@example.com` })),
      ),
    );
    const r = await ctl(['user', 'import', oneLine, '--continue-on-error', '--dry-run', '--format', 'ndjson']);
    const rows = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; status: string; nickname: string | null });
    // A row to create is reported as its batch is done, before the settled rows of its line.
    expect(rows.map((x) => [x.line, x.status, x.nickname])).toEqual([
      [1, 'would_create', 'd'],
      [1, 'skipped', 'a'],
      [1, 'skipped', 'e'],
      [1, 'failed', 'bad'],
      [1, 'failed', 'd'],
      [1, 'failed', 'c'],
    ]);
  });

  test("--continue-on-error imports the good rows, NDJSON says what happened to each in the file's order, exit 7", async () => {
    expect((await ctl(['user', 'new', 'alice', 'alice@example.com', '-y'])).code).toBe(0);
    const jsonl = file(
      'mixed.jsonl',
      '{"nickname":"alice","email":"alice@example.com"}\n' +
        '{"nickname":"bob","email":"bob@example.com","tags":["A","b"],"admin":true}\n' +
        'oops\n' +
        '{"nickname":"carol","email":"carol@example.com","password":"carol-pass-123"}\n',
    );
    const r = await ctl(['user', 'import', jsonl, '--continue-on-error', '--format', 'ndjson']);
    expect(r.code).toBe(7);
    const lines = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { line: 1, status: 'skipped', nickname: 'alice', email: 'alice@example.com', id: expect.any(Number), passwordResetUrl: null, mailed: false, error: null },
      {
        line: 2,
        status: 'created',
        nickname: 'bob',
        email: 'bob@example.com',
        id: expect.any(Number),
        passwordResetUrl: expect.stringMatching(new RegExp(`^${URL_RE}$`)),
        mailed: false,
        error: null,
      },
      {
        line: 3,
        status: 'failed',
        nickname: null,
        email: null,
        id: null,
        passwordResetUrl: null,
        mailed: false,
        error: expect.stringMatching(/^not valid JSON: /),
      },
      { line: 4, status: 'created', nickname: 'carol', email: 'carol@example.com', id: expect.any(Number), passwordResetUrl: null, mailed: false, error: null },
    ]);
    expect(r.stderr).toBe(
      'Checked 4 rows: 2 to create, 1 already there, 1 with problems\nCreated: 2, Skipped: 1, Failed: 1\nNo mail was sent: mail is not configured (set SMTP_URL, or SMTP_HOST); pass the set-password links on yourself\n1 of 4 rows failed; 2 created\n',
    );
    const rows = await users();
    expect(rows.map((u) => [u.nickname, u.admin, u.tags])).toEqual([
      ['alice', false, []],
      ['bob', true, ['a', 'b']],
      ['carol', false, []],
    ]);
  });

  test("rows are reported in the file's order across batches, in NDJSON and CSV: skipped and failed rows between the created ones", async () => {
    expect((await ctl(['user', 'new', 'dan', 'dan@example.com', '-y'])).code).toBe(0);
    const csv = file(
      'interleaved.csv',
      'nickname,email\nann,ann@example.com\nbad nick,bad@example.com\nben,ben@example.com\ndan,dan@example.com\ncid,cid@example.com\neve,eve@example.com\n-x,x@example.com\n',
    );
    const nd = await ctl(['user', 'import', csv, '--continue-on-error', '--batch-size', '2', '--format', 'ndjson']);
    expect(nd.code).toBe(7);
    const rows = nd.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; status: string });
    expect(rows.map((r) => [r.line, r.status])).toEqual([
      [2, 'created'],
      [3, 'failed'],
      [4, 'created'],
      [5, 'skipped'],
      [6, 'created'],
      [7, 'created'],
      [8, 'failed'],
    ]);
    await tdb.withDb(({ db }) => db.deleteFrom('users').where('nickname', '<>', 'dan').execute());
    const dry = await ctl(['user', 'import', csv, '--continue-on-error', '--dry-run', '--format', 'csv']);
    expect(dry.code).toBe(7);
    expect(
      dry.stdout
        .trimEnd()
        .split('\r\n')
        .slice(1)
        .map((l) => l.split(',').slice(0, 2).join(' ')),
    ).toEqual(['2 would_create', '3 failed', '4 would_create', '5 skipped', '6 would_create', '7 would_create', '8 failed']);
  });

  test('a file of no rows gives the results CSV its header line alone, as an empty listing does', async () => {
    const r = await ctl(['user', 'import', '-', '--input-format', 'csv', '--format', 'csv'], { input: 'nickname,email\n' });
    expect([r.code, r.stdout]).toEqual([0, 'line,status,nickname,email,id,passwordResetUrl,mailed,error\r\n']);
    const nd = await ctl(['user', 'import', '-', '--input-format', 'csv', '--format', 'ndjson'], { input: 'nickname,email\n' });
    expect([nd.code, nd.stdout]).toEqual([0, '']);
  });

  test('stdin (-) with the format guessed, --json gives the totals and every row', async () => {
    const r = await ctl(['user', 'import', '-', '--json'], { input: '{"email":"zoe@example.com","name":"Zoë"}\n' });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toEqual({
      created: 1,
      skipped: 0,
      failed: 0,
      total: 1,
      dryRun: false,
      rows: [
        {
          line: 1,
          status: 'created',
          nickname: 'zoe',
          email: 'zoe@example.com',
          id: expect.any(Number),
          passwordResetUrl: expect.stringMatching(new RegExp(`^${URL_RE}$`)),
          mailed: false,
          error: null,
        },
      ],
    });
    expect(r.stderr).toBe(
      'Checked 1 row: 1 to create, 0 already there, 0 with problems\nCreated: 1, Skipped: 0, Failed: 0\nNo mail was sent: mail is not configured (set SMTP_URL, or SMTP_HOST); pass the set-password links on yourself\n',
    );
    const csv = await ctl(['user', 'import', '-', '--input-format', 'csv', '-q'], { input: 'email\nyan@example.com\n' });
    expect(csv.code).toBe(0);
    expect(csv.stdout).toMatch(new RegExp(`^Password reset URL for yan: ${URL_RE}\n$`));
    expect(csv.stderr).toBe('');
  });

  test('--dry-run checks everything and writes nothing; a re-run after a real run skips every row', async () => {
    const csv = file('ok.csv', 'nickname,email,password\nann,ann@example.com,\nben,ben@example.com,ben-password-1\n');
    const dry = await ctl(['user', 'import', csv, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toBe('1 user without a password would get a set-password link (dry run)\nCreated: 2, Skipped: 0, Failed: 0 (dry run)\n');
    expect(dry.stderr).toBe('Checked 2 rows: 2 to create, 0 already there, 0 with problems (dry run)\n');
    const dryJson = await ctl(['user', 'import', csv, '--dry-run', '--format', 'ndjson']);
    expect(
      dryJson.stdout
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l).status),
    ).toEqual(['would_create', 'would_create']);
    expect(await users()).toEqual([]);
    expect(await tdb.withDb(({ db }) => db.selectFrom('audit_log').select('id').execute())).toEqual([]);

    expect((await ctl(['user', 'import', csv])).code).toBe(0);
    const again = await ctl(['user', 'import', csv]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('Created: 0, Skipped: 2, Failed: 0\n');
    expect((await users()).length).toBe(2);
  });

  test('a file that cannot be read or parsed is exit 2 with the reason', async () => {
    const missing = await ctl(['user', 'import', path.join(dir, 'nope.csv')]);
    expect(missing).toMatchObject({ code: 2, stdout: '', stderr: `cannot read ${path.join(dir, 'nope.csv')}: no such file\n` });
    const directory = await ctl(['user', 'import', dir]);
    expect(directory).toMatchObject({ code: 2, stderr: `cannot read ${dir}: it is a directory\n` });
    const unclosed = await ctl(['user', 'import', file('q.csv', 'email,bio\na@example.com,"open\n')]);
    expect(unclosed).toMatchObject({ code: 2, stdout: '', stderr: 'line 2: a quoted field is never closed\n' });
    const header = await ctl(['user', 'import', file('h.csv', 'mail,name\nx,y\n')]);
    expect(header).toMatchObject({
      code: 2,
      stderr: 'unknown column "mail" in the header: expected nickname, email, name, bio, admin, moderator, confirmed, tags, password\n',
    });
    const batch = await ctl(['user', 'import', file('b.csv', 'email\n'), '--batch-size', '0']);
    expect(batch).toMatchObject({ code: 2, stderr: '--batch-size must be a whole number from 1 to 1000000, got "0"\n' });
    expect(await users()).toEqual([]);
  });

  test('a file saved as Latin-1 is exit 2 naming the line, and nothing is written (not René as Ren\uFFFD)', async () => {
    const p = path.join(dir, 'latin1.csv');
    fs.writeFileSync(p, Buffer.from('nickname,email,name\nann,ann@example.com,Ann\nrene,rene@example.com,René\n', 'latin1'));
    for (const extra of [[], ['--continue-on-error']])
      expect(await ctl(['user', 'import', p, ...extra])).toMatchObject({
        code: 2,
        stdout: '',
        stderr: 'line 3: not valid UTF-8 (was the file saved as Latin-1 or Windows-1252?): save it as UTF-8 and import it again\n',
      });
    expect(await users()).toEqual([]);
  });

  test('a header-only file imports nothing and succeeds; --help shows the columns and an example', async () => {
    const r = await ctl(['user', 'import', file('empty.csv', 'nickname,email\n')]);
    expect(r).toMatchObject({ code: 0, stdout: 'Created: 0, Skipped: 0, Failed: 0\n' });
    const help = await ctl(['user', 'import', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('ctl user import users.csv --dry-run');
    expect(help.stdout).toContain('--continue-on-error');
    expect(help.stdout).toMatch(/Columns \(CSV header or JSONL keys\): nickname, email \(required\)/);
  });

  test('more problems than fit on a screen: the first 50 on stderr, then a count', async () => {
    const lines = ['email'];
    for (let i = 0; i < 60; i++) lines.push(`bad${i}`);
    const r = await ctl(['user', 'import', file('many.csv', `${lines.join('\n')}\n`)]);
    expect(r.code).toBe(2);
    const err = r.stderr.split('\n');
    expect(err.filter((l) => l.startsWith('line ')).length).toBe(50);
    expect(err).toContain('... and 10 more rows with problems (--format ndjson lists every row)');
  });
});

// import with mail configured: each set-password link goes to its user instead of the terminal.
describe('ctl user import, with mail', () => {
  test('links are mailed, not printed; each mailed link is the stored token; the user with a password gets nothing', async () => {
    const r = await run(tdb, ['user', 'import', '-', '--input-format', 'csv'], { input: CSV, env: ENV() });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Set-password link mailed to ann@example.com\nSet-password link mailed to cid@example.com\nCreated: 3, Skipped: 0, Failed: 0\n');
    expect(r.stderr).toBe('Checked 3 rows: 3 to create, 0 already there, 0 with problems\n');
    const mails = await smtp.waitFor(2);
    expect(mails.map((m) => m.envelopeTo[0]).sort()).toEqual(['ann@example.com', 'cid@example.com']);
    const ann = mails.find((m) => m.envelopeTo[0] === 'ann@example.com')!;
    expect(ann.to).toBe('"Ann Lee" <ann@example.com>');
    const link = ann.textLinks.find((l) => l.includes('/password_reset/'))!;
    expect(link).toMatch(/^http:\/\/ctl\.test\/password_reset\/[A-Za-z0-9_-]{43}$/);
    const stored = await tdb.withDb(({ db }) =>
      db
        .selectFrom('tokens')
        .innerJoin('users', 'users.id', 'tokens.user_id')
        .select(['users.nickname', 'tokens.kind'])
        .where('token_hash', '=', hashToken(tokenOf(link)))
        .executeTakeFirst(),
    );
    expect(stored).toEqual({ nickname: 'ann', kind: 'password_reset' });
  });

  test('--format ndjson marks mailed rows; --skip-email prints every link and sends nothing', async () => {
    const nd = await run(tdb, ['user', 'import', '-', '--input-format', 'csv', '--format', 'ndjson'], { input: CSV, env: ENV() });
    expect(nd.code).toBe(0);
    const rows = nd.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.map((x) => [x.nickname, x.mailed, x.passwordResetUrl])).toEqual([
      ['ann', true, null],
      ['ben', false, null],
      ['cid', true, null],
    ]);
    await smtp.waitFor(2);
    await tdb.reset();
    smtp.clear();

    const skip = await run(tdb, ['user', 'import', '-', '--input-format', 'csv', '--skip-email'], { input: CSV, env: ENV() });
    expect(skip.code).toBe(0);
    expect(skip.stdout).toMatch(/^Password reset URL for ann: \S+\nPassword reset URL for cid: \S+\nCreated: 3, Skipped: 0, Failed: 0\n$/);
    expect(skip.stderr).toBe('Checked 3 rows: 3 to create, 0 already there, 0 with problems\n');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(smtp.messages).toHaveLength(0);
  });

  test('a mail the server refuses: that link is printed instead, the others mailed, exit 7 saying so', async () => {
    const csv = 'nickname,email\nann,ann@example.com\nbounce,bounce@example.com\n';
    const r = await run(tdb, ['user', 'import', '-', '--input-format', 'csv'], { input: csv, env: ENV() });
    expect(r.code).toBe(7);
    expect(r.stdout).toMatch(
      /^Set-password link mailed to ann@example.com\nPassword reset URL for bounce: http:\/\/ctl\.test\/password_reset\/\S+\nCreated: 2, Skipped: 0, Failed: 0\n$/,
    );
    expect(r.stderr).toMatch(/\n1 set-password mail could not be sent \(to bounce@example\.com: .+\); their links are printed instead\n$/);
    expect((await smtp.waitFor(1)).map((m) => m.envelopeTo[0])).toEqual(['ann@example.com']);
    const users = await tdb.withDb(({ db }) => db.selectFrom('users').select('nickname').orderBy('nickname').execute());
    expect(users.map((u) => u.nickname)).toEqual(['ann', 'bounce']);
  });

  test('--dry-run mails nothing', async () => {
    const r = await run(tdb, ['user', 'import', '-', '--input-format', 'csv', '--dry-run'], { input: CSV, env: ENV() });
    expect(r.code).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(smtp.messages).toHaveLength(0);
  });
});

// PGlite has no other sessions: its data-directory lock (test/bin/process-lock.test.ts) is what keeps a
// second run out, so this one exists on the server run only.
if (BACKEND === 'postgres')
  test('the lock is held in the server, so a session on any host keeps import out', async () => {
    const other = new Client({ connectionString: tdb.url! });
    await other.connect();
    try {
      await other.query(`SELECT pg_advisory_lock(hashtext('userctl:import'))`);
      const refused = await run(tdb, ['user', 'import', '-'], { input: 'email\nq@example.com\n' });
      expect(refused).toMatchObject({ code: 4, stderr: 'another import is already running\n' });
      expect(await userCount()).toBe(0);
      await other.query(`SELECT pg_advisory_unlock(hashtext('userctl:import'))`);
      const ok = await run(tdb, ['user', 'import', '-'], { input: 'email\nq@example.com\n' });
      expect(ok.code).toBe(0);
      expect(await userCount()).toBe(1);
    } finally {
      await other.end();
    }
  });

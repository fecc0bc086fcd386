import { sql } from 'kysely';
import { createTestDatabase, libContext, truncateAll, TEST_SETTINGS, type TestDatabase } from '../../helpers/backend';
import { readRecords } from '../../../lib/import/parse';
import { importFailure, importUsers, type ImportCheck, type ImportRowResult, type SetPasswordMail } from '../../../lib/import/import';
import { ConflictError, PartialFailureError, UsageError } from '../../../lib/errors';
import type { DbHandle } from '../../../lib/db/db';

// importUsers: the whole of `ctl user import` below the task (lock, check, write, mail), with
// its result set and the rows reported as they become final.

async function* chunks(...parts: string[]): AsyncGenerator<string> {
  for (const p of parts) yield p;
}

let tdb: TestDatabase;
let h: DbHandle;
beforeAll(async () => {
  tdb = await createTestDatabase();
  h = await tdb.open();
});
afterAll(async () => {
  await h?.close();
  await tdb?.destroy();
});
beforeEach(() => truncateAll(h));

const nicknames = async () => (await h.db.selectFrom('users').select('nickname').orderBy('id').execute()).map((u) => u.nickname);

function run(
  text: string,
  opts: {
    continueOnError?: boolean;
    dryRun?: boolean;
    send?: (m: SetPasswordMail) => Promise<{ status: 'sent' | 'failed' | 'not_configured' | 'no_address'; error: string | null }>;
  } = {},
) {
  const checked: ImportCheck[] = [];
  const rows: ImportRowResult[] = [];
  const phases: string[] = [];
  const result = importUsers(libContext(h), readRecords(chunks(text), 'csv'), TEST_SETTINGS, {
    run: { batchSize: 2 },
    dryRun: opts.dryRun ?? false,
    continueOnError: opts.continueOnError ?? false,
    sendSetPasswordMail: opts.send,
    onPhase: (phase) => void phases.push(phase),
    onChecked: (check, settled) => {
      checked.push(check);
      rows.push(...settled.reader().take(Infinity));
    },
    onRows: (more) => void rows.push(...more),
  });
  return { result, checked, rows, phases };
}

test('a row with a problem and no --continue-on-error: nothing written, exit 2 (exit 4 when only names are taken)', async () => {
  const r = run('nickname,email\nann,ann@example.com\nbad,bad@\n');
  const result = await r.result;
  expect(result).toMatchObject({ outcome: 'refused', total: 2, created: 0, skipped: 0, failed: 1, onlyTaken: false });
  expect(r.checked).toEqual([{ total: 2, toCreate: 1, skipped: 0, failed: 1 }]);
  expect(r.rows.map((x) => [x.line, x.status])).toEqual([[3, 'failed']]);
  expect(r.phases).toEqual(['read', 'check']);
  expect(await nicknames()).toEqual([]);
  expect(importFailure(result, true)).toEqual(
    new UsageError('nothing imported: 1 of 2 rows has problems (listed above); fix them, or pass --continue-on-error to import the rest'),
  );

  await sql`INSERT INTO users (nickname, email, name) VALUES ('zed', 'zed@example.com', 'z')`.execute(h.db);
  const taken = await run('nickname,email\nzed,other@example.com\n').result;
  expect(importFailure(taken, false)).toEqual(
    new ConflictError('nothing imported: 1 of 1 row has problems; fix them, or pass --continue-on-error to import the rest'),
  );
});

test('a dry run writes nothing and counts the rows that would get a set-password link', async () => {
  const r = run('nickname,email,password\nann,ann@example.com,\nbob,bob@example.com,long-enough-pw\n', { dryRun: true });
  const result = await r.result;
  expect(result).toMatchObject({ outcome: 'dry_run', created: 2, failed: 0, withoutPassword: 1, dryRun: true });
  expect(r.rows.map((x) => x.status)).toEqual(['would_create', 'would_create']);
  expect(importFailure(result, true)).toBeNull();
  expect(await nicknames()).toEqual([]);
});

test('writes the valid rows, mails each link through the given function, and reports mails that failed (exit 7)', async () => {
  const mails: string[] = [];
  const r = run('nickname,email\nann,ann@example.com\nbob,bob@example.com\ncat,cat@example.com\nbad,bad@\n', {
    continueOnError: true,
    send: async (m) => {
      mails.push(`${m.nickname} ${m.email} ${m.url.startsWith('http://ctl.test/password_reset/')}`);
      return m.nickname === 'bob' ? { status: 'failed', error: 'mailbox full' } : { status: 'sent', error: null };
    },
  });
  const result = await r.result;
  expect(result).toMatchObject({ outcome: 'written', total: 4, created: 3, skipped: 0, failed: 1, linksNotMailed: 1 });
  expect(result.mail).toEqual({ sent: 2, notConfigured: 0, failed: [{ to: 'bob@example.com', error: 'mailbox full' }] });
  expect(mails.sort()).toEqual(['ann ann@example.com true', 'bob bob@example.com true', 'cat cat@example.com true']);
  expect(r.phases).toEqual(['read', 'check', 'write']);
  const created = r.rows.filter((x) => x.status === 'created');
  expect(created.map((x) => [x.nickname, x.mailed, x.passwordResetUrl !== null])).toEqual([
    ['ann', true, false],
    ['bob', false, true],
    ['cat', true, false],
  ]);
  expect(await nicknames()).toEqual(['ann', 'bob', 'cat']);
  expect(importFailure(result, false)).toEqual(
    new PartialFailureError(
      '1 of 4 rows failed; 3 created; 1 set-password mail could not be sent (to bob@example.com: mailbox full); their links are printed instead',
    ),
  );
});

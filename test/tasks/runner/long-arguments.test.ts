// An argument of 100 KB (a pasted file, a runaway `$(...)`) quoted back in an error message: the
// message stays one readable line, the argument clipped to its first 99 characters and `…`
// (lib/text.ts clipInput), while normal-length arguments are quoted whole as before.
import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { clipInput, quoteInput } from '../../../lib/text';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

const HUGE = 'x'.repeat(100_000);
const CLIPPED = `${'x'.repeat(99)}…`;

describe('clipInput', () => {
  test('keeps up to 100 characters whole, else the first 99 and an ellipsis', () => {
    expect(clipInput('a'.repeat(100))).toBe('a'.repeat(100));
    expect(clipInput('a'.repeat(101))).toBe(`${'a'.repeat(99)}…`);
    expect(quoteInput(HUGE)).toBe(`"${CLIPPED}"`);
  });

  test('never cuts a surrogate pair in half', () => {
    expect(clipInput(`${'a'.repeat(98)}😀😀`)).toBe(`${'a'.repeat(98)}…`);
    expect(clipInput(`${'a'.repeat(97)}😀😀`)).toBe(`${'a'.repeat(97)}😀…`);
  });
});

describe('a 100 KB argument in an error message', () => {
  test.each([
    ['user show <huge>', ['user', 'show', HUGE], 3, `No user ${CLIPPED}\n`],
    ['user rm <huge>', ['user', 'rm', HUGE], 3, `No local user ${CLIPPED}\n`],
    ['user confirm <huge>', ['user', 'confirm', HUGE], 3, `No local user ${CLIPPED}\n`],
    ['user delete_activities <huge> -y', ['user', 'delete_activities', HUGE, '-y'], 3, `No local user ${CLIPPED}\n`],
    ['user rm <huge> --purge -y', ['user', 'rm', HUGE, '--purge', '-y'], 3, `No local user ${CLIPPED}\n`],
    ['user tag <huge> staff', ['user', 'tag', HUGE, 'staff'], 3, `Could not change user tags for ${CLIPPED}\n`],
    [
      'user new <huge> a@example.com -y',
      ['user', 'new', HUGE, 'a@example.com', '-y'],
      2,
      `invalid nickname "${CLIPPED}": use 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit\n`,
    ],
    [
      'user invite --expires-at <huge>',
      ['user', 'invite', '--expires-at', HUGE],
      2,
      `invalid date "${CLIPPED}" for --expires-at: expected YYYY-MM-DD or an ISO timestamp\n`,
    ],
    ['user list --limit <huge>', ['user', 'list', '--limit', HUGE], 2, `--limit must be a positive whole number, got "${CLIPPED}"\n`],
    ['user import <huge>', ['user', 'import', HUGE], 2, `cannot read ${CLIPPED}: ENAMETOOLONG: name too long\n`],
    ['user <huge>', ['user', HUGE], 2, `Unknown command: ${CLIPPED}\n`],
    ['user list --<huge>', ['user', 'list', `--${HUGE}`], 2, `Unknown argument: ${CLIPPED}\n`],
    ['user list --<huge>=1', ['user', 'list', `--${HUGE}=1`], 2, `Unknown argument: ${CLIPPED}\n`],
    [
      'user list --format <huge>',
      ['user', 'list', '--format', HUGE],
      2,
      `Invalid values:\n  Argument: format, Given: "${CLIPPED}", Choices: "table", "json", "ndjson", "csv"\n`,
    ],
  ])('%s: one short line, the argument clipped', async (_label, args, code, stderr) => {
    const r = await ctl(args);
    expect(r.stderr.length).toBeLessThan(300);
    expect(r.code).toBe(code);
    // report() joins a multi-line message into one line.
    expect(r.stderr).toBe(stderr.replace(/:\n\s+/, ': '));
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  test('a normal-length argument is quoted whole, as before', async () => {
    const ref = `${'n'.repeat(50)}@${'e'.repeat(40)}.com`; // 95 characters
    expect(await ctl(['user', 'show', ref])).toMatchObject({ code: 3, stderr: `No user ${ref}\n` });
    expect(await ctl(['user', 'show', 'nobody'])).toMatchObject({ code: 3, stderr: 'No user nobody\n' });
    expect(await ctl(['user', 'frob'])).toMatchObject({ code: 2, stderr: 'Unknown command: frob\n' });
  });
});

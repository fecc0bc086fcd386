// Usage errors the parser catches before any verb runs: exit 2, one line on stderr, nothing written.
import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

const userCount = () => tdb.withDb(async ({ db }) => (await db.selectFrom('users').select('id').execute()).length);

describe('usage errors', () => {
  test.each([
    [['user', 'frob'], 2, 'Unknown command: frob\n'],
    [['user', 'list', '--format', 'xml'], 2, /Invalid values/],
    [['user', 'count', '--json', '--format', 'csv'], 2, '--json and --format csv disagree: give one of them\n'],
    [['user', 'count', '--actor', ' '], 2, '--actor is empty: name who acts, or leave the option out for $SUDO_USER or $USER\n'],
  ])('%j exits %i with one line on stderr', async (args, code, message) => {
    const r = await ctl(args);
    expect(r.code).toBe(code);
    if (typeof message === 'string') expect(r.stderr).toBe(message);
    else expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
    expect(await userCount()).toBe(0);
  });

  test('--json with --format json is the same request, not a conflict', async () => {
    const r = await ctl(['user', 'count', '--json', '--format', 'json']);
    expect([r.code, JSON.parse(r.stdout)]).toMatchObject([0, { total: 0 }]);
  });
});

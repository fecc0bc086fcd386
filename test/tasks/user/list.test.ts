import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

describe('ctl user list', () => {
  beforeEach(async () => {
    await ctl(['user', 'new', 'alice', 'alice@example.com', '-y', '--admin']);
    await ctl(['user', 'new', 'bob', 'bob@example.com', '-y', '--no-confirmed']);
  });

  test('the table shows nickname, email, name, roles, status, confirmed, created', async () => {
    const r = await ctl(['user', 'list']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0].split(/\s{2,}/)).toEqual(['NICKNAME', 'EMAIL', 'NAME', 'ROLES', 'STATUS', 'CONFIRMED', 'CREATED']);
    expect(lines[1].split(/\s{2,}/).slice(0, 6)).toEqual(['alice', 'alice@example.com', 'alice', 'admin', 'active', 'yes']);
    expect(lines[2].split(/\s{2,}/).slice(0, 6)).toEqual(['bob', 'bob@example.com', 'bob', '-', 'active', 'no']);
  });

  test('ndjson and csv carry the full user object; filters apply', async () => {
    const nd = await ctl(['user', 'list', '--format', 'ndjson', '--unconfirmed']);
    const rows = nd.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.map((u) => u.nickname)).toEqual(['bob']);
    const csv = await ctl(['user', 'list', '--format', 'csv', '--admin']);
    const [header, line, ...rest] = csv.stdout.split('\r\n');
    expect(header.split(',').slice(0, 4)).toEqual(['id', 'nickname', 'email', 'name']);
    expect(line.split(',').slice(1, 3)).toEqual(['alice', 'alice@example.com']);
    expect(rest).toEqual(['']);
  });
});

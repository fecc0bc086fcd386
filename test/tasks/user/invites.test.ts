import { libContext, TEST_SETTINGS } from '../../helpers/backend';
import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { tokenOf } from '../../helpers/smtp';
import { redeemInvite } from '../../../lib/invites/invites';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

const today = () => new Date().toISOString().slice(0, 10);
const register = (token: string, nickname: string) =>
  tdb.withDb((h) => redeemInvite(libContext(h), token, { nickname, email: `${nickname}@example.com`, password: 'a-good-password' }, TEST_SETTINGS));

describe('ctl user invites', () => {
  test('csv with no invites is the header alone, the header it has with one', async () => {
    const none = await ctl(['user', 'invites', '--format', 'csv']);
    await ctl(['user', 'invite']);
    const one = await ctl(['user', 'invites', '--format', 'csv']);
    expect(one.stdout.split('\r\n')).toHaveLength(3);
    expect(none).toMatchObject({ code: 0, stdout: `${one.stdout.split('\r\n')[0]}\r\n` });
  });

  test('lists usable invites by default and every one with --all, never a token', async () => {
    const made = [];
    for (const args of [[], ['--max-use', '2'], [], ['--expires-at', today()]]) {
      made.push(tokenOf((await ctl(['user', 'invite', ...args])).stdout.trim().split('\n')[1]));
    }
    await register(made[0], 'alice');
    await ctl(['user', 'revoke_invite', made[2]]);
    const r = await ctl(['user', 'invites']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0].split(/\s{2,}/)).toEqual(['ID', 'TOKEN', 'TYPE', 'STATUS', 'USED', 'EXPIRES AT', 'MAX USE', 'USES LEFT', 'CREATED', 'EMAIL']);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/))).toEqual([
      ['2', `${made[1].slice(0, 6)}…`, 'reusable', 'valid', 'no', '-', '2', '2', today(), '-'],
      ['4', `${made[3].slice(0, 6)}…`, 'date_limited', 'valid', 'no', today(), '-', '1', today(), '-'],
    ]);
    const all = JSON.parse((await ctl(['user', 'invites', '--all', '--json'])).stdout);
    expect(all.map((i: { id: number; status: string; usesLeft: number }) => [i.id, i.status, i.usesLeft])).toEqual([
      [1, 'used', 0],
      [2, 'valid', 2],
      [3, 'revoked', 0],
      [4, 'valid', 1],
    ]);
    const everything =
      (await ctl(['user', 'invites', '--all'])).stdout + JSON.stringify(all) + (await ctl(['user', 'invites', '--all', '--format', 'csv'])).stdout;
    for (const token of made) expect(everything).not.toContain(token);
  });
});

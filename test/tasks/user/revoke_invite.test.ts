import { libContext, TEST_SETTINGS } from '../../helpers/backend';
import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { tokenOf } from '../../helpers/smtp';
import { checkInvite, redeemInvite } from '../../../lib/invites/invites';
import { ConflictError } from '../../../lib/errors';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

const invites = () => tdb.withDb(({ db }) => db.selectFrom('invites').selectAll().orderBy('id').execute());
const register = (token: string, nickname: string) =>
  tdb.withDb((h) => redeemInvite(libContext(h), token, { nickname, email: `${nickname}@example.com`, password: 'a-good-password' }, TEST_SETTINGS));

describe('ctl user revoke_invite', () => {
  test("revoke by token (Pleroma's message), by id or by pasted URL; the token then no longer registers", async () => {
    const out = (await ctl(['user', 'invite', '--max-use', '5'])).stdout.trim().split('\n');
    const token = tokenOf(out[1]);
    const dry = await ctl(['user', 'revoke_invite', token, '--dry-run']);
    expect(dry).toMatchObject({ code: 0, stdout: `Invite for token ${token} would be revoked (dry run)\n` });
    expect((await invites())[0].revoked_at).toBeNull();
    const r = await ctl(['user', 'revoke_invite', token]);
    expect(r).toMatchObject({ code: 0, stdout: `Invite for token ${token} was revoked.\n`, stderr: '' });
    const again = await ctl(['user', 'revoke-invite', token]);
    expect(again).toMatchObject({ code: 0, stdout: `Invite for token ${token} was already revoked.\n` });
    await expect(register(token, 'alice')).rejects.toThrow(new ConflictError('this invite was revoked'));
    expect((await tdb.withDb(({ db }) => checkInvite(db, token, new Date()))).status).toBe('revoked');

    await ctl(['user', 'invite']);
    const byId = await ctl(['user', 'revoke_invite', '2', '--json']);
    expect(byId.code).toBe(0);
    expect(byId.stderr).toBe('Invite 2 was revoked.\n');
    expect(JSON.parse(byId.stdout)).toMatchObject({ id: 2, status: 'revoked', used: true, alreadyRevoked: false });

    const url = (await ctl(['user', 'invite'])).stdout.trim().split('\n')[1];
    expect((await ctl(['user', 'revoke_invite', url])).stdout).toBe(`Invite for token ${url} was revoked.\n`);
    expect((await invites()).map((i) => i.used)).toEqual([true, true, true]);
  });

  test("an unknown token is exit 3 with Pleroma's message", async () => {
    const r = await ctl(['user', 'revoke_invite', 'NoSuchToken']);
    expect(r).toMatchObject({ code: 3, stdout: '', stderr: 'No invite found with token NoSuchToken\n' });
    expect(await ctl(['user', 'revoke_invite', '42'])).toMatchObject({ code: 3, stderr: 'No invite found with id 42\n' });
  });
});

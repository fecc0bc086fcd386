import { libContext, TEST_SETTINGS, useOpenTestDatabase } from '../../helpers/backend';
import { createUserWithPassword } from '../../helpers/seed-users';
import { tokenRows as tokenRowsOf } from '../../helpers/table-state';
import type { DbHandle } from '../../../lib/db/db';
import type { TokenKind } from '../../../lib/db/schema';
import { checkConfirmationToken, confirmEmail, createConfirmation, issueConfirmation } from '../../../lib/tokens/confirmation';
import { issueToken } from '../../../lib/tokens/store';
import { listAudit } from '../../../lib/audit/audit';
import { ConflictError, NotFoundError } from '../../../lib/errors';

let h: DbHandle;
useOpenTestDatabase((_tdb, handle) => (h = handle));

const NOW = new Date('2026-03-10T12:00:00Z');
const DAY = 86400e3;
const at = (ms: number) => libContext(h, { now: () => new Date(NOW.getTime() + ms) });
const ctx = () => at(0);
const makeUser = (nickname: string, extra: Record<string, unknown> = {}) => createUserWithPassword(ctx(), nickname, extra);
const tokenRows = (userId: number, kind: TokenKind) => tokenRowsOf(h.db, userId, kind);

describe('email confirmation', () => {
  test('new --no-confirmed issues a token that confirmEmail accepts once', async () => {
    const created = await makeUser('carol', { confirmed: false });
    expect(created.confirmation).toMatchObject({ url: `http://ctl.test/verify/${created.confirmation!.token}`, expiresAt: new Date(NOW.getTime() + 7 * DAY) });
    expect(await checkConfirmationToken(h.db, created.confirmation!.token, NOW)).toEqual({ status: 'valid', nickname: 'carol' });
    expect(await confirmEmail(ctx(), created.confirmation!.token)).toEqual({ userId: created.user.id, nickname: 'carol' });
    expect((await h.db.selectFrom('users').select('confirmed').executeTakeFirstOrThrow()).confirmed).toBe(true);
    expect(await checkConfirmationToken(h.db, created.confirmation!.token, NOW)).toEqual({ status: 'used', nickname: 'carol' });
    await expect(confirmEmail(ctx(), created.confirmation!.token)).rejects.toThrow(new ConflictError('this email confirmation link was already used'));
    expect((await listAudit(h.db, { verb: 'confirm_email' })).map((a) => a.targetNickname)).toEqual(['carol']);
  });

  test('a confirmed user gets no token at all', async () => {
    const created = await makeUser('alice');
    expect(created.confirmation).toBeNull();
    expect(await tokenRows(created.user.id, 'email_confirmation')).toEqual([]);
  });

  test('tokens written by other verbs with issueConfirmation are consumed the same way; the rest are revoked', async () => {
    const { user } = await makeUser('dave', { confirmed: false });
    // What `set --no-confirmed` and `unconfirm_all` do: issue rows of the same kind in their own transaction.
    const a = await h.db.transaction().execute((trx) => issueConfirmation(trx, user.id, NOW, 3600e3));
    const b = await h.db.transaction().execute((trx) => issueToken(trx, { kind: 'email_confirmation', userId: user.id, now: NOW, ttlMs: null }));
    expect(a.expiresAt).toEqual(new Date(NOW.getTime() + 3600e3));
    expect(b.expiresAt).toBeNull();
    await confirmEmail(ctx(), b.token);
    expect(await checkConfirmationToken(h.db, a.token, NOW)).toMatchObject({ status: 'used' });
    expect((await tokenRows(user.id, 'email_confirmation')).every((r) => r.used_at !== null || r.revoked_at !== null)).toBe(true);
  });

  test('expired confirmation links are refused', async () => {
    const { confirmation } = await makeUser('erin', { confirmed: false });
    await expect(confirmEmail(at(7 * DAY), confirmation!.token)).rejects.toThrow(new ConflictError('this email confirmation link has expired'));
    expect((await h.db.selectFrom('users').select('confirmed').executeTakeFirstOrThrow()).confirmed).toBe(false);
  });

  test('send_confirmation: a fresh link for unconfirmed users; nothing for confirmed ones; exit 4 without an address', async () => {
    const { confirmation: first } = await makeUser('carol', { confirmed: false });
    const issued = await createConfirmation(ctx(), 'carol', TEST_SETTINGS);
    expect(issued.user.nickname).toBe('carol');
    expect(issued.confirmation?.url).toBe(`http://ctl.test/verify/${issued.confirmation?.token}`);
    // The earlier link still works until one of them is used.
    expect((await checkConfirmationToken(h.db, first!.token, NOW)).status).toBe('valid');
    await confirmEmail(ctx(), issued.confirmation!.token);
    expect((await checkConfirmationToken(h.db, first!.token, NOW)).status).toBe('used');

    await makeUser('alice');
    expect((await createConfirmation(ctx(), 'alice', TEST_SETTINGS)).confirmation).toBeNull();
    await h.db.insertInto('users').values({ nickname: 'noemail', name: 'n', confirmed: false }).execute();
    await expect(createConfirmation(ctx(), 'noemail', TEST_SETTINGS)).rejects.toThrow(new ConflictError('User noemail has no email address to confirm'));
    await expect(createConfirmation(ctx(), 'ghost', TEST_SETTINGS)).rejects.toThrow(new NotFoundError('No local user ghost'));
  });
});

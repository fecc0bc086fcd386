import { libContext, useOpenTestDatabase } from '../../helpers/backend';
import { seedUser } from '../../helpers/seed-users';
import type { DbHandle } from '../../../lib/db/db';
import { externalLogin, type ExternalProfile, type IdentitySettings } from '../../../lib/sso/identity';
import { AccountRefusedError, authenticate } from '../../../lib/auth/login';
import { listAudit } from '../../../lib/audit/audit';
import { adminExists } from '../../../lib/user/launchpad';

let h: DbHandle;
useOpenTestDatabase((_tdb, handle) => (h = handle));

const T0 = new Date('2030-01-10T12:00:00.000Z');
const ctx = () => libContext(h, { now: () => T0, actor: 'sso', reason: null });
const SETTINGS: IdentitySettings = { emailLinking: 'link', updateNamesOnLogin: false, requireConfirmation: false, sessionTtlMs: 3600e3 };
const ALICE: ExternalProfile = {
  provider: 'ldap',
  subject: 'uid=alice,ou=people,dc=example,dc=org',
  email: 'alice@example.org',
  emailVerified: true,
  username: 'alice',
  name: 'Alice Liddell',
  admin: null,
};
const user = (nickname: string) => h.db.selectFrom('users').selectAll().where('nickname', '=', nickname).executeTakeFirstOrThrow();
const identities = () => h.db.selectFrom('external_identities').select(['provider', 'subject', 'user_id']).orderBy('id').execute();
const audit = async () => (await listAudit(h.db)).map((a) => [a.verb, a.targetNickname, a.details]);

describe('externalLogin', () => {
  test('a first login creates the account just in time: no password hash, its provider recorded, confirmed, one audit row, a working session', async () => {
    const session = await externalLogin(ctx(), SETTINGS, ALICE);
    expect(session.outcome).toBe('created');
    expect(await user('alice')).toMatchObject({
      email: 'alice@example.org',
      name: 'Alice Liddell',
      password_hash: null,
      provider: 'ldap',
      confirmed: true,
      admin: false,
      last_login_at: T0,
    });
    expect(await identities()).toEqual([{ provider: 'ldap', subject: ALICE.subject, user_id: session.user.id }]);
    expect(await audit()).toEqual([['sso_create', 'alice', { provider: 'ldap', subject: ALICE.subject, admin: false }]]);
    expect((await authenticate(h.db, session.token, T0, SETTINGS))?.user.id).toBe(session.user.id);
  });

  test('a later login finds the account by (provider, subject), even after the directory changed the address', async () => {
    const first = await externalLogin(ctx(), SETTINGS, ALICE);
    const again = await externalLogin(ctx(), SETTINGS, { ...ALICE, email: 'alice.l@example.org' });
    expect(again).toMatchObject({ outcome: 'existing', user: { id: first.user.id, email: 'alice@example.org' } });
    expect(await audit()).toHaveLength(1);
  });

  test('an existing local account with the same verified address is linked, with an audit row; its reset links are revoked, its hash stays for when SSO is off', async () => {
    const id = await seedUser(h.db, { nickname: 'al', email: 'ALICE@example.org' });
    await h.db.updateTable('users').set({ password_hash: '$2b$04$abcdefghijklmnopqrstuu5ls9a6Ga3eEn/3g2yy8mkYBc0QEV1lG' }).where('id', '=', id).execute();
    await h.db
      .insertInto('tokens')
      .values({ kind: 'password_reset', token_hash: 'h'.repeat(64), user_id: id })
      .execute();
    const session = await externalLogin(ctx(), SETTINGS, ALICE);
    expect(session).toMatchObject({ outcome: 'linked', user: { id, nickname: 'al', provider: 'ldap' } });
    expect(await h.db.selectFrom('tokens').select('revoked_at').where('kind', '=', 'password_reset').execute()).toEqual([{ revoked_at: T0 }]);
    expect((await user('al')).password_hash).not.toBeNull();
    expect(await identities()).toEqual([{ provider: 'ldap', subject: ALICE.subject, user_id: id }]);
    expect(await audit()).toEqual([['sso_link', 'al', { provider: 'ldap', subject: ALICE.subject }]]);
  });

  test.each([
    ['linking is configured off', { emailLinking: 'refuse' as const }, {}, {}, /an administrator must link it/],
    ['the provider has not verified the address', {}, { emailVerified: false }, {}, /has not verified that address/],
    ['the existing account has not confirmed it', {}, {}, { confirmed: false }, /has not confirmed it/],
    ['the existing account signs in through another provider', {}, {}, { provider: 'oidc' as const }, /signs in through oidc/],
  ])('an existing account is not linked when %s: refused, nothing written', async (_why, settings, profile, holder, message) => {
    const id = await seedUser(h.db, { nickname: 'al', email: 'alice@example.org' });
    await h.db
      .updateTable('users')
      .set({ updated_at: T0, ...holder })
      .where('id', '=', id)
      .execute();
    const attempt = externalLogin(ctx(), { ...SETTINGS, ...settings }, { ...ALICE, ...profile });
    await expect(attempt).rejects.toThrow(AccountRefusedError);
    await expect(attempt).rejects.toThrow(message);
    expect(await identities()).toEqual([]);
    expect(await audit()).toEqual([]);
    expect((await user('al')).provider).toBe((holder as { provider?: string }).provider ?? 'local');
  });

  test.each([
    ['deactivated', { active: false }, 'This account has been deactivated'],
    ['deleted', { deleted_at: T0 }, 'This account has been deleted'],
  ])('a %s account stays refused whatever the provider says, found by subject or by address', async (_state, change, message) => {
    const session = await externalLogin(ctx(), SETTINGS, ALICE);
    await h.db.updateTable('users').set(change).where('id', '=', session.user.id).execute();
    await expect(externalLogin(ctx(), SETTINGS, { ...ALICE, admin: true })).rejects.toThrow(message);
    await expect(externalLogin(ctx(), SETTINGS, { ...ALICE, subject: 'uid=other,dc=example,dc=org' })).rejects.toThrow(message);
    expect((await user('alice')).admin).toBe(false);
    expect(await h.db.selectFrom('tokens').select('id').where('user_id', '=', session.user.id).execute()).toHaveLength(1);
  });

  test('the admin attribute is applied at every login: granted, then revoked, each with an audit row; null leaves it alone', async () => {
    // Another admin, so the revoke leaves one (the last one's is refused: below).
    await seedUser(h.db, { nickname: 'root', email: 'root@example.org', admin: true });
    const created = await externalLogin(ctx(), SETTINGS, { ...ALICE, admin: true });
    expect(created.user.admin).toBe(true);
    expect((await externalLogin(ctx(), SETTINGS, { ...ALICE, admin: null })).user.admin).toBe(true);
    expect((await externalLogin(ctx(), SETTINGS, { ...ALICE, admin: false })).user.admin).toBe(false);
    expect((await externalLogin(ctx(), SETTINGS, { ...ALICE, admin: true })).user.admin).toBe(true);
    expect((await audit()).map((a) => a[0])).toEqual(['sso_create', 'sso_revoke_admin', 'sso_grant_admin']);
  });

  test.each([
    ['by subject', {}],
    ['by address, linking a local admin', { subject: 'uid=alice2,ou=people,dc=example,dc=org' }],
  ])('the last active admin keeps the role when the provider says no (%s): signed in, an audit row, no launchpad reopened', async (_how, other) => {
    const created = await externalLogin(ctx(), SETTINGS, { ...ALICE, admin: true });
    if ('subject' in other) await h.db.deleteFrom('external_identities').execute();
    const session = await externalLogin(ctx(), SETTINGS, { ...ALICE, ...other, admin: false });
    expect(session.user).toMatchObject({ id: created.user.id, admin: true });
    expect(await adminExists(h.db)).toBe(true);
    expect((await audit()).filter((a) => String(a[0]).startsWith('sso_revoke'))).toEqual([
      ['sso_revoke_admin_refused', 'alice', { provider: 'ldap', subject: 'subject' in other ? other.subject : ALICE.subject, reason: 'last active admin' }],
    ]);
    // Once another admin is active, the provider's word applies again.
    await seedUser(h.db, { nickname: 'root', email: 'root@example.org', admin: true });
    expect((await externalLogin(ctx(), SETTINGS, { ...ALICE, ...other, admin: false })).user.admin).toBe(false);
  });

  test('names are refreshed from the provider only when configured', async () => {
    await externalLogin(ctx(), SETTINGS, ALICE);
    await externalLogin(ctx(), SETTINGS, { ...ALICE, name: 'Alice Pleasance Liddell' });
    expect((await user('alice')).name).toBe('Alice Liddell');
    await externalLogin(ctx(), { ...SETTINGS, updateNamesOnLogin: true }, { ...ALICE, name: 'Alice Pleasance Liddell' });
    expect((await user('alice')).name).toBe('Alice Pleasance Liddell');
  });

  test('a taken nickname gets the first free suffix; an unverified address makes an unconfirmed account, refused when confirmation is required', async () => {
    await seedUser(h.db, { nickname: 'alice', email: 'other@example.com' });
    await seedUser(h.db, { nickname: 'Alice-2', email: 'other2@example.com' });
    const made = await externalLogin(ctx(), SETTINGS, ALICE);
    expect(made.user.nickname).toBe('alice-3');
    const bob = { ...ALICE, subject: 'sub-bob', email: 'bob@example.org', username: 'bob', emailVerified: false };
    await expect(externalLogin(ctx(), { ...SETTINGS, requireConfirmation: true }, bob)).rejects.toThrow(/not confirmed/);
    expect(await h.db.selectFrom('users').select('id').where('nickname', '=', 'bob').execute()).toEqual([]);
    expect((await externalLogin(ctx(), SETTINGS, bob)).user).toMatchObject({ nickname: 'bob', confirmed: false });
  });

  test('two first logins at once make one account', async () => {
    const [a, b] = await Promise.all([externalLogin(ctx(), SETTINGS, ALICE), externalLogin(ctx(), SETTINGS, ALICE)]);
    expect(a.user.id).toBe(b.user.id);
    expect(await identities()).toHaveLength(1);
  });
});

import { issueToken } from '../../../lib/tokens/store';
import { hashToken } from '../../../lib/tokens/secrets';
import { endSession, issueSessionPair, rotateRefreshToken } from '../../../lib/auth/refresh-tokens';
import { NOW, useUserFixture } from '../../helpers/user-fixture';

const fx = useUserFixture();
const SETTINGS = { sessionTtlMs: 3600e3, refreshTtlMs: 7 * 86400e3, requireConfirmation: false };

async function signedIn() {
  await fx.seed({ nickname: 'alice', email: 'alice@example.com' });
  const user = await fx.user('alice');
  return fx
    .ctx()
    .db.transaction()
    .execute((trx) => issueSessionPair(trx, user, NOW, SETTINGS));
}

describe('rotateRefreshToken', () => {
  test('spends the token and issues the next pair in the same family; the old access token stops', async () => {
    const first = await signedIn();
    const next = await rotateRefreshToken(fx.ctx(), first.refreshToken, SETTINGS);
    expect(next).toMatchObject({ status: 'rotated', user: { nickname: 'alice' } });
    if (next.status !== 'rotated') throw new Error('not rotated');
    const tokens = await fx.ctx().db.selectFrom('tokens').selectAll().orderBy('id').execute();
    expect(new Set(tokens.map((t) => t.family)).size).toBe(1);
    expect(tokens.map((t) => [t.kind, t.token_hash, t.used_at !== null, t.revoked_at !== null])).toEqual([
      ['access', hashToken(first.token), false, true],
      ['refresh', hashToken(first.refreshToken), true, false],
      ['access', hashToken(next.token), false, false],
      ['refresh', hashToken(next.refreshToken), false, false],
    ]);
    expect(tokens[3].expires_at).toEqual(new Date(NOW.getTime() + SETTINGS.refreshTtlMs));
    expect(await fx.audit()).toEqual([]);
  });

  test('a spent token again revokes every live token of its family, audited; other families stay', async () => {
    const first = await signedIn();
    const user = await fx.user('alice');
    const other = await fx
      .ctx()
      .db.transaction()
      .execute((trx) => issueSessionPair(trx, user, NOW, SETTINGS));
    await rotateRefreshToken(fx.ctx(), first.refreshToken, SETTINGS);
    expect(await rotateRefreshToken(fx.ctx(), first.refreshToken, SETTINGS)).toEqual({ status: 'reused', revoked: 2 });
    const live = await fx.ctx().db.selectFrom('tokens').select('token_hash').where('revoked_at', 'is', null).where('used_at', 'is', null).execute();
    expect(live.map((t) => t.token_hash).sort()).toEqual([hashToken(other.token), hashToken(other.refreshToken)].sort());
    expect((await fx.audit()).map((r) => [r.verb, r.targetNickname, r.details])).toEqual([['refresh_reuse', 'alice', { revoked: 2 }]]);
  });

  test('expired, revoked, unknown, malformed, or an account that may no longer log in: invalid, nothing written', async () => {
    const first = await signedIn();
    const later = fx.ctx({ now: () => new Date(NOW.getTime() + SETTINGS.refreshTtlMs) });
    expect(await rotateRefreshToken(later, first.refreshToken, SETTINGS)).toEqual({ status: 'invalid' });
    expect(await rotateRefreshToken(fx.ctx(), 'A'.repeat(43), SETTINGS)).toEqual({ status: 'invalid' });
    expect(await rotateRefreshToken(fx.ctx(), 'short', SETTINGS)).toEqual({ status: 'invalid' });
    await fx.ctx().db.updateTable('users').set({ active: false }).execute();
    expect(await rotateRefreshToken(fx.ctx(), first.refreshToken, SETTINGS)).toEqual({ status: 'invalid' });
    await fx.ctx().db.updateTable('users').set({ active: true }).execute();
    await fx.ctx().db.updateTable('tokens').set({ revoked_at: NOW }).execute();
    expect(await rotateRefreshToken(fx.ctx(), first.refreshToken, SETTINGS)).toEqual({ status: 'invalid' });
    expect(await fx.ctx().db.selectFrom('tokens').select('id').where('used_at', 'is not', null).execute()).toEqual([]);
  });

  test('a long-lived family stays small: spent and revoked tokens go once expired', async () => {
    const short = { ...SETTINGS, sessionTtlMs: 3600e3, refreshTtlMs: 3600e3 };
    await fx.seed({ nickname: 'alice' });
    const user = await fx.user('alice');
    const first = await fx
      .ctx()
      .db.transaction()
      .execute((trx) => issueSessionPair(trx, user, NOW, short));
    let refreshToken = first.refreshToken;
    for (let k = 1; k <= 6; k++) {
      const at = new Date(NOW.getTime() + k * 50 * 60e3);
      const next = await rotateRefreshToken(fx.ctx({ now: () => at }), refreshToken, short);
      if (next.status !== 'rotated') throw new Error(`rotation ${k}: ${next.status}`);
      refreshToken = next.refreshToken;
    }
    // The last issuance (live) and the one before it (spent refresh, revoked access): nothing older.
    expect(await fx.tokens('refresh')).toHaveLength(2);
    expect(await fx.tokens('access')).toHaveLength(2);
  });

  test('a refresh token of no family (issued before families) is invalid', async () => {
    const id = (await fx.seed({ nickname: 'bob' }))[0];
    const orphan = await issueToken(fx.ctx().db, { kind: 'refresh', userId: id, now: NOW, ttlMs: 3600e3 });
    expect(await rotateRefreshToken(fx.ctx(), orphan.token, SETTINGS)).toEqual({ status: 'invalid' });
  });
});

test('endSession ends the access token and its family, not the user’s other sessions', async () => {
  const first = await signedIn();
  const user = await fx.user('alice');
  const other = await fx
    .ctx()
    .db.transaction()
    .execute((trx) => issueSessionPair(trx, user, NOW, SETTINGS));
  const row = await fx.ctx().db.selectFrom('tokens').select('id').where('token_hash', '=', hashToken(first.token)).executeTakeFirstOrThrow();
  await endSession(fx.ctx().db, row.id, NOW);
  const live = await fx.ctx().db.selectFrom('tokens').select('token_hash').where('revoked_at', 'is', null).execute();
  expect(live.map((t) => t.token_hash).sort()).toEqual([hashToken(other.token), hashToken(other.refreshToken)].sort());
});

import bcrypt from 'bcryptjs';
import { totpCode, totpStep } from '../../../lib/auth/mfa';
import { resetMfa } from '../../../lib/user/reset_mfa';
import { addUser, bearer, loginAs, useTestServer, type TestServer } from '../helpers';

let server: TestServer;
useTestServer((s) => (server = s), 'once');
beforeEach(() => {
  // A day later each test: the in-memory failed-login counts of the previous test are out of their window.
  server.clock = new Date(Date.parse('2026-06-01T12:00:00Z') + day++ * 86400e3);
});
let day = 0;

const post = (url: string, token: string | null, payload: object = {}) =>
  server.app.inject({ method: 'POST', url, headers: token ? bearer(token) : {}, payload });
const login = (payload: object) => post('/api/auth/login', null, payload);
const step = () => new Date(server.clock.getTime() + 30e3);

/** Enrols alice: returns her secret and backup codes, MFA in force. */
async function enrol(): Promise<{ secret: string; backupCodes: string[]; token: string }> {
  await addUser(server, { nickname: 'alice' });
  const token = await loginAs(server, 'alice');
  const res = await post('/api/auth/2fa/enable', token);
  expect(res.statusCode).toBe(200);
  const { secret, otpauthUrl, backupCodes } = res.json();
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);
  expect(otpauthUrl).toBe(`otpauth://totp/ctl.test:alice?issuer=ctl.test&secret=${secret}&algorithm=SHA1&digits=6&period=30`);
  expect(backupCodes).toHaveLength(10);
  const confirm = await post('/api/auth/2fa/confirm', token, { token: totpCode(secret, server.clock) });
  expect(confirm.statusCode).toBe(200);
  expect(confirm.json()).toEqual({ message: 'Two-factor authentication enabled', twoFactorEnabled: true });
  server.clock = step();
  return { secret, backupCodes, token };
}

describe('enrolment', () => {
  test('the secret is stored, the backup codes only as bcrypt hashes, and MFA is off until confirmed', async () => {
    const id = await addUser(server, { nickname: 'alice' });
    const token = await loginAs(server, 'alice');
    const { secret, backupCodes } = (await post('/api/auth/2fa/enable', token)).json();
    await server.withDb(async (db) => {
      const row = await db.selectFrom('users').select(['mfa_enabled', 'mfa_totp_secret', 'mfa_backup_codes']).where('id', '=', id).executeTakeFirstOrThrow();
      expect(row.mfa_enabled).toBe(false);
      expect(row.mfa_totp_secret).toBe(secret);
      expect(row.mfa_backup_codes).toHaveLength(10);
      expect(row.mfa_backup_codes.join(' ')).not.toContain(backupCodes[0]);
      expect(await bcrypt.compare(backupCodes[0].replace('-', ''), row.mfa_backup_codes[0])).toBe(true);
    });
    // Not confirmed yet: login needs no code.
    expect((await login({ login: 'alice', password: 'correct-horse' })).statusCode).toBe(200);
    const wrong = await post('/api/auth/2fa/confirm', token, { token: '000000' === totpCode(secret, server.clock) ? '111111' : '000000' });
    expect([wrong.statusCode, wrong.json()]).toEqual([400, { error: 'Bad Request', message: 'Invalid two-factor authentication code' }]);
    expect((await post('/api/auth/2fa/confirm', token, { token: totpCode(secret, server.clock) })).statusCode).toBe(200);
    expect((await server.app.inject({ method: 'GET', url: '/api/user', headers: bearer(token) })).json().twoFactorEnabled).toBe(true);
    // Enabling again re-enrols (LibreChat's client), which takes a current code.
    const twice = await post('/api/auth/2fa/enable', token);
    expect([twice.statusCode, twice.json()]).toEqual([
      400,
      { error: 'Bad Request', message: 'Two-factor authentication is on: send a current code (token or backupCode) to enrol again' },
    ]);
    await server.withDb(async (db) => {
      const verbs = (await db.selectFrom('audit_log').select('verb').orderBy('id').execute()).map((r) => r.verb);
      expect(verbs).toEqual(['new', 'mfa_begin', 'mfa_enable']);
      const details = JSON.stringify(await db.selectFrom('audit_log').select('details').execute());
      expect(details).not.toContain(secret);
    });
  });

  test('confirming without starting is 409', async () => {
    await addUser(server, { nickname: 'alice' });
    const token = await loginAs(server, 'alice');
    const res = await post('/api/auth/2fa/confirm', token, { token: '123456' });
    expect([res.statusCode, res.json().message]).toEqual([409, 'Start the enrolment first (POST /api/auth/2fa/enable)']);
  });
});

describe('login with MFA on', () => {
  test('no code: 401 with mfaRequired, and no failure counted', async () => {
    await enrol();
    for (let i = 0; i < 7; i++) {
      const res = await login({ login: 'alice', password: 'correct-horse' });
      expect([res.statusCode, res.json()]).toEqual([
        401,
        { error: 'Unauthorized', message: 'A two-factor authentication code is required', mfaRequired: true },
      ]);
    }
  });

  test('the right code logs in, the same code never twice, a wrong code is 401', async () => {
    const { secret } = await enrol();
    const code = totpCode(secret, server.clock);
    expect((await login({ login: 'alice', password: 'correct-horse', totp: code })).statusCode).toBe(200);
    const replay = await login({ login: 'alice', password: 'correct-horse', totp: code });
    expect([replay.statusCode, replay.json()]).toEqual([401, { error: 'Unauthorized', message: 'Invalid two-factor authentication code', mfaRequired: true }]);
    server.clock = step();
    expect((await login({ login: 'alice', password: 'correct-horse', totp: totpCode(secret, server.clock) })).statusCode).toBe(200);
    // A wrong password with a right code is still the password's 401, with no hint about MFA.
    server.clock = step();
    const badPassword = await login({ login: 'alice', password: 'wrong-horse', totp: totpCode(secret, server.clock) });
    expect(badPassword.json()).toEqual({ error: 'Unauthorized', message: 'Invalid login or password' });
  });

  test('a code one step old still works (clock drift); two steps old does not', async () => {
    const { secret } = await enrol();
    expect(totpStep(secret, totpCode(secret, new Date(server.clock.getTime() - 30e3)), server.clock)).not.toBeNull();
    expect((await login({ login: 'alice', password: 'correct-horse', totp: totpCode(secret, new Date(server.clock.getTime() - 60e3)) })).statusCode).toBe(401);
  });

  test('a backup code works once, typed in any case and with or without its dash', async () => {
    const { backupCodes } = await enrol();
    const typed = backupCodes[3].replace('-', '').toUpperCase();
    expect((await login({ login: 'alice', password: 'correct-horse', totp: typed })).statusCode).toBe(200);
    expect((await login({ login: 'alice', password: 'correct-horse', totp: backupCodes[3] })).statusCode).toBe(401);
    expect((await login({ login: 'alice', password: 'correct-horse', totp: backupCodes[4] })).statusCode).toBe(200);
    await server.withDb(async (db) =>
      expect((await db.selectFrom('users').select('mfa_backup_codes').executeTakeFirstOrThrow()).mfa_backup_codes).toHaveLength(8),
    );
  });

  test('wrong codes count as failed logins', async () => {
    await enrol();
    for (let i = 0; i < 5; i++) expect((await login({ login: 'alice', password: 'correct-horse', totp: '000001' })).statusCode).toBe(401);
    expect((await login({ login: 'alice', password: 'correct-horse', totp: '000002' })).statusCode).toBe(429);
  });

  test("reset_mfa (the CLI verb's lib function) lets a locked-out user back in with the password alone", async () => {
    await enrol();
    expect((await login({ login: 'alice', password: 'correct-horse' })).json().mfaRequired).toBe(true);
    await server.withDb((_db, ctx) => resetMfa(ctx, 'alice'));
    const res = await login({ login: 'alice', password: 'correct-horse' });
    expect(res.statusCode).toBe(200);
    expect(res.json().user.twoFactorEnabled).toBe(false);
  });
});

describe('disable and regenerate', () => {
  test('disable needs a valid code and clears everything', async () => {
    const { secret, token } = await enrol();
    expect((await post('/api/auth/2fa/disable', token, { token: '999999' === totpCode(secret, server.clock) ? '111111' : '999999' })).statusCode).toBe(400);
    const res = await post('/api/auth/2fa/disable', token, { token: totpCode(secret, server.clock) });
    expect([res.statusCode, res.json()]).toEqual([200, { message: 'Two-factor authentication disabled', twoFactorEnabled: false }]);
    await server.withDb(async (db) => {
      expect(await db.selectFrom('users').select(['mfa_enabled', 'mfa_totp_secret', 'mfa_backup_codes', 'mfa_last_step']).executeTakeFirstOrThrow()).toEqual({
        mfa_enabled: false,
        mfa_totp_secret: null,
        mfa_backup_codes: [],
        mfa_last_step: null,
      });
    });
    expect((await login({ login: 'alice', password: 'correct-horse' })).statusCode).toBe(200);
    expect((await post('/api/auth/2fa/disable', token, { token: '123456' })).statusCode).toBe(409);
  });

  test('regenerated backup codes replace the old ones', async () => {
    const { secret, backupCodes, token } = await enrol();
    const res = await post('/api/auth/2fa/backup/regenerate', token, { token: totpCode(secret, server.clock) });
    expect(res.statusCode).toBe(200);
    const fresh: string[] = res.json().backupCodes;
    expect(fresh).toHaveLength(10);
    expect(fresh).not.toContain(backupCodes[0]);
    expect((await login({ login: 'alice', password: 'correct-horse', totp: backupCodes[0] })).statusCode).toBe(401);
    expect((await login({ login: 'alice', password: 'correct-horse', totp: fresh[0] })).statusCode).toBe(200);
  });
});

// A sign-out (sign_out, deactivate, rm, a password reset, reset_mfa) locks the user row and then
// ends the user's pending two-factor logins; /api/auth/2fa/verify-temp must take the same two
// locks in the same order (the user, then the challenge), or the two deadlock: PostgreSQL then
// aborts one after deadlock_timeout, a 500 for the login or a failed sign-out.
import { Client } from 'pg';
import { totpCode } from '../../../lib/auth/mfa';
import { beginChallenge, completeChallenge } from '../../../lib/auth/two-factor-login';
import { LoginFailedError } from '../../../lib/auth/login';
import { useMfaRaceDatabase } from '../../helpers/mfa-race';
import { NOW } from '../../helpers/user-fixture';

const SETTINGS = { sessionTtlMs: 3600e3, refreshTtlMs: 86400e3, requireConfirmation: false, loginMaxFailures: 5, loginWindowMs: 15 * 60e3 };
const race = useMfaRaceDatabase();

test('a sign-out holding the user row ends the pending login while verify-temp waits: no deadlock, the code is refused', async () => {
  const { user, secret } = await race.enrolAlice();
  const temp = await beginChallenge(race.ctx(), user);

  // The sign-out's transaction, paused between its two steps: the user row locked first.
  const signOut = new Client({ connectionString: race.tdb.url! });
  await signOut.connect();
  try {
    await signOut.query('BEGIN');
    await signOut.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [user.id]);
    const verify = completeChallenge(race.ctx(), race.pool, temp, totpCode(secret, new Date(NOW.getTime() + 30e3)), SETTINGS).then(
      () => 'session issued',
      (error: unknown) => error,
    );
    await race.untilWaiting(1);
    // Then what it ends: the pending login. Before, verify-temp held this row's lock here.
    const ended = await signOut.query('DELETE FROM two_factor_challenges WHERE user_id = $1', [user.id]);
    expect(ended.rowCount).toBe(1);
    await signOut.query('COMMIT');
    const outcome = await verify;
    expect(outcome).toBeInstanceOf(LoginFailedError);
    expect((outcome as Error).message).toBe('Invalid or expired two-factor login; log in again');
  } finally {
    await signOut.end();
  }
});

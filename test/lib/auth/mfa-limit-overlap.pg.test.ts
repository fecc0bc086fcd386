// A TOTP guess and a backup code sent at the same moment must not pass the wrong-code limit together
// (lib/auth/second-factor-limit.ts): the TOTP check holds the limiter's lock from its check to its
// commit, so the backup code's attempt is counted after it and sees the limit reached.
import { Client } from 'pg';
import { disableMfa, totpCode } from '../../../lib/auth/mfa';
import { SecondFactorLimitError } from '../../../lib/auth/second-factor-limit';
import { useMfaRaceDatabase } from '../../helpers/mfa-race';
import { NOW } from '../../helpers/user-fixture';

const LIMITS = { maxFailures: 3, windowMs: 15 * 60e3 };
const race = useMfaRaceDatabase();

/** A settled promise's outcome, to compare after the test has let it go. */
const outcome = <T>(p: Promise<T>) =>
  p.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );

test.each([
  ['TOTP code', 'backup code'],
  ['backup code', 'TOTP code'],
])('at one below the limit, a wrong %s and then a wrong %s at once: the first counted, the second refused', async (first) => {
  const {
    user: { id },
    secret,
  } = await race.enrolAlice();
  const { ctx, pool } = race;
  for (let i = 0; i < LIMITS.maxFailures - 1; i++) expect(await disableMfa(ctx(), pool, id, 'aaaaa-aaaaa', LIMITS)).toBe(false);
  // A code from a day earlier: six digits, and wrong now.
  const codes = { 'TOTP code': totpCode(secret, new Date(NOW.getTime() - 86400e3)), 'backup code': 'bbbbb-bbbbb' };
  const [firstCode, secondCode] = first === 'TOTP code' ? [codes['TOTP code'], codes['backup code']] : [codes['backup code'], codes['TOTP code']];

  // The test holds back every count (an INSERT into login_limits waits for its SHARE lock), so the
  // first code has passed its check and waits to count when the second arrives.
  const holder = new Client({ connectionString: race.tdb.url! });
  await holder.connect();
  try {
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE login_limits IN SHARE MODE');
    const one = outcome(disableMfa(ctx(), pool, id, firstCode, LIMITS));
    await race.untilWaiting(1);
    const two = outcome(disableMfa(ctx(), pool, id, secondCode, LIMITS));
    // The second waits too: for the limiter lock the first holds (or, without it, to count).
    await race.untilWaiting(2);
    await holder.query('COMMIT');
    expect(await one).toEqual({ value: false });
    const second = await two;
    expect('error' in second && second.error).toBeInstanceOf(SecondFactorLimitError);
  } finally {
    await holder.end();
  }
  const counted = await race.handle.db.selectFrom('login_limits').select('key').where('key', 'like', 'second-factor:%').execute();
  expect(counted).toHaveLength(LIMITS.maxFailures);
});

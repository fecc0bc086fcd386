// login() in lib/auth/login.ts, where the HTTP routes' tests do not reach: the throttle's bound on
// hashing under way, and the re-hash when CTL_BCRYPT_COST rose.
import { createHashPool, type HashPool } from '../../../lib/auth/hash-pool';
import { login, LoginFailedError } from '../../../lib/auth/login';
import { LoginThrottle } from '../../../lib/auth/login-throttle';
import { beginMfa, confirmMfa, totpCode } from '../../../lib/auth/mfa';
import { OverloadedError, PasswordChecks } from '../../../lib/auth/password-checks';
import { costOf, hashPassword } from '../../../lib/auth/passwords';
import bcrypt from 'bcryptjs';
import { NOW, useUserFixture } from '../../helpers/user-fixture';

const fx = useUserFixture();
let pool: HashPool;
beforeAll(() => {
  pool = createHashPool(2);
});
afterAll(() => pool.close());

const SETTINGS = { bcryptCost: 4, sessionTtlMs: 3600e3, requireConfirmation: false };
/** 'aaaaa-aaaaa' as the compares see it. */
const BACKUP_ATTEMPT = 'aaaaaaaaaa';

// The bound (maxActive, the 503) covers a login's backup-code compares too: ten bcrypt compares,
// more work than its password check.
test('while one login compares a backup code, a second login past the bound of one is refused with 503', async () => {
  await fx.seed({ nickname: 'alice', email: 'alice@example.com', password_hash: await hashPassword('right-password', 4) });
  const { id } = await fx.user('alice');
  const enrolment = await beginMfa(fx.ctx(), pool, id, { bcryptCost: 4, issuer: 'test' });
  expect(await confirmMfa(fx.ctx(), id, totpCode(enrolment.secret, NOW))).toBe(true);

  // The real pool; the backup code's compares are held until the second login has been answered.
  let reached: () => void = () => undefined;
  const compareStarted = new Promise<void>((resolve) => (reached = resolve));
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const held: HashPool = {
    size: pool.size,
    hash: (password, cost) => pool.hash(password, cost),
    hashMany: (passwords, cost) => pool.hashMany(passwords, cost),
    close: () => pool.close(),
    verify: async (password, hash) => {
      if (password === BACKUP_ATTEMPT) {
        reached();
        await gate;
      }
      return pool.verify(password, hash);
    },
  };
  const throttle = new LoginThrottle({ maxPerAccount: 10, maxPerAddress: 10, windowMs: 60e3, passwords: new PasswordChecks(held), maxActive: 1 });

  const first = login(fx.ctx(), SETTINGS, throttle, { login: 'alice', password: 'right-password', totp: 'aaaaa-aaaaa', address: '127.0.0.1' });
  const firstOutcome = first.then(
    () => 'signed in',
    (error: unknown) => error,
  );
  await compareStarted;
  const second = await login(fx.ctx(), SETTINGS, throttle, { login: 'alice', password: 'another-guess', address: '127.0.0.2' }).then(
    () => 'signed in',
    (error: unknown) => error,
  );
  open();
  expect(second).toBeInstanceOf(OverloadedError);
  // The first went on: a wrong backup code.
  const outcome = await firstOutcome;
  expect(outcome).toBeInstanceOf(LoginFailedError);
  expect((outcome as LoginFailedError).message).toBe('Invalid two-factor authentication code');
});

test('a password set before the rules (5 characters) still signs in when the cost has risen, and is re-hashed', async () => {
  // As a table shared with another app, or a rule made stricter, can leave it: the rules are for new passwords.
  await fx.seed({ nickname: 'old', email: 'old@example.com', password_hash: await bcrypt.hash('short', 4) });
  const throttle = new LoginThrottle({ maxPerAccount: 10, maxPerAddress: 10, windowMs: 60e3, passwords: new PasswordChecks(pool) });
  const session = await login(fx.ctx(), { ...SETTINGS, bcryptCost: 5 }, throttle, { login: 'old', password: 'short', address: '127.0.0.1' });
  expect(session.user.nickname).toBe('old');
  expect(costOf((await fx.user('old')).password_hash!)).toBe(5);
  expect(await bcrypt.compare('short', (await fx.user('old')).password_hash!)).toBe(true);
});

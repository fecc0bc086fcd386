// Backup codes are compared on the hash pool before the user row is locked (lib/auth/mfa.ts): the
// wrong-code limit must still bound that work, as it did when the compares ran under the lock.
import { createHashPool, type HashPool } from '../../../lib/auth/hash-pool';
import { beginMfa, confirmMfa, disableMfa, regenerateBackupCodes, totpCode } from '../../../lib/auth/mfa';
import { beginChallenge, completeChallenge } from '../../../lib/auth/two-factor-login';
import { SecondFactorLimitError } from '../../../lib/auth/second-factor-limit';
import { NOW, useUserFixture } from '../../helpers/user-fixture';

const fx = useUserFixture();
const LIMITS = { maxFailures: 3, windowMs: 15 * 60e3 };
let pool: HashPool;
let compares = 0;
let hashed = 0;
// The real pool, counting what it is asked to compare.
const counted = () => ({
  verify: (password: string, hash: string) => {
    compares += 1;
    return pool.verify(password, hash);
  },
  hashMany: (passwords: readonly string[], cost: number) => {
    hashed += passwords.length;
    return pool.hashMany(passwords, cost);
  },
});

beforeAll(() => {
  pool = createHashPool(2);
});
afterAll(() => pool.close());
beforeEach(() => {
  compares = 0;
  hashed = 0;
});
const SESSION = { sessionTtlMs: 3600e3, refreshTtlMs: 7 * 86400e3, requireConfirmation: false };
/** The wrong second-factor codes counted for the account now. */
const wrongCodesCounted = async () =>
  (await fx.ctx().db.selectFrom('login_limits').select('key').execute()).filter((r) => r.key.startsWith('second-factor:')).length;

async function aliceWithMfa(): Promise<{ id: number; codes: readonly string[] }> {
  await fx.seed({ nickname: 'alice', email: 'alice@example.com' });
  const { id } = await fx.user('alice');
  const enrolment = await beginMfa(fx.ctx(), counted(), id, { bcryptCost: 4, issuer: 'test' });
  expect(await confirmMfa(fx.ctx(), id, totpCode(enrolment.secret, NOW))).toBe(true);
  compares = 0;
  return { id, codes: enrolment.backupCodes };
}

describe('backup codes compared before the lock', () => {
  test('12 wrong codes at once with a limit of 3: 3 are compared (10 hashes each), 9 refused before any compare', async () => {
    const { id } = await aliceWithMfa();
    const outcomes = await Promise.allSettled(Array.from({ length: 12 }, () => disableMfa(fx.ctx(), counted(), id, 'aaaaa-aaaaa', LIMITS)));
    const wrong = outcomes.filter((o) => o.status === 'fulfilled' && o.value === false).length;
    const refused = outcomes.filter((o) => o.status === 'rejected' && o.reason instanceof SecondFactorLimitError).length;
    expect([wrong, refused]).toEqual([3, 9]);
    expect(compares).toBe(30);
  });

  test('a right code gives its counted attempt back: three right codes after two wrong ones all work', async () => {
    const { id, codes } = await aliceWithMfa();
    for (let i = 0; i < 2; i++) expect(await disableMfa(fx.ctx(), counted(), id, 'aaaaa-aaaaa', LIMITS)).toBe(false);
    // disableMfa turns MFA off on success: enrol again each time, keeping the wrong-code count.
    expect(await disableMfa(fx.ctx(), counted(), id, codes[0], LIMITS)).toBe(true);
    for (let round = 0; round < 2; round++) {
      const again = await beginMfa(fx.ctx(), counted(), id, { bcryptCost: 4, issuer: 'test' });
      expect(await confirmMfa(fx.ctx(), id, totpCode(again.secret, NOW))).toBe(true);
      expect(await disableMfa(fx.ctx(), counted(), id, again.backupCodes[0], LIMITS)).toBe(true);
    }
    // Two wrong codes counted, the right ones not: one more wrong code is still allowed, then none.
    const fresh = await beginMfa(fx.ctx(), counted(), id, { bcryptCost: 4, issuer: 'test' });
    expect(await confirmMfa(fx.ctx(), id, totpCode(fresh.secret, NOW))).toBe(true);
    expect(await disableMfa(fx.ctx(), counted(), id, 'bbbbb-bbbbb', LIMITS)).toBe(false);
    await expect(disableMfa(fx.ctx(), counted(), id, 'ccccc-ccccc', LIMITS)).rejects.toBeInstanceOf(SecondFactorLimitError);
  });

  test('a right code on a challenge already used (a double click) is refused and not counted as a wrong one', async () => {
    const { codes } = await aliceWithMfa();
    const user = await fx.user('alice');
    const temp = await beginChallenge(fx.ctx(), user);
    const settings = { ...SESSION, loginMaxFailures: LIMITS.maxFailures, loginWindowMs: LIMITS.windowMs };
    const outcomes = await Promise.allSettled([0, 1].map(() => completeChallenge(fx.ctx(), counted(), temp, codes[3], settings)));
    expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(await wrongCodesCounted()).toBe(0);
    // A wrong code on a live challenge is counted, as before.
    const again = await beginChallenge(fx.ctx(), user);
    await expect(completeChallenge(fx.ctx(), counted(), again, 'aaaaa-aaaaa', settings)).rejects.toThrow('Invalid two-factor authentication code');
    expect(await wrongCodesCounted()).toBe(1);
  });

  test('a code compared while another sender used the challenge is no guess: refused, not counted', async () => {
    // The double click above when the second sender reads the codes after the first consumed its
    // own: it then matches none, as a wrong code. The challenge is dead by its verdict, so nothing
    // was judged (as when it finds the challenge dead at once) and its attempt is given back.
    const { codes } = await aliceWithMfa();
    const user = await fx.user('alice');
    const temp = await beginChallenge(fx.ctx(), user);
    const settings = { ...SESSION, loginMaxFailures: LIMITS.maxFailures, loginWindowMs: LIMITS.windowMs };
    let first: Promise<unknown> | null = null;
    const racing = {
      verify: async (password: string, hash: string) => {
        first ??= completeChallenge(fx.ctx(), counted(), temp, codes[3], settings);
        await first;
        return pool.verify(password, hash);
      },
    };
    await expect(completeChallenge(fx.ctx(), racing, temp, 'aaaaa-aaaaa', settings)).rejects.toBeInstanceOf(Error);
    await expect(first).resolves.toMatchObject({ user: { nickname: 'alice' } });
    expect(await wrongCodesCounted()).toBe(0);
  });

  test('new backup codes asked for with a TOTP code at the limit: refused before any is hashed', async () => {
    const { id } = await aliceWithMfa();
    for (let i = 0; i < LIMITS.maxFailures; i++) expect(await disableMfa(fx.ctx(), counted(), id, 'aaaaa-aaaaa', LIMITS)).toBe(false);
    hashed = 0;
    await expect(regenerateBackupCodes(fx.ctx(), counted(), id, '123456', { bcryptCost: 4, issuer: 'test' }, LIMITS)).rejects.toBeInstanceOf(
      SecondFactorLimitError,
    );
    expect(hashed).toBe(0);
  });
});

// Backup codes are compared on the hash pool before the user row is locked (lib/auth/mfa.ts): the
// wrong-code limit must still bound that work, as it did when the compares ran under the lock.
import { createHashPool, type HashPool } from '../../../lib/auth/hash-pool';
import { beginMfa, confirmMfa, disableMfa, totpCode } from '../../../lib/auth/mfa';
import { SecondFactorLimitError } from '../../../lib/auth/second-factor-limit';
import { NOW, useUserFixture } from '../../helpers/user-fixture';

const fx = useUserFixture();
const LIMITS = { maxFailures: 3, windowMs: 15 * 60e3 };
let pool: HashPool;
let compares = 0;
// The real pool, counting what it is asked to compare.
const counted = () => ({
  verify: (password: string, hash: string) => {
    compares += 1;
    return pool.verify(password, hash);
  },
  hashMany: (passwords: readonly string[], cost: number) => pool.hashMany(passwords, cost),
});

beforeAll(() => {
  pool = createHashPool(2);
});
afterAll(() => pool.close());
beforeEach(() => {
  compares = 0;
});

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
});
